// SysReptor's encrypted backups (.zip.crypt): magic C2 59 50 54, a JSON header ended by NUL
// (cipher, nonce, key_id), AES-256-GCM ciphertext of the ZIP, a 16-byte tag. The whole header
// is the associated data. All cryptography goes through OpenSSL's EVP interface.
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "io/output.h"
#include "io/source.h"

namespace zm::crypt {

using Key = std::array<std::uint8_t, 32>;
inline constexpr std::size_t kTagLen = 16;

bool has_magic(io::ByteSource& src);

struct Header {
  std::vector<std::uint8_t> raw;  // magic + JSON + NUL: the GCM associated data
  std::vector<std::uint8_t> nonce;
  std::string cipher;
  std::string key_id;  // empty when null
};
Header read_header(io::ByteSource& src, const std::string& name);

// 64 hex digits; the error message never repeats the text.
Key parse_key(const std::string& hex);

// Reads the whole ciphertext through GCM once, in bounded memory, and compares the tag.
bool tag_matches(io::ByteSource& file, const Header& h, const Key& key);

// The plaintext as a ByteSource with random access: GCM is a counter mode, so any block can be
// decrypted on its own (the counter of block i is the first counter with its low 32 bits
// advanced by i, NIST SP 800-38D inc32). Without the tag check this proves nothing about
// authenticity; callers check the tag first or say they could not.
class DecryptingSource final : public io::ByteSource {
 public:
  DecryptingSource(io::ByteSource& file, const Header& h, const Key& key, bool has_tag);
  ~DecryptingSource() override;
  std::uint64_t size() const override { return size_; }
  std::size_t read_some(std::uint64_t offset, std::span<std::uint8_t> buf) override;

 private:
  io::ByteSource& file_;
  std::uint64_t base_, size_;
  std::array<std::uint8_t, 16> counter0_{};
  struct Ecb;
  std::unique_ptr<Ecb> ecb_;
  std::vector<std::uint8_t> cbuf_, kbuf_;
  std::mutex mu_;  // verify decodes entries on several threads; one cipher context serves them
};

// Writes header, ciphertext and tag to `out` as data is given: for repair --encrypt.
class EncryptingWriter {
 public:
  EncryptingWriter(io::OutputSink& out, const Key& key, const std::string& key_id);
  ~EncryptingWriter();
  void write(std::string_view plain);
  void finish();  // writes the tag

 private:
  io::OutputSink& out_;
  struct Gcm;
  std::unique_ptr<Gcm> gcm_;
  std::string buf_;
};

}  // namespace zm::crypt
