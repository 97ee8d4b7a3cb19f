#include "io/source.h"

#define _GNU_SOURCE 1
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <algorithm>
#include <iterator>

#include "io/digest.h"

namespace zm::io {

std::size_t ByteSource::read_at(std::uint64_t offset, std::span<std::uint8_t> buf) {
  std::size_t got = 0;
  while (got < buf.size()) {
    std::size_t n = read_some(offset + got, buf.subspan(got));
    if (n == 0) break;
    got += n;
  }
  return got;
}

std::vector<std::uint8_t> ByteSource::read_vec(std::uint64_t offset, std::size_t n) {
  std::vector<std::uint8_t> v(n);
  v.resize(read_at(offset, v));
  return v;
}

FileSource::FileSource(const std::string& path) : path_(path) {
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) throw Failure(Fail::cannot_open, path + ": cannot open: " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd_, &st) != 0) throw Failure(Fail::cannot_open, path + ": cannot stat: " + std::strerror(errno));
  if (S_ISDIR(st.st_mode)) {
    ::close(fd_);
    fd_ = -1;
    throw Failure(Fail::cannot_open, path + ": is a directory");
  }
  size_ = std::uint64_t(st.st_size);
  ::posix_fadvise(fd_, 0, 0, POSIX_FADV_SEQUENTIAL);
}

FileSource::~FileSource() {
  if (fd_ >= 0) ::close(fd_);
}

std::size_t FileSource::read_some(std::uint64_t offset, std::span<std::uint8_t> buf) {
  if (offset >= size_ || buf.empty()) return 0;
  std::size_t want = std::min<std::uint64_t>(buf.size(), size_ - offset);
  for (;;) {
    ssize_t n = ::pread(fd_, buf.data(), want, off_t(offset));
    if (n > 0) return std::size_t(n);
    if (n == 0) {
      // The end came before the size the file had when it was opened: it was cut while being
      // read. Judged as it stands it would look damaged; it is not the archive that was opened.
      struct stat st {};
      std::uint64_t now = ::fstat(fd_, &st) == 0 ? std::uint64_t(st.st_size) : offset;
      throw Failure(Fail::cannot_read, path_ + ": cannot read the archive at offset " + std::to_string(offset) +
                                           ": the file shrank from " + std::to_string(size_) + " to " +
                                           std::to_string(now) + " bytes while it was being read");
    }
    if (errno == EINTR) continue;
    throw Failure(Fail::cannot_read, path_ + ": cannot read the archive at offset " + std::to_string(offset) + ": " +
                                         std::strerror(errno));
  }
}

void FileSource::check_unchanged() const {
  struct stat st {};
  if (::fstat(fd_, &st) != 0) return;
  if (std::uint64_t(st.st_size) > size_)
    throw Failure(Fail::cannot_read, path_ + ": the file grew from " + std::to_string(size_) + " to " +
                                         std::to_string(st.st_size) +
                                         " bytes while it was being read (still being written?); judge it once it "
                                         "is complete");
  if (std::uint64_t(st.st_size) < size_)
    throw Failure(Fail::cannot_read, path_ + ": the file shrank from " + std::to_string(size_) + " to " +
                                         std::to_string(st.st_size) + " bytes while it was being read");
}

std::size_t MemorySource::read_some(std::uint64_t offset, std::span<std::uint8_t> buf) {
  if (offset >= data_.size()) return 0;
  std::size_t n = std::min<std::uint64_t>(buf.size(), data_.size() - offset);
  std::memcpy(buf.data(), data_.data() + offset, n);
  return n;
}

std::span<const std::uint8_t> CachedSource::cached(std::uint64_t offset, std::size_t n) {
  if (offset < start_ || offset >= start_ + len_) {
    // Reads grow while they follow on from each other (many small entries in a row) and start
    // small again after a jump (the next header of a large entry): a 1 MiB read for each of 660
    // scattered headers cost more than it saved.
    const bool follows = len_ && offset >= start_ + len_ && offset < start_ + len_ + next_;
    next_ = follows ? std::min(cache_.size(), next_ * 2) : kFirstRead;
    start_ = offset;
    len_ = inner_.read_at(offset, {cache_.data(), std::min(cache_.size(), std::max(next_, n))});
  }
  std::size_t at = std::size_t(offset - start_);
  return {cache_.data() + at, std::min(n, len_ - at)};
}

std::size_t CachedSource::read_some(std::uint64_t offset, std::span<std::uint8_t> buf) {
  if (buf.empty() || offset >= size()) return 0;
  if (buf.size() >= cache_.size() / 4 && !(offset >= start_ && offset + buf.size() <= start_ + len_))
    return inner_.read_some(offset, buf);
  auto c = cached(offset, buf.size());
  std::memcpy(buf.data(), c.data(), c.size());
  return c.size();
}

std::span<const std::uint8_t> CachedSource::view(std::uint64_t offset, std::size_t n) {
  if (auto v = inner_.view(offset, n); !v.empty()) return v;
  if (!lend_views_ || n == 0 || offset >= size()) return {};
  // A large piece not already here is left to the caller's own read (a decoder's buffer).
  if (n >= cache_.size() / 4 && !(offset >= start_ && offset < start_ + len_)) return {};
  return cached(offset, n);
}

std::vector<std::uint8_t> read_whole_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Failure(Fail::cannot_open, path + ": cannot open");
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

}  // namespace zm::io

namespace zm::io {

namespace {
thread_local std::vector<std::unique_ptr<PageBuffer>> spare_buffers;
}

std::unique_ptr<PageBuffer> SequentialReader::borrow(std::size_t n) {
  for (auto it = spare_buffers.begin(); it != spare_buffers.end(); ++it)
    if ((*it)->size() >= n) {
      auto b = std::move(*it);
      spare_buffers.erase(it);
      return b;
    }
  return std::make_unique<PageBuffer>(n);
}

void SequentialReader::give_back(std::unique_ptr<PageBuffer> b) {
  if (b && spare_buffers.size() < 4) spare_buffers.push_back(std::move(b));
}

std::span<const std::uint8_t> SequentialReader::peek(std::size_t n) {
  n = std::min(n, cap_);
  // A stream's ring already holds the bytes: look at them in place (one copy fewer per byte).
  // Too short a view (the ring wraps right here) falls back to copying.
  if (auto v = src_.view(pos_, n); v.size() == n || v.size() >= 4096) return v;
  if (pos_ < buf_start_ || pos_ + n > buf_start_ + buf_len_) {
    buf_start_ = pos_;
    buf_len_ = src_.read_at(pos_, {buf_->data(), cap_});
  }
  std::size_t off = std::size_t(pos_ - buf_start_);
  std::size_t avail = buf_len_ > off ? buf_len_ - off : 0;
  return {buf_->data() + off, std::min(n, avail)};
}

}  // namespace zm::io

namespace zm::io {

StreamSource::StreamSource(int fd, std::string name, std::size_t window)
    : fd_(fd), name_(std::move(name)), ring_(window) {
  // A pipe's default 64 KiB buffer makes writer and reader take turns every 16 pages; 1 MiB
  // lets both run. Not a pipe, or not allowed: nothing changes.
  (void)::fcntl(fd_, F_SETPIPE_SZ, 1 << 20);
}

StreamSource::StreamSource(Pull pull, std::string name, std::size_t window)
    : fd_(-1), pull_(std::move(pull)), name_(std::move(name)), ring_(window) {}

bool StreamSource::fill(std::uint64_t keep_from) {
  if (eof_) return false;
  // Read at most up to the physical end of the ring, so one read never wraps, and never so far
  // that the byte at `keep_from` (which the caller is about to look at) is overwritten.
  std::size_t at = std::size_t(end_ % ring_.size());
  std::size_t room = std::min<std::size_t>(ring_.size() - at, 1u << 20);
  if (keep_from + ring_.size() <= end_) return false;
  room = std::size_t(std::min<std::uint64_t>(room, keep_from + ring_.size() - end_));
  {
    // Bytes a worker still decodes are not overwritten: wait until enough of them are released.
    std::unique_lock lock(hold_mu_);
    for (;;) {
      if (held_.empty()) break;
      std::uint64_t free = *held_.begin() + ring_.size() - end_;
      if (free > 0) {
        room = std::size_t(std::min<std::uint64_t>(room, free));
        break;
      }
      released_.wait(lock);
    }
  }
  for (;;) {
    ssize_t n = pull_ ? ssize_t(pull_(ring_.data() + at, room)) : ::read(fd_, ring_.data() + at, room);
    if (n > 0) {
      if (sha_) sha_->update({ring_.data() + at, std::size_t(n)});
      end_ += std::uint64_t(n);
      return true;
    }
    if (n == 0) {
      eof_ = true;
      return false;
    }
    if (errno == EINTR) continue;
    throw Failure(Fail::cannot_read,
                  name_ + ": cannot read the archive at offset " + std::to_string(end_) + ": " + std::strerror(errno));
  }
}

std::size_t StreamSource::read_some(std::uint64_t offset, std::span<std::uint8_t> buf) {
  if (buf.empty()) return 0;
  if (offset < earliest_readable())
    throw Failure(Fail::cannot_read, name_ + ": cannot go back to offset " + std::to_string(offset) +
                  " in a stream (only the last " + std::to_string(ring_.size() >> 20) + " MiB are kept)");
  while (offset >= end_) {
    // Skipping forward: bytes before `offset` are read and kept only in the window.
    if (!fill()) return 0;
  }
  std::size_t at = std::size_t(offset % ring_.size());
  std::size_t n = std::size_t(std::min<std::uint64_t>({std::uint64_t(buf.size()), end_ - offset, std::uint64_t(ring_.size() - at)}));
  std::memcpy(buf.data(), ring_.data() + at, n);
  return n;
}

std::span<const std::uint8_t> StreamSource::view(std::uint64_t offset, std::size_t n) {
  if (offset < earliest_readable()) return {};
  // Whoever looks at `offset` may look back a little too (a CRC catching up, a descriptor): a
  // quarter of the window behind it is kept.
  const std::uint64_t keep = offset - std::min<std::uint64_t>(offset, ring_.size() / 4);
  while (offset + n > end_ && fill(keep)) {
  }
  if (offset >= end_) return {};
  std::size_t at = std::size_t(offset % ring_.size());
  // Contiguous bytes only: at the ring's physical end the view is shorter.
  std::size_t len = std::size_t(std::min<std::uint64_t>({std::uint64_t(n), end_ - offset,
                                                         std::uint64_t(ring_.size() - at)}));
  return {ring_.data() + at, len};
}

void StreamSource::hold(std::uint64_t offset) {
  std::lock_guard lock(hold_mu_);
  held_.insert(offset);
}

void StreamSource::release(std::uint64_t offset) {
  {
    std::lock_guard lock(hold_mu_);
    if (auto it = held_.find(offset); it != held_.end()) held_.erase(it);
  }
  released_.notify_all();
}

std::array<std::span<const std::uint8_t>, 2> StreamSource::held_bytes(std::uint64_t offset, std::uint64_t n) const {
  std::size_t at = std::size_t(offset % ring_.size());
  std::size_t first = std::size_t(std::min<std::uint64_t>(n, ring_.size() - at));
  return {std::span<const std::uint8_t>(ring_.data() + at, first),
          std::span<const std::uint8_t>(ring_.data(), std::size_t(n - first))};
}

void StreamSource::drain() {
  while (fill()) {
  }
}

}  // namespace zm::io
