// Deflate64 (APPNOTE 4.4.5 method 9, PKWARE's "enhanced deflate"): RFC 1951 with a 64 KiB window,
// length code 285 meaning 3 + 16 extra bits, and distance codes 30 and 31 (32769 and 49153, 14
// extra bits each). Debian packages no library for it: Windows Explorer writes it for large files
// and 7-Zip and unzip read it, so zipmedic decodes it itself. Plain deflate data that never uses
// those three codes decodes identically, which the unit tests use with zlib as the oracle.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>

namespace zm::codec {

class Inflate64 {
 public:
  // The next piece of compressed input; an empty span when there is no more. A piece stays
  // valid until the next call.
  using Pull = std::function<std::span<const std::uint8_t>()>;
  // Receives decoded output in order; returning false stops the decode (the zip-bomb cap).
  using Push = std::function<bool(std::span<const std::uint8_t>)>;
  enum class Status { ok, truncated, corrupt, stopped };

  Inflate64();
  ~Inflate64();
  Inflate64(const Inflate64&) = delete;
  Inflate64& operator=(const Inflate64&) = delete;

  // Decodes one stream from its first byte to the end of its final block. Memory is the window
  // and the tables (under 0.5 MiB), whatever the size of the stream.
  Status run(const Pull& pull, const Push& push);
  // Bytes of input up to and including the byte that holds the final block's last bit (on
  // failure: up to where decoding stopped).
  std::uint64_t consumed() const { return consumed_; }
  std::uint64_t produced() const { return produced_; }
  const std::string& error() const { return error_; }

 private:
  struct State;
  std::unique_ptr<State> s_;
  std::uint64_t consumed_ = 0;
  std::uint64_t produced_ = 0;
  std::string error_;
};

}  // namespace zm::codec
