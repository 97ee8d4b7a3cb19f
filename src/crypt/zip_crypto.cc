#include "crypt/zip_crypto.h"

#include <fmt/format.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <cstring>
#include <stdexcept>

#include "zip/records.h"

namespace zm::zipcrypt {
namespace {
using Status = codec::DecodeResult::Status;
inline std::uint16_t u16(const std::uint8_t* p) { return std::uint16_t(p[0] | p[1] << 8); }

// The CRC-32 table of 6.1.5's update_keys (the ZIP polynomial, one byte at a time).
struct CrcTable {
  std::uint32_t t[256];
  CrcTable() {
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
  }
};
const CrcTable kCrc;
inline std::uint32_t crc_byte(std::uint32_t crc, std::uint8_t b) { return kCrc.t[(crc ^ b) & 0xFF] ^ (crc >> 8); }

}  // namespace

TraditionalKeys::TraditionalKeys(std::string_view password) : k_{0x12345678u, 0x23456789u, 0x34567890u} {
  for (char c : password) update(std::uint8_t(c));
}

void TraditionalKeys::update(std::uint8_t p) {
  k_[0] = crc_byte(k_[0], p);
  k_[1] = (k_[1] + (k_[0] & 0xFF)) * 134775813u + 1;
  k_[2] = crc_byte(k_[2], std::uint8_t(k_[1] >> 24));
}

std::optional<AesInfo> find_aes_extra(std::span<const std::uint8_t> extra) {
  std::size_t i = 0;
  while (i + 4 <= extra.size()) {
    std::uint16_t id = u16(extra.data() + i), len = u16(extra.data() + i + 2);
    if (i + 4 + len > extra.size()) return std::nullopt;
    // WinZip's AES field: vendor version (2), vendor id "AE" (2), strength (1), method (2).
    if (id == 0x9901 && len >= 7 && extra[i + 6] == 'A' && extra[i + 7] == 'E') {
      AesInfo a;
      a.vendor_version = u16(extra.data() + i + 4);
      a.strength = extra[i + 8];
      a.method = u16(extra.data() + i + 9);
      return a;
    }
    i += 4 + len;
  }
  return std::nullopt;
}

AesKeys::AesKeys(std::string_view password, std::span<const std::uint8_t> salt, std::uint8_t strength) {
  const std::size_t kl = 8u * (strength + 1);
  std::vector<std::uint8_t> derived(2 * kl + 2);
  if (PKCS5_PBKDF2_HMAC_SHA1(password.data(), int(password.size()), salt.data(), int(salt.size()), 1000,
                             int(derived.size()), derived.data()) != 1)
    throw io::Failure(io::Fail::resource, "PBKDF2 failed");
  verifier_ = {derived[2 * kl], derived[2 * kl + 1]};
  const EVP_CIPHER* aes = kl == 16 ? EVP_aes_128_ecb() : kl == 24 ? EVP_aes_192_ecb() : EVP_aes_256_ecb();
  auto* c = EVP_CIPHER_CTX_new();
  cipher_ = c;
  if (!c || EVP_EncryptInit_ex(c, aes, nullptr, derived.data(), nullptr) != 1) throw io::Failure(io::Fail::resource, "AES init failed");
  EVP_CIPHER_CTX_set_padding(c, 0);
  EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  auto* m = mac ? EVP_MAC_CTX_new(mac) : nullptr;
  EVP_MAC_free(mac);
  mac_ = m;
  char sha1[] = "SHA1";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, sha1, 0), OSSL_PARAM_construct_end()};
  mac_key_.assign(derived.begin() + kl, derived.begin() + 2 * kl);
  if (!m || EVP_MAC_init(m, mac_key_.data(), kl, params) != 1) throw io::Failure(io::Fail::resource, "HMAC init failed");
  OPENSSL_cleanse(derived.data(), derived.size());
}

void AesKeys::mac_reset() {
  if (EVP_MAC_init(static_cast<EVP_MAC_CTX*>(mac_), mac_key_.data(), mac_key_.size(), nullptr) != 1)
    throw io::Failure(io::Fail::resource, "HMAC init failed");
}

AesKeys::~AesKeys() {
  OPENSSL_cleanse(mac_key_.data(), mac_key_.size());
  EVP_CIPHER_CTX_free(static_cast<EVP_CIPHER_CTX*>(cipher_));
  EVP_MAC_CTX_free(static_cast<EVP_MAC_CTX*>(mac_));
}

void AesKeys::crypt(std::uint64_t pos, std::span<std::uint8_t> buf) {
  if (buf.empty()) return;
  // WinZip's CTR mode: block n (from 0) is encrypted under the counter n + 1, little-endian in
  // the first 8 bytes of the 16 (Brian Gladman's fileenc, which WinZip and 7-Zip follow).
  const std::uint64_t first = pos / 16, last = (pos + buf.size() - 1) / 16;
  const std::size_t n = std::size_t(last - first + 1) * 16;
  blocks_.assign(n, 0);
  for (std::uint64_t b = first; b <= last; ++b) {
    std::uint64_t ctr = b + 1;
    for (int k = 0; k < 8; ++k) blocks_[(b - first) * 16 + k] = std::uint8_t(ctr >> (8 * k));
  }
  int out = 0;
  if (EVP_EncryptUpdate(static_cast<EVP_CIPHER_CTX*>(cipher_), blocks_.data(), &out, blocks_.data(), int(n)) != 1 ||
      std::size_t(out) != n)
    throw io::Failure(io::Fail::resource, "AES failed");
  const std::size_t skip = pos % 16;
  for (std::size_t i = 0; i < buf.size(); ++i) buf[i] ^= blocks_[skip + i];
}

void AesKeys::mac_update(std::span<const std::uint8_t> c) {
  if (!c.empty() && EVP_MAC_update(static_cast<EVP_MAC_CTX*>(mac_), c.data(), c.size()) != 1)
    throw io::Failure(io::Fail::resource, "HMAC failed");
}

std::array<std::uint8_t, kAesMac> AesKeys::mac_final() {
  std::uint8_t full[64];
  std::size_t len = 0;
  if (EVP_MAC_final(static_cast<EVP_MAC_CTX*>(mac_), full, &len, sizeof full) != 1 || len < kAesMac)
    throw io::Failure(io::Fail::resource, "HMAC failed");
  std::array<std::uint8_t, kAesMac> r;
  std::memcpy(r.data(), full, kAesMac);
  return r;
}

Scheme scheme_of(const EntryFields& e) {
  Scheme s;
  if (!e.encrypted()) {
    s.method = e.method;
    return s;
  }
  if (e.flags & zip::kFlagStrongEncryption) {
    s.why = "it uses PKWARE strong encryption (bit 6), which zipmedic cannot decrypt";
    return s;
  }
  if (e.method == zip::kAesMarker) {
    auto a = find_aes_extra(e.cd_extra);
    if (!a) a = find_aes_extra(e.lfh_extra);
    if (!a) {
      s.why = "method 99 (WinZip AES) without a readable AES extra field (0x9901)";
      return s;
    }
    if (a->strength < 1 || a->strength > 3 || (a->vendor_version != 1 && a->vendor_version != 2)) {
      s.why = fmt::format("WinZip AES field with vendor version {} and key strength {}, which the format does not define",
                          a->vendor_version, a->strength);
      return s;
    }
    s.kind = Scheme::Kind::aes;
    s.aes = *a;
    s.method = a->method;
    return s;
  }
  s.kind = Scheme::Kind::traditional;
  s.method = e.method;
  return s;
}

bool decodable(const EntryFields& e) {
  if (!e.encrypted()) return codec::method_supported(e.method);
  auto s = scheme_of(e);
  return s.kind != Scheme::Kind::none && codec::method_supported(s.method);
}

namespace {

// The decrypted view of an entry's data, at the same offsets as the ciphertext in the source, so
// that decoders' offsets and messages stay the archive's. Decoders read forward; a read that goes
// back restarts the key stream (traditional) or seeks it (CTR). For AES, the MAC is fed the
// ciphertext of a read only once the decoder asks for the next one, i.e. once it has consumed the
// whole of it: a decoder that stops inside a read leaves the rest to finish(), which then feeds
// exactly the bytes of the stream.
class PlainSource final : public io::ByteSource {
 public:
  PlainSource(io::ByteSource& inner, std::uint64_t base, TraditionalKeys* trad, AesKeys* aes)
      : inner_(inner), base_(base), cursor_(base), mac_pos_(base), trad_(trad), aes_(aes), pending_start_(base) {
    if (trad_) start_ = *trad_;
  }
  std::uint64_t size() const override { return inner_.size(); }
  std::uint64_t earliest_readable() const override { return inner_.earliest_readable(); }
  bool seekable() const override { return inner_.seekable(); }
  std::uint64_t window() const override { return inner_.window(); }

  std::size_t read_some(std::uint64_t offset, std::span<std::uint8_t> buf) override {
    if (offset != cursor_) reposition(offset);
    if (aes_ && mac_pos_ == pending_start_ && cursor_ == pending_start_ + pending_.size()) {
      aes_->mac_update(pending_);
      mac_pos_ = cursor_;
    }
    pending_.resize(buf.size());
    // Whole reads only (short just at the end), so that one decoder request is one read here.
    std::size_t n = inner_.read_at(offset, pending_);
    pending_.resize(n);
    pending_start_ = offset;
    std::memcpy(buf.data(), pending_.data(), n);
    if (trad_) trad_->decrypt(buf.first(n));
    if (aes_) aes_->crypt(offset - base_, buf.first(n));
    cursor_ = offset + n;
    return n;
  }

  // The MAC over exactly [base, base + len): true when the stored one at base + len matches;
  // nullopt when the source ends before it.
  std::optional<bool> finish(std::uint64_t len) {
    const std::uint64_t end = base_ + len;
    if (mac_pos_ > end || restart_mac_) {
      // Fed past the stream's end, or read out of order: the MAC starts over from the source.
      aes_->mac_reset();
      mac_pos_ = base_;
      pending_.clear();
      pending_start_ = base_;
      restart_mac_ = false;
    }
    if (pending_start_ == mac_pos_ && !pending_.empty()) {
      std::uint64_t take = std::min<std::uint64_t>(pending_.size(), end - mac_pos_);
      aes_->mac_update(std::span<const std::uint8_t>(pending_).first(std::size_t(take)));
      mac_pos_ += take;
    }
    std::vector<std::uint8_t> chunk(64 << 10);
    while (mac_pos_ < end) {
      std::size_t want = std::size_t(std::min<std::uint64_t>(chunk.size(), end - mac_pos_));
      std::size_t n = inner_.read_at(mac_pos_, {chunk.data(), want});
      if (n == 0) return std::nullopt;
      aes_->mac_update({chunk.data(), n});
      mac_pos_ += n;
    }
    std::uint8_t stored[kAesMac];
    if (inner_.read_at(end, stored) < kAesMac) return std::nullopt;
    auto mac = aes_->mac_final();
    return std::memcmp(mac.data(), stored, kAesMac) == 0;
  }

 private:
  void reposition(std::uint64_t offset) {
    if (aes_) {
      // CTR seeks freely; the MAC, fed in order, cannot follow a jump.
      restart_mac_ = true;
      cursor_ = offset;
      return;
    }
    if (offset < cursor_) {
      *trad_ = start_;
      cursor_ = base_;
    }
    std::uint8_t skip[4096];
    while (cursor_ < offset) {
      std::size_t want = std::size_t(std::min<std::uint64_t>(sizeof skip, offset - cursor_));
      std::size_t n = inner_.read_at(cursor_, {skip, want});
      trad_->decrypt({skip, n});
      cursor_ += n;
      if (n < want) break;
    }
  }

  io::ByteSource& inner_;
  std::uint64_t base_, cursor_, mac_pos_;
  TraditionalKeys* trad_;
  TraditionalKeys start_{""};
  AesKeys* aes_;
  std::vector<std::uint8_t> pending_;
  std::uint64_t pending_start_;
  bool restart_mac_ = false;
};

codec::DecodeResult failed(Status s, std::uint64_t consumed, std::string why) {
  codec::DecodeResult r;
  r.status = s;
  r.consumed = consumed;
  r.error = std::move(why);
  return r;
}

}  // namespace

codec::DecodeResult decode(codec::Workspace& ws, io::ByteSource& src, codec::DecodeRequest req, const EntryFields& e,
                           const std::string* password, Outcome& outcome) {
  if (!e.encrypted()) return ws.decode(src, req);
  const Scheme s = scheme_of(e);
  if (s.kind == Scheme::Kind::none) return failed(Status::unsupported, 0, s.why);
  if (!password) {
    outcome = Outcome::no_password;
    return failed(Status::unsupported, 0, "the entry is encrypted and no password was given");
  }
  const std::string& pw = *password;
  const std::size_t hdr = s.header(), trailer = s.trailer();
  std::vector<std::uint8_t> head(hdr);
  std::size_t got = src.read_at(req.offset, head);
  outcome = Outcome::decrypted;  // from here on the data is judged like any other's
  if (got < hdr || req.limit < hdr) {
    if (got < hdr) return failed(Status::truncated, got, "the file ends inside the encryption header");
    return failed(Status::corrupt, req.limit, "the entry is shorter than its encryption header");
  }
  std::optional<TraditionalKeys> trad;
  std::optional<AesKeys> aes;
  if (s.kind == Scheme::Kind::traditional) {
    trad.emplace(pw);
    trad->decrypt(head);
    // 6.1.6: the header's last byte is the CRC's high byte; with bit 3 (the CRC is not known
    // when the header is written) Info-ZIP and 7-Zip put the high byte of the DOS time there.
    const std::uint8_t check = e.has_descriptor_flag() ? std::uint8_t(e.mod_time >> 8) : std::uint8_t(e.crc32 >> 24);
    if (head[hdr - 1] != check) {
      outcome = Outcome::wrong_password;
      return failed(Status::corrupt, 0, "the password check byte does not match: the password is wrong");
    }
  } else {
    const std::size_t salt = s.aes.salt_len();
    aes.emplace(pw, std::span<const std::uint8_t>(head).first(salt), s.aes.strength);
    if (aes->verifier()[0] != head[salt] || aes->verifier()[1] != head[salt + 1]) {
      outcome = Outcome::wrong_password;
      return failed(Status::corrupt, 0, "the AES password verifier does not match: the password is wrong");
    }
  }
  if (req.limit < hdr + trailer) return failed(Status::corrupt, req.limit, "the entry is shorter than its encryption header and MAC");
  PlainSource plain(src, req.offset + hdr, trad ? &*trad : nullptr, aes ? &*aes : nullptr);
  codec::DecodeRequest inner = req;
  inner.offset = req.offset + hdr;
  inner.limit = req.limit - hdr - trailer;
  inner.method = s.method;
  auto d = ws.decode(plain, inner);
  d.consumed += hdr;
  if (s.kind != Scheme::Kind::aes) return d;
  if (d.status != Status::ok) {
    // The decoder refused the data: when the entry's extent is known (its sizes, not a walk's
    // guess), the MAC says whether the ciphertext was changed, the more precise finding.
    if (req.limit == e.compressed_size && d.status != Status::truncated && plain.finish(inner.limit) == false)
      outcome = Outcome::auth_failed;
    return d;
  }
  // The MAC covers exactly the compressed data (the decoder says where it ended).
  auto ok = plain.finish(d.consumed - hdr);
  if (!ok) {
    d.status = Status::truncated;
    d.error = "the file ends inside the AES authentication code";
    return d;
  }
  d.consumed += kAesMac;
  if (!*ok) outcome = Outcome::auth_failed;
  // AE-2 stores 0 as the CRC (the MAC stands in for it); the data's CRC would then read as a
  // mismatch, so the result carries the field's 0 once the MAC has spoken.
  if (s.aes.vendor_version == 2 && *ok) d.crc = 0;
  return d;
}

}  // namespace zm::zipcrypt
