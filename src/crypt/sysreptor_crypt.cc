#include "crypt/sysreptor_crypt.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cstring>

#include <nlohmann/json.hpp>

namespace zm::crypt {
namespace {

constexpr std::uint8_t kMagic[4] = {0xC2, 0x59, 0x50, 0x54};
constexpr std::size_t kMaxHeader = 64 << 10;

struct CtxFree {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using Ctx = std::unique_ptr<EVP_CIPHER_CTX, CtxFree>;

Ctx gcm_context(const Key& key, const std::vector<std::uint8_t>& nonce, bool encrypt) {
  Ctx c(EVP_CIPHER_CTX_new());
  if (!c) throw io::Failure(io::Fail::resource, "OpenSSL: cannot create a cipher context");
  auto init = encrypt ? EVP_EncryptInit_ex : EVP_DecryptInit_ex;
  if (init(c.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(c.get(), EVP_CTRL_GCM_SET_IVLEN, int(nonce.size()), nullptr) != 1 ||
      init(c.get(), nullptr, nullptr, key.data(), nonce.data()) != 1)
    throw io::Failure(io::Fail::resource, "OpenSSL: cannot start AES-256-GCM");
  return c;
}

std::vector<std::uint8_t> base64_decode(const std::string& s) {
  std::vector<std::uint8_t> out(s.size() * 3 / 4 + 3);
  int n = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(s.data()), int(s.size()));
  if (n < 0) throw io::Failure(io::Fail::key, "the header's nonce is not base64");
  std::size_t pad = 0;
  for (std::size_t i = s.size(); i > 0 && s[i - 1] == '='; --i) ++pad;
  out.resize(std::size_t(n) - pad);
  return out;
}

std::string base64_encode(const std::vector<std::uint8_t>& b) {
  std::string out(4 * ((b.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), b.data(), int(b.size()));
  out.resize(std::size_t(n));
  return out;
}

}  // namespace

bool has_magic(io::ByteSource& src) {
  std::uint8_t b[4] = {};
  return src.read_at(0, b) == 4 && std::memcmp(b, kMagic, 4) == 0;
}

Header read_header(io::ByteSource& src, const std::string& name) {
  auto head = src.read_vec(0, kMaxHeader);
  auto nul = std::find(head.begin() + 4, head.end(), 0);
  if (head.size() < 4 || nul == head.end())
    throw io::Failure(io::Fail::key, name + ": the encrypted backup's header has no end (no NUL within 64 KiB)");
  Header h;
  h.raw.assign(head.begin(), nul + 1);
  std::string json(head.begin() + 4, nul);
  try {
    auto j = nlohmann::json::parse(json);
    h.cipher = j.at("cipher").get<std::string>();
    h.nonce = base64_decode(j.at("nonce").get<std::string>());
    if (j.contains("key_id") && j["key_id"].is_string()) h.key_id = j["key_id"].get<std::string>();
  } catch (const nlohmann::json::exception&) {
    throw io::Failure(io::Fail::key, name + ": the encrypted backup's header is not the JSON SysReptor writes");
  }
  if (h.cipher != "AES-GCM") throw io::Failure(io::Fail::key, name + ": unsupported cipher '" + h.cipher + "' in the header");
  if (h.nonce.empty()) throw io::Failure(io::Fail::key, name + ": the header's nonce is empty");
  return h;
}

Key parse_key(const std::string& text) {
  std::string hex;
  for (char c : text)
    if (!std::isspace(static_cast<unsigned char>(c))) hex += c;
  Key k{};
  if (hex.size() != 64) throw io::Failure(io::Fail::key, "the key must be 64 hexadecimal digits (32 bytes)");
  for (std::size_t i = 0; i < 32; ++i) {
    auto nib = [&](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      throw io::Failure(io::Fail::key, "the key must be 64 hexadecimal digits (32 bytes)");
    };
    k[i] = std::uint8_t(nib(hex[2 * i]) << 4 | nib(hex[2 * i + 1]));
  }
  return k;
}

bool tag_matches(io::ByteSource& file, const Header& h, const Key& key) {
  const std::uint64_t size = file.size();
  if (size < h.raw.size() + kTagLen) return false;
  Ctx c = gcm_context(key, h.nonce, false);
  int n = 0;
  if (EVP_DecryptUpdate(c.get(), nullptr, &n, h.raw.data(), int(h.raw.size())) != 1) return false;
  std::vector<std::uint8_t> in(1 << 20), out(in.size() + 32);
  const std::uint64_t end = size - kTagLen;
  for (std::uint64_t p = h.raw.size(); p < end;) {
    std::size_t want = std::size_t(std::min<std::uint64_t>(in.size(), end - p));
    std::size_t got = file.read_at(p, {in.data(), want});
    if (got != want) return false;
    if (EVP_DecryptUpdate(c.get(), out.data(), &n, in.data(), int(got)) != 1) return false;
    p += got;
  }
  std::uint8_t tag[kTagLen];
  if (file.read_at(end, tag) != kTagLen) return false;
  if (EVP_CIPHER_CTX_ctrl(c.get(), EVP_CTRL_GCM_SET_TAG, int(kTagLen), tag) != 1) return false;
  return EVP_DecryptFinal_ex(c.get(), out.data(), &n) == 1;
}

struct DecryptingSource::Ecb {
  Ctx ctx;
};

DecryptingSource::DecryptingSource(io::ByteSource& file, const Header& h, const Key& key, bool has_tag)
    : file_(file), base_(h.raw.size()), ecb_(std::make_unique<Ecb>()) {
  std::uint64_t tail = has_tag ? kTagLen : 0;
  size_ = file.size() > base_ + tail ? file.size() - base_ - tail : 0;
  // The first counter block, taken from OpenSSL itself: GCM-encrypting a zero block yields
  // E(K, counter0); decrypting that with AES-ECB gives counter0. No GHASH of our own is needed
  // for the 16-byte nonces SysReptor uses.
  Ctx g = gcm_context(key, h.nonce, true);
  std::uint8_t zero[16] = {}, ks[16 + 16];
  int n = 0;
  if (EVP_EncryptUpdate(g.get(), ks, &n, zero, 16) != 1 || n != 16) throw io::Failure(io::Fail::resource, "OpenSSL: GCM failed");
  Ctx d(EVP_CIPHER_CTX_new());
  std::uint8_t c0[32];
  if (EVP_DecryptInit_ex(d.get(), EVP_aes_256_ecb(), nullptr, key.data(), nullptr) != 1) throw io::Failure(io::Fail::resource, "OpenSSL: ECB");
  EVP_CIPHER_CTX_set_padding(d.get(), 0);
  if (EVP_DecryptUpdate(d.get(), c0, &n, ks, 16) != 1 || n != 16) throw io::Failure(io::Fail::resource, "OpenSSL: ECB failed");
  std::memcpy(counter0_.data(), c0, 16);
  ecb_->ctx.reset(EVP_CIPHER_CTX_new());
  if (EVP_EncryptInit_ex(ecb_->ctx.get(), EVP_aes_256_ecb(), nullptr, key.data(), nullptr) != 1)
    throw io::Failure(io::Fail::resource, "OpenSSL: ECB");
  EVP_CIPHER_CTX_set_padding(ecb_->ctx.get(), 0);
  cbuf_.resize(256 << 10);
  kbuf_.resize(cbuf_.size() + 16);
}

DecryptingSource::~DecryptingSource() = default;

std::size_t DecryptingSource::read_some(std::uint64_t offset, std::span<std::uint8_t> buf) {
  if (offset >= size_ || buf.empty()) return 0;
  std::lock_guard lock(mu_);
  std::uint64_t block = offset / 16;
  std::size_t skip = std::size_t(offset % 16);
  std::size_t n = std::size_t(std::min<std::uint64_t>({std::uint64_t(buf.size()), size_ - offset,
                                                       std::uint64_t(cbuf_.size() - 16)}));
  std::size_t span = (skip + n + 15) / 16 * 16;
  std::size_t got = file_.read_at(base_ + block * 16, {cbuf_.data(), span});
  if (got < skip + n) n = got > skip ? got - skip : 0;
  if (n == 0) return 0;
  std::size_t blocks = (skip + n + 15) / 16;
  std::uint32_t low = std::uint32_t(counter0_[12]) << 24 | std::uint32_t(counter0_[13]) << 16 |
                      std::uint32_t(counter0_[14]) << 8 | counter0_[15];
  for (std::size_t i = 0; i < blocks; ++i) {
    std::uint8_t* c = &kbuf_[i * 16];
    std::memcpy(c, counter0_.data(), 12);
    std::uint32_t v = low + std::uint32_t(block + i);  // inc32 wraps modulo 2^32
    c[12] = std::uint8_t(v >> 24);
    c[13] = std::uint8_t(v >> 16);
    c[14] = std::uint8_t(v >> 8);
    c[15] = std::uint8_t(v);
  }
  int out = 0;
  if (EVP_EncryptUpdate(ecb_->ctx.get(), kbuf_.data(), &out, kbuf_.data(), int(blocks * 16)) != 1)
    throw io::Failure(io::Fail::resource, "OpenSSL: AES-ECB failed");
  for (std::size_t i = 0; i < n; ++i) buf[i] = cbuf_[skip + i] ^ kbuf_[skip + i];
  return n;
}

struct EncryptingWriter::Gcm {
  Ctx ctx;
};

EncryptingWriter::EncryptingWriter(io::OutputSink& out, const Key& key, const std::string& key_id)
    : out_(out), gcm_(std::make_unique<Gcm>()) {
  std::vector<std::uint8_t> nonce(16);
  if (RAND_bytes(nonce.data(), int(nonce.size())) != 1) throw io::Failure(io::Fail::resource, "OpenSSL: no random nonce available");
  nlohmann::json j = {{"cipher", "AES-GCM"}, {"nonce", base64_encode(nonce)},
                      {"key_id", key_id.empty() ? nlohmann::json(nullptr) : nlohmann::json(key_id)}};
  std::string header(reinterpret_cast<const char*>(kMagic), 4);
  header += j.dump();
  header.push_back('\0');
  gcm_->ctx = gcm_context(key, nonce, true);
  int n = 0;
  if (EVP_EncryptUpdate(gcm_->ctx.get(), nullptr, &n, reinterpret_cast<const std::uint8_t*>(header.data()),
                        int(header.size())) != 1)
    throw io::Failure(io::Fail::resource, "OpenSSL: GCM failed");
  out_.write(header);
}

EncryptingWriter::~EncryptingWriter() = default;

void EncryptingWriter::write(std::string_view plain) {
  while (!plain.empty()) {
    std::size_t n = std::min<std::size_t>(plain.size(), 1 << 20);
    buf_.resize(n + 32);
    int out = 0;
    if (EVP_EncryptUpdate(gcm_->ctx.get(), reinterpret_cast<std::uint8_t*>(buf_.data()), &out,
                          reinterpret_cast<const std::uint8_t*>(plain.data()), int(n)) != 1)
      throw io::Failure(io::Fail::resource, "OpenSSL: GCM failed");
    out_.write({buf_.data(), std::size_t(out)});
    plain.remove_prefix(n);
  }
}

void EncryptingWriter::finish() {
  std::uint8_t tail[32], tag[kTagLen];
  int n = 0;
  if (EVP_EncryptFinal_ex(gcm_->ctx.get(), tail, &n) != 1 ||
      EVP_CIPHER_CTX_ctrl(gcm_->ctx.get(), EVP_CTRL_GCM_GET_TAG, int(kTagLen), tag) != 1)
    throw io::Failure(io::Fail::resource, "OpenSSL: GCM failed");
  if (n > 0) out_.write({reinterpret_cast<char*>(tail), std::size_t(n)});
  out_.write({reinterpret_cast<char*>(tag), kTagLen});
}

}  // namespace zm::crypt
