#include "io/cleanup.h"

#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstring>
#include <mutex>

namespace zm::io::cleanup {
namespace {

// A fixed table, so that the handler touches no heap and calls only async-signal-safe functions
// (unlink, ftruncate, fsync, signal, raise).
enum State : int { free_slot, filling, unlink_file, truncate_file };
struct Slot {
  std::atomic<int> state{free_slot};
  char path[4096];
  int fd = -1;
  off_t length = 0;
};
constexpr int kSlots = 32;
Slot g_slots[kSlots];

extern "C" void on_signal(int sig) {
  for (auto& s : g_slots) {
    int st = s.state.load();
    if (st == unlink_file) {
      ::unlink(s.path);
    } else if (st == truncate_file) {
      (void)!::ftruncate(s.fd, s.length);
      ::fsync(s.fd);
    }
  }
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

int claim() {
  install();
  for (int i = 0; i < kSlots; ++i) {
    int expected = free_slot;
    if (g_slots[i].state.compare_exchange_strong(expected, filling)) return i;
  }
  return -1;
}

}  // namespace

void install() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
      // A signal ignored by whoever started us (nohup) stays ignored.
      struct sigaction old {};
      ::sigaction(sig, nullptr, &old);
      if (old.sa_handler != SIG_IGN) ::sigaction(sig, &sa, nullptr);
    }
    ::signal(SIGXFSZ, SIG_IGN);
  });
}

int add_file(const std::string& path) {
  if (path.size() >= sizeof(Slot::path)) return -1;
  int i = claim();
  if (i < 0) return -1;
  std::memcpy(g_slots[i].path, path.c_str(), path.size() + 1);
  g_slots[i].state.store(unlink_file);
  return i;
}

int add_truncate(int fd, off_t length) {
  int i = claim();
  if (i < 0) return -1;
  g_slots[i].fd = fd;
  g_slots[i].length = length;
  g_slots[i].state.store(truncate_file);
  return i;
}

namespace {
sigset_t cleanup_signals() {
  sigset_t s;
  sigemptyset(&s);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&s, sig);
  return s;
}
}  // namespace

Hold::Hold() {
  sigset_t s = cleanup_signals();
  ::pthread_sigmask(SIG_BLOCK, &s, &old_);
}

Hold::~Hold() { ::pthread_sigmask(SIG_SETMASK, &old_, nullptr); }

void block_in_this_thread() {
  sigset_t s = cleanup_signals();
  ::pthread_sigmask(SIG_BLOCK, &s, nullptr);
}

void release(int slot) {
  if (slot >= 0 && slot < kSlots) g_slots[slot].state.store(free_slot);
}

}  // namespace zm::io::cleanup
