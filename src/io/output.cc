#include "io/output.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <random>

#include "io/source.h"

namespace zm::io {
namespace {

void write_all(int fd, std::string_view data, const std::string& what) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      throw IoError(what + ": write failed: " + std::strerror(errno));
    }
    data.remove_prefix(std::size_t(n));
  }
}

std::string dir_of(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

void fsync_dir(const std::string& path) {
  int d = ::open(dir_of(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (d >= 0) {
    ::fsync(d);
    ::close(d);
  }
}

// State for the signal handler of the one in-place append that may run at a time.
std::atomic<int> g_append_fd{-1};
std::atomic<off_t> g_append_len{0};
struct sigaction g_old[3];
constexpr int kSignals[3] = {SIGINT, SIGTERM, SIGHUP};

extern "C" void on_fatal_signal(int sig) {
  int fd = g_append_fd.load();
  if (fd >= 0) {
    (void)!::ftruncate(fd, g_append_len.load());
    ::fsync(fd);
  }
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

}  // namespace

AtomicOutputFile::AtomicOutputFile(const std::string& target) : target_(target) {
  std::random_device rd;
  for (int tries = 0; tries < 16 && fd_ < 0; ++tries) {
    temp_ = target + ".zipmedic-tmp-" + std::to_string(rd() % 1000000);
    fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd_ < 0 && errno != EEXIST) break;
  }
  if (fd_ < 0) throw IoError(target + ": cannot create a temporary file beside it: " + std::strerror(errno));
}

AtomicOutputFile::~AtomicOutputFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(temp_.c_str());
}

void AtomicOutputFile::write(std::string_view data) {
  write_all(fd_, data, temp_);
  written_ += data.size();
}

void AtomicOutputFile::commit() {
  if (::fsync(fd_) != 0) throw IoError(temp_ + ": fsync failed: " + std::strerror(errno));
  if (::close(fd_) != 0) {
    fd_ = -1;
    throw IoError(temp_ + ": close failed: " + std::strerror(errno));
  }
  fd_ = -1;
  if (::rename(temp_.c_str(), target_.c_str()) != 0)
    throw IoError(target_ + ": cannot rename the temporary file into place: " + std::strerror(errno));
  committed_ = true;
  fsync_dir(target_);
}

InPlaceAppender::InPlaceAppender(const std::string& path) : path_(path) {
  fd_ = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd_ < 0) throw IoError(path + ": cannot open for appending: " + std::strerror(errno));
  struct stat st {};
  ::fstat(fd_, &st);
  original_ = std::uint64_t(st.st_size);
  // A file-size limit must surface as EFBIG from write(), not kill us before we can truncate.
  ::signal(SIGXFSZ, SIG_IGN);
  g_append_len = off_t(original_);
  g_append_fd = fd_;
  struct sigaction sa {};
  sa.sa_handler = on_fatal_signal;
  sigemptyset(&sa.sa_mask);
  for (int i = 0; i < 3; ++i) ::sigaction(kSignals[i], &sa, &g_old[i]);
}

InPlaceAppender::~InPlaceAppender() {
  if (!done_) rollback();
  if (fd_ >= 0) ::close(fd_);
}

void InPlaceAppender::write(std::string_view data) {
  // pwrite at an explicit offset: nothing before original_ can ever be touched.
  std::uint64_t off = original_ + written_;
  while (!data.empty()) {
    ssize_t n = ::pwrite(fd_, data.data(), data.size(), off_t(off));
    if (n < 0) {
      if (errno == EINTR) continue;
      throw IoError(path_ + ": append failed at offset " + std::to_string(off) + ": " + std::strerror(errno));
    }
    data.remove_prefix(std::size_t(n));
    off += std::uint64_t(n);
    written_ += std::uint64_t(n);
  }
}

void InPlaceAppender::commit() {
  if (::fsync(fd_) != 0) throw IoError(path_ + ": fsync failed: " + std::strerror(errno));
  done_ = true;
  g_append_fd = -1;
  for (int i = 0; i < 3; ++i) ::sigaction(kSignals[i], &g_old[i], nullptr);
}

void InPlaceAppender::rollback() {
  g_append_fd = -1;
  if (fd_ >= 0) {
    (void)!::ftruncate(fd_, off_t(original_));
    ::fsync(fd_);
  }
  done_ = true;
  for (int i = 0; i < 3; ++i) ::sigaction(kSignals[i], &g_old[i], nullptr);
}

}  // namespace zm::io
