// Encrypted ZIP entries: traditional PKWARE encryption (APPNOTE 6.1, "ZipCrypto") and WinZip AES
// (AE-1/AE-2, method 99 with extra field 0x9901). A decryption layer under the decoders: the
// entry's encrypted bytes are read from the source, decrypted as the decoder asks for them and
// handed to codec::Workspace::decode as if they were plain compressed data.
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "codec/codec.h"
#include "io/source.h"
#include "zip/records.h"

namespace zm::zipcrypt {

// The fields of an entry that the encryption layer reads, as the caller's catalogue settled
// them (scan::crypt_fields fills it from a scan::Entry): this layer sits under scan/ and does not
// know the catalogue.
struct EntryFields {
  std::uint16_t flags = 0, method = 0, mod_time = 0;
  std::uint32_t crc32 = 0;
  std::uint64_t compressed_size = 0;
  // The directory record's and the local header's extra blocks (the AES field is in either).
  std::span<const std::uint8_t> cd_extra, lfh_extra;
  bool encrypted() const { return flags & (zip::kFlagEncrypted | zip::kFlagStrongEncryption); }
  bool has_descriptor_flag() const { return flags & zip::kFlagDescriptor; }
};

// What became of an encrypted entry's password (decode): not tried (no decoder for its scheme or
// method), none given, the verifier refused it, the data was decrypted (and then judged like any
// other), or WinZip AES's authentication code did not match the ciphertext.
enum class Outcome : std::uint8_t { not_tried, no_password, wrong_password, decrypted, auth_failed };

// 6.1.5-6.1.6: the three 32-bit keys, updated with each plain byte.
class TraditionalKeys {
 public:
  explicit TraditionalKeys(std::string_view password);
  std::uint8_t decrypt(std::uint8_t c) {
    std::uint8_t p = c ^ stream_byte();
    update(p);
    return p;
  }
  void decrypt(std::span<std::uint8_t> buf) {
    for (auto& b : buf) b = decrypt(b);
  }
  std::uint8_t encrypt(std::uint8_t p) {
    std::uint8_t c = p ^ stream_byte();
    update(p);
    return c;
  }

 private:
  std::uint8_t stream_byte() const {
    std::uint32_t t = (k_[2] | 2) & 0xFFFF;
    return std::uint8_t((t * (t ^ 1)) >> 8);
  }
  void update(std::uint8_t p);
  std::array<std::uint32_t, 3> k_;
};

// WinZip AES (the "AES Encryption Information" extra field, 0x9901): AE-1 or AE-2, key strength
// 1-3 (128, 192, 256 bits), and the method the data is compressed with.
struct AesInfo {
  std::uint16_t vendor_version = 0;  // 1: AE-1, 2: AE-2 (CRC field is 0, the MAC stands in)
  std::uint8_t strength = 0;
  std::uint16_t method = 0;
  std::size_t key_len() const { return 8u * (strength + 1); }  // 16, 24, 32 bytes
  std::size_t salt_len() const { return key_len() / 2; }      // 8, 12, 16 bytes
};
// The 0x9901 field in an extra block, if there is one that is well formed.
std::optional<AesInfo> find_aes_extra(std::span<const std::uint8_t> extra);

inline constexpr std::size_t kTraditionalHeader = 12;  // 6.1.6: random bytes, last one a check
inline constexpr std::size_t kAesVerifier = 2, kAesMac = 10;

// PBKDF2-HMAC-SHA1 (1000 iterations) keys, AES-CTR with a little-endian counter from 1, and
// HMAC-SHA1 over the ciphertext.
class AesKeys {
 public:
  AesKeys(std::string_view password, std::span<const std::uint8_t> salt, std::uint8_t strength);
  ~AesKeys();
  AesKeys(const AesKeys&) = delete;
  AesKeys& operator=(const AesKeys&) = delete;
  std::array<std::uint8_t, 2> verifier() const { return verifier_; }
  // XORs the key stream for bytes [pos, pos + buf.size()) of the data into buf.
  void crypt(std::uint64_t pos, std::span<std::uint8_t> buf);
  void mac_update(std::span<const std::uint8_t> ciphertext);
  // Starts the MAC over (a decoder that read out of order).
  void mac_reset();
  std::array<std::uint8_t, kAesMac> mac_final();

 private:
  void* cipher_ = nullptr;  // EVP_CIPHER_CTX (AES-ECB over the counter blocks)
  void* mac_ = nullptr;     // EVP_MAC_CTX (HMAC-SHA1)
  std::array<std::uint8_t, 2> verifier_{};
  std::vector<std::uint8_t> mac_key_;
  std::vector<std::uint8_t> blocks_;
};

// Which scheme an entry uses and what it needs; `why` says why not when it is none.
struct Scheme {
  enum class Kind { none, traditional, aes } kind = Kind::none;
  AesInfo aes;
  std::string why;
  std::uint16_t method = 0;  // the compression method under the encryption
  std::size_t header() const { return kind == Kind::aes ? aes.salt_len() + kAesVerifier : kTraditionalHeader; }
  std::size_t trailer() const { return kind == Kind::aes ? kAesMac : 0; }
};
Scheme scheme_of(const EntryFields& e);

// Whether a decoder should be run on the entry: a plain entry of a supported method, or an
// encrypted one whose scheme and inner method are known.
bool decodable(const EntryFields& e);

// Decodes an entry's data: `req` describes the bytes as they lie in the source (for an encrypted
// entry: header, data and MAC). A plain entry goes straight to the decoder. For an encrypted one
// `password` is checked (nullptr: none was given), the data decrypted under the decoder and the
// MAC checked; `outcome` says what became of the password, and the result's `consumed` counts
// the encryption header and MAC.
codec::DecodeResult decode(codec::Workspace& ws, io::ByteSource& src, codec::DecodeRequest req, const EntryFields& e,
                           const std::string* password, Outcome& outcome);

}  // namespace zm::zipcrypt
