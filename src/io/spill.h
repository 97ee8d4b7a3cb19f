// Bytes that would not fit in memory, appended and read back: what a pipe's walk saw before its
// directory arrives, what a repair of a million entries walked, the new directory it writes
// last (the man page, MEMORY).
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "io/source.h"

namespace zm::io {

// In memory up to `in_memory` bytes (most archives never need a file), then in an unlinked
// temporary file in TMPDIR (else /tmp), written through a buffer; where no such file can be made,
// the bytes stay in memory, as everything did before. Read from any thread once writing is done.
class Spill final : public ByteSource {
 public:
  // `owner` (the archive the bytes are of) starts every error message.
  explicit Spill(std::string owner, std::size_t in_memory = 4u << 20);
  ~Spill() override;
  Spill(const Spill&) = delete;
  Spill& operator=(const Spill&) = delete;
  // Where the next bytes will be.
  std::uint64_t tell() const { return fd_ < 0 ? mem_.size() : written_ + buf_.size(); }
  void put(const void* p, std::size_t n);
  // Where the bytes start.
  std::uint64_t append(std::string_view bytes) {
    const std::uint64_t at = tell();
    put(bytes.data(), bytes.size());
    return at;
  }
  void flush();
  std::uint64_t size() const override { return tell(); }
  std::size_t read_some(std::uint64_t offset, std::span<std::uint8_t> buf) override;

 private:
  static constexpr std::size_t kBuffer = 256u << 10;
  void to_file();
  void write_all(const std::uint8_t* p, std::size_t len);
  std::string owner_, dir_;
  std::size_t in_memory_;
  int fd_ = -1;
  bool no_file_ = false;
  std::uint64_t written_ = 0;
  std::vector<std::uint8_t> mem_, buf_;
};

}  // namespace zm::io
