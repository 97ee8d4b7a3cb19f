#include "report/progress.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include <fmt/format.h>

namespace zm::report {

Progress::Progress(bool enabled, std::uint64_t total) : total_(total) {
  active_ = enabled && ::isatty(STDERR_FILENO) && total > 0;
  if (active_) thread_ = std::thread([this] { run(); });
}

Progress::~Progress() { finish(); }

void Progress::finish() {
  if (!active_) return;
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  std::fputs("\r\033[K", stderr);
  std::fflush(stderr);
  active_ = false;
}

void Progress::run() {
  using clock = std::chrono::steady_clock;
  auto start = clock::now();
  // Short runs draw nothing; ZIPMEDIC_PROGRESS_AFTER moves the threshold (the slow test's 4 GiB of
  // zeros decodes in well under half a second on a fast core).
  double after = 0.5;
  if (const char* env = std::getenv("ZIPMEDIC_PROGRESS_AFTER"); env && *env) after = std::atof(env);
  while (!stop_) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    double secs = std::chrono::duration<double>(clock::now() - start).count();
    std::uint64_t done = std::min<std::uint64_t>(done_.load(), total_);
    if (secs < after) continue;
    double rate = done / secs;
    double left = rate > 0 ? (total_ - done) / rate : 0;
    fmt::print(stderr, "\r\033[K{:5.1f}%  {} of {} MiB  {:.0f} MiB/s  {:.0f} s left", 100.0 * done / total_,
               done >> 20, total_ >> 20, rate / (1 << 20), left);
    std::fflush(stderr);
  }
}

}  // namespace zm::report
