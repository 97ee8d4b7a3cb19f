#include "io/digest.h"

#include <openssl/evp.h>

#include "io/failure.h"

#include <stdexcept>

namespace zm::io {

struct Sha256::Ctx {
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  ~Ctx() { EVP_MD_CTX_free(md); }
};

Sha256::Sha256() : ctx_(std::make_unique<Ctx>()) {
  if (!ctx_->md || EVP_DigestInit_ex(ctx_->md, EVP_sha256(), nullptr) != 1)
    throw std::runtime_error("OpenSSL cannot start a SHA-256 digest");
}

Sha256::~Sha256() = default;

void Sha256::update(std::span<const std::uint8_t> bytes) {
  if (!bytes.empty() && EVP_DigestUpdate(ctx_->md, bytes.data(), bytes.size()) != 1)
    throw std::runtime_error("OpenSSL SHA-256 update failed");
}

std::string Sha256::hex() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (EVP_DigestFinal_ex(ctx_->md, md, &n) != 1) throw std::runtime_error("OpenSSL SHA-256 final failed");
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < n; ++i) {
    out += digits[md[i] >> 4];
    out += digits[md[i] & 15];
  }
  return out;
}

std::size_t HashingSource::read_some(std::uint64_t offset, std::span<std::uint8_t> buf) {
  const std::size_t got = inner_.read_some(offset, buf);
  std::lock_guard lock(mu_);
  if (offset <= hashed_ && offset + got > hashed_) {
    const std::size_t from = std::size_t(hashed_ - offset);
    sha_.update({buf.data() + from, got - from});
    in_passing_ += got - from;
    hashed_ = offset + got;
  }
  return got;
}

std::string HashingSource::finish() {
  std::lock_guard lock(mu_);
  PageBuffer buf(1u << 20);
  const std::uint64_t end = inner_.size();
  while (hashed_ < end) {
    const std::size_t want = std::size_t(std::min<std::uint64_t>(buf.size(), end - hashed_));
    const std::size_t got = inner_.read_at(hashed_, {buf.data(), want});
    if (got == 0) throw Failure(Fail::cannot_read, "the archive ended before its size while hashing it");
    sha_.update({buf.data(), got});
    hashed_ += got;
  }
  return sha_.hex();
}

}  // namespace zm::io
