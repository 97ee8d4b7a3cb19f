#include "io/spill.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace zm::io {

Spill::Spill(std::string owner, std::size_t in_memory) : owner_(std::move(owner)), in_memory_(in_memory) {}

Spill::~Spill() {
  if (fd_ >= 0) ::close(fd_);
}

void Spill::put(const void* p, std::size_t n) {
  auto b = static_cast<const std::uint8_t*>(p);
  if (fd_ < 0) {
    mem_.insert(mem_.end(), b, b + n);
    if (mem_.size() >= in_memory_ && !no_file_) to_file();
    return;
  }
  buf_.insert(buf_.end(), b, b + n);
  if (buf_.size() >= kBuffer) flush();
}

void Spill::flush() {
  if (fd_ < 0 || buf_.empty()) return;
  write_all(buf_.data(), buf_.size());
  buf_.clear();
}

std::size_t Spill::read_some(std::uint64_t offset, std::span<std::uint8_t> buf) {
  if (fd_ < 0) {
    if (offset >= mem_.size()) return 0;
    const std::size_t n = std::size_t(std::min<std::uint64_t>(buf.size(), mem_.size() - offset));
    std::memcpy(buf.data(), mem_.data() + offset, n);
    return n;
  }
  flush();
  if (offset >= written_ || buf.empty()) return 0;
  for (;;) {
    ssize_t n = ::pread(fd_, buf.data(), std::size_t(std::min<std::uint64_t>(buf.size(), written_ - offset)),
                        off_t(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw Failure(Fail::cannot_read, fmt::format("{}: cannot read the temporary file in {}: {}", owner_, dir_, std::strerror(errno)));
    return std::size_t(n);
  }
}

void Spill::to_file() {
  const char* env = std::getenv("TMPDIR");
  dir_ = env && *env ? env : "/tmp";
  // Unnamed from the start (O_TMPFILE), or unlinked at once: a crash leaves nothing behind.
  fd_ = ::open(dir_.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd_ < 0) {  // a file system without O_TMPFILE
    std::string name = dir_ + "/zipmedic-XXXXXX";
    fd_ = ::mkostemp(name.data(), O_CLOEXEC);
    if (fd_ >= 0) ::unlink(name.c_str());
  }
  if (fd_ < 0) {
    no_file_ = true;
    return;
  }
  write_all(mem_.data(), mem_.size());
  std::vector<std::uint8_t>().swap(mem_);
  buf_.reserve(kBuffer);
}

void Spill::write_all(const std::uint8_t* p, std::size_t len) {
  std::size_t done = 0;
  while (done < len) {
    ssize_t n = ::pwrite(fd_, p + done, len - done, off_t(written_ + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0)
      throw Failure(Fail::cannot_write, fmt::format("{}: cannot write the temporary file in {} (set TMPDIR to a directory with room): {}",
                                owner_, dir_, n < 0 ? std::strerror(errno) : "no progress"));
    done += std::size_t(n);
  }
  written_ += len;
}

}  // namespace zm::io
