// The archive's SHA-256 (--sha256) from the bytes the command reads anyway, through OpenSSL's EVP.
#pragma once
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>

#include "io/source.h"

namespace zm::io {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(std::span<const std::uint8_t> bytes);
  // The digest as 64 lowercase hex digits; the object is spent.
  std::string hex();

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
};

// A seekable source whose bytes are hashed as they are read, in order: a read that starts at or
// before the first byte not yet hashed carries the hash on. The verifiers read an archive mostly
// front to back (the entries, by neighbouring runs), so most bytes are hashed from reads made for
// the verification; finish() reads what was not hashed that way (the directory and end records
// a verifier reads first, the stretches a worker read ahead of the others) from where the hash
// stands to the end: once more, from the page cache when the file fits in it.
class HashingSource final : public ByteSource {
 public:
  explicit HashingSource(ByteSource& inner) : inner_(inner) {}
  std::uint64_t size() const override { return inner_.size(); }
  std::size_t read_some(std::uint64_t offset, std::span<std::uint8_t> buf) override;
  std::uint32_t disks() const override { return inner_.disks(); }
  std::optional<std::uint64_t> disk_position(std::uint32_t disk, std::uint64_t offset) const override {
    return inner_.disk_position(disk, offset);
  }
  std::string finish();
  // Bytes hashed from the command's own reads, and those finish() read again (for the tests).
  std::uint64_t hashed_in_passing() const { return in_passing_; }

 private:
  ByteSource& inner_;
  std::mutex mu_;  // workers read in parallel
  Sha256 sha_;
  std::uint64_t hashed_ = 0;  // every byte before this one is in the hash
  std::uint64_t in_passing_ = 0;
};

}  // namespace zm::io
