// Where archive bytes come from. Everything above io/ reads through ByteSource, so tests can
// run the same code on memory and on sources that return short reads.
#pragma once
#include <algorithm>
#include <array>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <new>
#include <optional>
#include <set>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "io/failure.h"

namespace zm::io {

class Sha256;

// Bytes that start at a page boundary. The kernel copies into user memory (read, pread) at
// about half speed when the destination is not 64-byte aligned, and malloc's large blocks start
// 16 bytes into a page: 246 MB through a pipe took 0.24 s into such a block, 0.13 s into this.
class PageBuffer {
 public:
  explicit PageBuffer(std::size_t n)
      : p_(static_cast<std::uint8_t*>(::operator new(n ? n : 1, std::align_val_t(4096)))), n_(n) {}
  ~PageBuffer() { ::operator delete(p_, std::align_val_t(4096)); }
  PageBuffer(const PageBuffer&) = delete;
  PageBuffer& operator=(const PageBuffer&) = delete;
  std::uint8_t* data() { return p_; }
  const std::uint8_t* data() const { return p_; }
  std::size_t size() const { return n_; }

 private:
  std::uint8_t* p_;
  std::size_t n_;
};

class ByteSource {
 public:
  virtual ~ByteSource() = default;
  virtual std::uint64_t size() const = 0;
  // Reads up to buf.size() bytes at `offset`; may return fewer; 0 only at or past the end.
  virtual std::size_t read_some(std::uint64_t offset, std::span<std::uint8_t> buf) = 0;
  // Loops over read_some; returns the bytes actually read (short only at the end of the source).
  std::size_t read_at(std::uint64_t offset, std::span<std::uint8_t> buf);
  std::vector<std::uint8_t> read_vec(std::uint64_t offset, std::size_t n);
  // The lowest offset that can still be read: 0 for files; a stream keeps only a window.
  virtual std::uint64_t earliest_readable() const { return 0; }
  // False for a stream, whose size() is a placeholder (the largest value) until its end is read.
  virtual bool seekable() const { return true; }
  // How many bytes behind the furthest read can still be read again (all of them for a file).
  virtual std::uint64_t window() const { return ~std::uint64_t(0); }
  // Up to n bytes at offset without copying, when the source holds them in memory; empty
  // otherwise. Valid until the source reads on by more than its window.
  virtual std::span<const std::uint8_t> view(std::uint64_t, std::size_t) { return {}; }
  // The open file descriptor whose bytes these are at the same offsets, when there is one (a
  // plain file), for copies the kernel can make (OutputSink::copy_from); -1 otherwise.
  virtual int descriptor() const { return -1; }
  // A split set whose directory numbers its volumes (APPNOTE 8.5): how many volumes, and where
  // an offset on a volume is in this source. 0 volumes for one ordinary file, whose offsets are
  // positions as they are (disk 0 only).
  virtual std::uint32_t disks() const { return 0; }
  virtual std::optional<std::uint64_t> disk_position(std::uint32_t disk, std::uint64_t offset) const {
    return disk == 0 ? std::optional(offset) : std::nullopt;
  }
};

// Standard input or any pipe: read forward only, never seeking, keeping the last `window` bytes
// so that parsers may look back a little (a decoder's read-ahead, a data descriptor). Memory is
// that window, however long the stream.
class StreamSource final : public ByteSource {
 public:
  StreamSource(int fd, std::string name, std::size_t window = 16u << 20);
  // Bytes that come from a function rather than a descriptor (a download as it arrives): it
  // fills up to n bytes, returns 0 at the end, and throws io::Failure when the rest cannot come.
  using Pull = std::function<std::size_t(std::uint8_t*, std::size_t)>;
  StreamSource(Pull pull, std::string name, std::size_t window = 16u << 20);
  std::uint64_t size() const override { return eof_ ? end_ : ~std::uint64_t(0); }
  std::size_t read_some(std::uint64_t offset, std::span<std::uint8_t> buf) override;
  std::uint64_t earliest_readable() const override { return end_ > ring_.size() ? end_ - ring_.size() : 0; }
  bool seekable() const override { return false; }
  std::uint64_t window() const override { return ring_.size(); }
  std::span<const std::uint8_t> view(std::uint64_t offset, std::size_t n) override;
  // Reads and discards the rest of the stream (so that its length is known).
  void drain();
  // Every byte read from the stream from here on goes to `sha` as well, as it arrives
  // (--sha256: the stream is read once).
  void hash_with(Sha256* sha) { sha_ = sha; }

  // Worker threads decode entries straight from the ring. hold(offset) keeps the bytes from
  // `offset` on from being overwritten (the reader waits instead) until release(offset);
  // held_bytes gives [offset, offset + n) in place, in one or two pieces (the ring wraps). Only
  // the reading thread calls hold and held_bytes, on bytes already read; any thread releases.
  void hold(std::uint64_t offset);
  void release(std::uint64_t offset);
  std::array<std::span<const std::uint8_t>, 2> held_bytes(std::uint64_t offset, std::uint64_t n) const;

 private:
  bool fill(std::uint64_t keep_from = ~std::uint64_t(0) >> 1);
  int fd_;
  Pull pull_;
  std::string name_;
  PageBuffer ring_;
  std::mutex hold_mu_;
  std::condition_variable released_;
  std::multiset<std::uint64_t> held_;
  std::uint64_t end_ = 0;  // bytes read from the stream so far
  bool eof_ = false;
  Sha256* sha_ = nullptr;
};

class FileSource final : public ByteSource {
 public:
  explicit FileSource(const std::string& path);
  ~FileSource() override;
  FileSource(const FileSource&) = delete;
  FileSource& operator=(const FileSource&) = delete;
  std::uint64_t size() const override { return size_; }
  // A read that fails, or ends before the size the file had when opened, throws Failure
  // (cannot_read, naming the offset): never taken for the end of an archive cut short.
  std::size_t read_some(std::uint64_t offset, std::span<std::uint8_t> buf) override;
  // Throws Failure (cannot_read) when the file's size is no longer the one it was judged at: an
  // archive still being downloaded, or cut, while it was read.
  void check_unchanged() const;
  int descriptor() const override { return fd_; }

 private:
  std::string path_;
  int fd_ = -1;
  std::uint64_t size_ = 0;
};

class MemorySource final : public ByteSource {
 public:
  explicit MemorySource(std::vector<std::uint8_t> data) : data_(std::move(data)) {}
  std::uint64_t size() const override { return data_.size(); }
  std::size_t read_some(std::uint64_t offset, std::span<std::uint8_t> buf) override;

 private:
  std::vector<std::uint8_t> data_;
};

// Test helper: hands out at most `chunk` bytes per read, to prove that parsers do not depend on
// where reads happen to end (libarchive's 31-byte habit).
class ChunkedSource final : public ByteSource {
 public:
  ChunkedSource(ByteSource& inner, std::size_t chunk) : inner_(inner), chunk_(chunk) {}
  std::uint64_t size() const override { return inner_.size(); }
  std::size_t read_some(std::uint64_t offset, std::span<std::uint8_t> buf) override {
    return inner_.read_some(offset, buf.first(std::min(buf.size(), chunk_)));
  }

 private:
  ByteSource& inner_;
  std::size_t chunk_;
};

// One thread's read cache for small records read in file order: a single pread of 1 MiB then
// serves the local headers, data and descriptors of dozens of small entries, where each would
// otherwise cost two or three system calls (200,000 tiny entries: 600,000 preads). Reads of a
// quarter of the cache or more go straight to the source. Not shared between threads.
class CachedSource final : public ByteSource {
 public:
  // Without `lend_views`, view() gives nothing and every read copies: for callers that keep a
  // view while they read elsewhere in the same source (a scan's record walk).
  explicit CachedSource(ByteSource& inner, std::size_t capacity = 1 << 20, bool lend_views = true)
      : inner_(inner), cache_(capacity), lend_views_(lend_views) {}
  std::uint64_t size() const override { return inner_.size(); }
  std::size_t read_some(std::uint64_t offset, std::span<std::uint8_t> buf) override;
  std::uint64_t earliest_readable() const override { return inner_.earliest_readable(); }
  bool seekable() const override { return inner_.seekable(); }
  std::uint64_t window() const override { return inner_.window(); }
  std::uint32_t disks() const override { return inner_.disks(); }
  std::optional<std::uint64_t> disk_position(std::uint32_t d, std::uint64_t o) const override {
    return inner_.disk_position(d, o);
  }
  // Valid until the next call on this source.
  std::span<const std::uint8_t> view(std::uint64_t offset, std::size_t n) override;

 private:
  // Bytes from `offset` in the cache, reading them in if they are not there; empty at the end.
  std::span<const std::uint8_t> cached(std::uint64_t offset, std::size_t n);
  ByteSource& inner_;
  PageBuffer cache_;
  static constexpr std::size_t kFirstRead = 4u << 10;
  std::uint64_t start_ = 0;
  std::size_t len_ = 0;
  std::size_t next_ = kFirstRead;
  bool lend_views_;
};

std::vector<std::uint8_t> read_whole_file(const std::string& path);

}  // namespace zm::io

namespace zm::io {

// Forward reading with a window, for parsers that walk records one after another; `peek` makes
// up to n bytes at the current position visible without a system call per record.
class SequentialReader {
 public:
  // From a stream, a peek takes at most a quarter of its window, so that the bytes just behind
  // the position (a CRC being caught up, a descriptor) are still there after it.
  SequentialReader(ByteSource& src, std::uint64_t pos, std::size_t window = 1 << 20)
      : src_(src), pos_(pos), cap_(std::size_t(std::min<std::uint64_t>(window, std::max<std::uint64_t>(src.window() / 4, 64)))),
        buf_(borrow(cap_)) {}
  ~SequentialReader() { give_back(std::move(buf_)); }
  SequentialReader(const SequentialReader&) = delete;
  SequentialReader& operator=(const SequentialReader&) = delete;
  // Up to n bytes at the current position (fewer only at the end of the source). n <= window.
  std::span<const std::uint8_t> peek(std::size_t n);
  void skip(std::uint64_t n) { pos_ += n; }
  void seek(std::uint64_t pos) { pos_ = pos; }
  std::uint64_t pos() const { return pos_; }

 private:
  ByteSource& src_;
  std::uint64_t pos_;
  // A walk makes a reader per entry (a descriptor search, a resync): buffers are lent from a
  // few kept per thread, left uninitialised. Allocating and freeing page-aligned MiBs each
  // time fragmented glibc's heap: a 4 MiB heap peak took 27 MiB of resident memory.
  static std::unique_ptr<PageBuffer> borrow(std::size_t n);
  static void give_back(std::unique_ptr<PageBuffer> b);
  std::size_t cap_;
  std::unique_ptr<PageBuffer> buf_;
  std::uint64_t buf_start_ = 0;
  std::size_t buf_len_ = 0;
};

}  // namespace zm::io
