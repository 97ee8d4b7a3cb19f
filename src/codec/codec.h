// Entry decoders behind one call: decode compressed bytes from a source, count and CRC the
// output, and say exactly where the compressed stream ended.
#pragma once
#include <optional>
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "codec/deflate64.h"
#include "io/source.h"

namespace zm::codec {

std::uint32_t crc32(std::uint32_t crc, std::span<const std::uint8_t> data);

bool method_supported(std::uint16_t method);
// Methods whose streams carry their own end, so a scanner can find the end of bit-3 data by
// decoding (docs/design.md, "From bytes to verdict").
bool method_self_terminating(std::uint16_t method);

struct DecodeResult {
  enum class Status {
    ok,            // stream ended (or, for stored, `limit` bytes were read)
    truncated,     // the source ended before the stream did
    corrupt,       // the decoder rejected the data
    overrun,       // the stream did not end within `limit` bytes
    unsupported,   // no decoder for the method
  };
  Status status = Status::ok;
  std::uint64_t consumed = 0;  // compressed bytes up to the end of the stream (or up to the failure)
  std::uint64_t produced = 0;  // uncompressed bytes
  std::uint32_t crc = 0;       // CRC-32 of the produced bytes
  std::string error;
};

// Results of streams that decoded whole, by where their entry's local header is, kept small (a
// million entries that an in-place repair just decoded are not decoded again by its proof):
// 28 bytes each, added in increasing offset order. A deque, so that ten million of them never
// stand in memory twice while a vector doubles (repair -o keeps one for its proof).
class KnownResults {
 public:
  void add(std::uint64_t lfh_offset, const DecodeResult& d) {
    Known k{lfh_offset, d.consumed, d.produced, d.crc};
    if (known_.empty() || known_.back().offset < lfh_offset) {
      known_.push_back(k);
    } else {  // out of order: kept sorted for find()
      known_.insert(std::upper_bound(known_.begin(), known_.end(), lfh_offset,
                                     [](std::uint64_t o, const Known& x) { return o < x.offset; }),
                    k);
    }
  }
  std::optional<DecodeResult> find(std::uint64_t lfh_offset) const {
    auto it = std::lower_bound(known_.begin(), known_.end(), lfh_offset,
                               [](const Known& k, std::uint64_t o) { return k.offset < o; });
    if (it == known_.end() || it->offset != lfh_offset) return std::nullopt;
    DecodeResult d;
    d.consumed = it->consumed;
    d.produced = it->produced;
    d.crc = it->crc;
    return d;
  }

 private:
  // Packed: 28 bytes, not 32 (a million-entry restore holds one per file while verify runs).
  struct [[gnu::packed]] Known {
    std::uint64_t offset, consumed, produced;
    std::uint32_t crc;
  };
  std::deque<Known> known_;
};

struct DecodeRequest {
  std::uint64_t offset = 0;  // first compressed byte
  std::uint64_t limit = 0;   // compressed bytes available for this entry
  std::uint16_t method = 0;
  // Bit 1 of the flags for LZMA says the stream has an end marker (4.4.4); without one the
  // uncompressed size must be known.
  bool lzma_eos = true;
  std::uint64_t expected_uncompressed = 0;
  // Output above this many bytes stops the decode with `overrun` (zip-bomb guard); 0: no cap.
  std::uint64_t max_output = 0;
  // Receives every decoded chunk (restore, profile checks, partial salvage); may be empty.
  std::function<void(std::span<const std::uint8_t>)> sink;
  std::atomic<std::uint64_t>* progress = nullptr;  // compressed bytes done, for the progress line
};

// Reusable buffers and decoder state: one per worker thread, so that 200,000 tiny entries do
// not cost 200,000 allocations.
class Workspace {
 public:
  Workspace();
  ~Workspace();
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;
  DecodeResult decode(io::ByteSource& src, const DecodeRequest& req);

 private:
  io::PageBuffer in_, out_;
  struct Inflate;
  std::unique_ptr<Inflate> inflate_;
  // Made on first use: most threads never meet these methods.
  std::unique_ptr<Inflate64> inflate64_;
  struct Zstd;
  std::unique_ptr<Zstd> zstd_;
};

}  // namespace zm::codec
