// Bytes that would not fit in memory, appended to an unlinked temporary file and read back: what a
// repair of a million entries walked, and the new directory it writes last (issue 13).
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "io/output.h"
#include "io/source.h"

namespace zm::io {

class Spill final : public ByteSource {
 public:
  // In TMPDIR (or /tmp); the file is gone when this object is. `owner` (the archive it is
  // for) starts any error message.
  Spill(const std::string& stem, std::string owner);
  // Where the bytes start.
  std::uint64_t append(std::string_view bytes);
  std::uint64_t size() const override { return flushed_ + buf_.size(); }
  std::size_t read_some(std::uint64_t offset, std::span<std::uint8_t> out) override;

 private:
  void flush();
  [[noreturn]] void fail(const char* doing) const;
  static TempFile create(const std::string& stem, const std::string& owner);
  std::string owner_;
  TempFile file_;
  std::string buf_;
  std::uint64_t flushed_ = 0;
};

}  // namespace zm::io
