#include "io/spill.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace zm::io {

namespace {
constexpr std::size_t kBuffer = 1u << 20;
}

TempFile Spill::create(const std::string& stem, const std::string& owner) {
  try {
    return TempFile(std::string(), stem);
  } catch (const IoError& e) {
    throw IoError(owner + ": " + e.what());
  }
}

void Spill::fail(const char* doing) const {
  throw IoError(owner_ + ": " + temp_dir() + ": cannot " + doing + " a temporary file: " + std::strerror(errno));
}

Spill::Spill(const std::string& stem, std::string owner) : owner_(std::move(owner)), file_(create(stem, owner_)) {
  // The path is not needed again: unlinked now, the file cannot be left behind by a crash.
  ::unlink(file_.path().c_str());
  buf_.reserve(kBuffer);
}

std::uint64_t Spill::append(std::string_view bytes) {
  const std::uint64_t at = size();
  if (buf_.size() + bytes.size() > kBuffer) flush();
  if (bytes.size() >= kBuffer) {
    for (std::size_t done = 0; done < bytes.size();) {
      ssize_t n = ::pwrite(file_.fd(), bytes.data() + done, bytes.size() - done, off_t(flushed_));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) fail("write");
      done += std::size_t(n);
      flushed_ += std::uint64_t(n);
    }
    return at;
  }
  buf_.append(bytes);
  return at;
}

void Spill::flush() {
  for (std::size_t done = 0; done < buf_.size();) {
    ssize_t n = ::pwrite(file_.fd(), buf_.data() + done, buf_.size() - done, off_t(flushed_ + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail("write");
    done += std::size_t(n);
  }
  flushed_ += buf_.size();
  buf_.clear();
}

std::size_t Spill::read_some(std::uint64_t offset, std::span<std::uint8_t> out) {
  if (offset >= size() || out.empty()) return 0;
  if (offset >= flushed_) {
    std::size_t n = std::min<std::size_t>(out.size(), std::size_t(size() - offset));
    std::memcpy(out.data(), buf_.data() + (offset - flushed_), n);
    return n;
  }
  std::size_t want = std::size_t(std::min<std::uint64_t>(out.size(), flushed_ - offset));
  for (;;) {
    ssize_t n = ::pread(file_.fd(), out.data(), want, off_t(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail("read back");
    return std::size_t(n);
  }
}

}  // namespace zm::io
