// ZipCrypto and WinZip AES against what the writers produced (fixtures/encrypted/): the password
// check values, the key stream and the MAC of real entries, and every fixture verified through
// reads of 1, 31 and any number of bytes.
#include <doctest/doctest.h>

#include <cstring>
#include <string>

#include "check/verifier.h"
#include "crypt/zip_crypto.h"
#include "scan/central_directory.h"
#include "scan/end_records.h"
#include "zip/records.h"

using namespace zm;

namespace {
const char* kPassword = "zipmedic-pw";  // scripts/make-fixtures, PASSWORD
const char* kVersion = "2026.11\n";     // fixtures/tree/backup/VERSION

std::vector<std::uint8_t> fixture(const std::string& name) {
  return io::read_whole_file(std::string(ZIPMEDIC_FIXTURES) + "/encrypted/" + name);
}

// The directory's record of `name` and where its (encrypted) data starts.
scan::Entry entry_of(io::ByteSource& src, const std::string& name) {
  auto end = scan::locate_end_records(src);
  REQUIRE(end);
  auto cd = scan::read_central_directory(src, *end);
  for (auto& e : cd.entries)
    if (e.name == name) {
      auto h = scan::read_local_header(src, e.lfh_offset, nullptr);
      REQUIRE(h);
      e.data_offset = e.lfh_offset + h->header_len();
      return e;
    }
  FAIL("no entry " << name);
  return {};
}

check::VerifyOptions with_password(const std::string* password) { return {.threads = 1, .password = password}; }
}  // namespace

TEST_CASE("zipcrypto: 7-Zip's header decrypts to the CRC's high byte and VERSION to its text") {
  auto bytes = fixture("7zip-zipcrypto.zip");
  io::MemorySource src(bytes);
  auto e = entry_of(src, "backup/VERSION");
  REQUIRE(e.method == zip::kStored);
  REQUIRE(e.compressed_size == zipcrypt::kTraditionalHeader + 8);
  auto c = src.read_vec(e.data_offset, std::size_t(e.compressed_size));
  zipcrypt::TraditionalKeys keys(kPassword);
  keys.decrypt(c);
  CHECK(c[11] == std::uint8_t(e.crc32 >> 24));  // APPNOTE 6.1.6 (bit 3 clear)
  CHECK(std::string(c.begin() + 12, c.end()) == kVersion);
  // Encrypting the plain bytes under fresh keys gives the writer's ciphertext back.
  zipcrypt::TraditionalKeys again(kPassword);
  auto orig = src.read_vec(e.data_offset, std::size_t(e.compressed_size));
  for (std::size_t i = 0; i < c.size(); ++i) CHECK(again.encrypt(c[i]) == orig[i]);
}

TEST_CASE("zipcrypto: Info-ZIP with bit 3 checks the DOS time's high byte") {
  auto bytes = fixture("infozip-zipcrypto-file.zip");
  io::MemorySource src(bytes);
  auto e = entry_of(src, "backup/VERSION");
  REQUIRE(e.has_descriptor_flag());
  auto c = src.read_vec(e.data_offset, std::size_t(e.compressed_size));
  zipcrypt::TraditionalKeys keys(kPassword);
  keys.decrypt(c);
  CHECK(c[11] == std::uint8_t(e.mod_time >> 8));
  CHECK(std::string(c.begin() + 12, c.end()) == kVersion);
}

TEST_CASE("aes: 7-Zip's and bsdtar's verifier, key stream and MAC for 128 and 256 bits") {
  for (const char* name : {"7zip-aes256.zip", "7zip-aes128.zip"}) {
    CAPTURE(name);
    auto bytes = fixture(name);
    io::MemorySource src(bytes);
    auto e = entry_of(src, "backup/VERSION");
    auto info = zipcrypt::find_aes_extra({reinterpret_cast<const std::uint8_t*>(e.cd_extra().data()), e.cd_extra().size()});
    REQUIRE(info);
    CHECK(info->vendor_version == 2);  // AE-2: the CRC field is 0
    CHECK(e.crc32 == 0);
    CHECK(info->method == zip::kStored);
    const std::size_t salt = info->salt_len();
    CHECK(salt == (std::string(name) == "7zip-aes256.zip" ? 16u : 8u));
    REQUIRE(e.compressed_size == salt + 2 + 8 + 10);
    auto c = src.read_vec(e.data_offset, std::size_t(e.compressed_size));
    zipcrypt::AesKeys keys(kPassword, {c.data(), salt}, info->strength);
    CHECK(keys.verifier()[0] == c[salt]);
    CHECK(keys.verifier()[1] == c[salt + 1]);
    std::vector<std::uint8_t> data(c.begin() + salt + 2, c.begin() + salt + 10);
    keys.mac_update(data);
    auto mac = keys.mac_final();
    CHECK(std::memcmp(mac.data(), c.data() + salt + 10, 10) == 0);
    keys.crypt(0, data);
    CHECK(std::string(data.begin(), data.end()) == kVersion);
    // The counter seeks: byte 5 alone decrypts as it does within the whole.
    std::vector<std::uint8_t> one(c.begin() + salt + 2 + 5, c.begin() + salt + 2 + 6);
    keys.crypt(5, one);
    CHECK(one[0] == std::uint8_t(kVersion[5]));
    zipcrypt::AesKeys wrong("zipmedic-PW", {c.data(), salt}, info->strength);
    CHECK((wrong.verifier()[0] != c[salt] || wrong.verifier()[1] != c[salt + 1]));
  }
}

TEST_CASE("aes: an extra field that runs past its block, or no AE field, is not taken") {
  const std::uint8_t good[] = {0x01, 0x99, 7, 0, 2, 0, 'A', 'E', 3, 8, 0};
  auto a = zipcrypt::find_aes_extra(good);
  REQUIRE(a);
  CHECK(a->strength == 3);
  CHECK(a->method == 8);
  const std::uint8_t cut[] = {0x01, 0x99, 9, 0, 2, 0, 'A', 'E', 3, 8, 0};
  CHECK_FALSE(zipcrypt::find_aes_extra(cut));
  const std::uint8_t other[] = {0x01, 0x99, 7, 0, 2, 0, 'X', 'Y', 3, 8, 0};
  CHECK_FALSE(zipcrypt::find_aes_extra(other));
}

TEST_CASE("every encrypted fixture verifies through 1-, 31- and whole reads; a wrong password names each entry") {
  for (const char* name : {"7zip-aes256.zip", "7zip-aes128.zip", "7zip-zipcrypto.zip", "bsdtar-aes256.zip",
                           "bsdtar-zipcrypt.zip", "infozip-zipcrypto-file.zip"}) {
    CAPTURE(name);
    io::MemorySource mem(fixture(name));
    for (std::size_t chunk : {std::size_t(1), std::size_t(31), std::size_t(1) << 30}) {
      CAPTURE(chunk);
      io::ChunkedSource src(mem, chunk);
      const std::string pw = kPassword;
      auto v = check::verify_archive(src, name, with_password(&pw));
      CHECK(v.report.verdict == report::Verdict::ok);
      for (auto& e : v.entries)
        if (e.encrypted()) CHECK(e.crypt == scan::CryptOutcome::decrypted);
    }
    {
      const std::string pw = "wrong";
      auto v = check::verify_archive(mem, name, with_password(&pw));
      CHECK(v.report.verdict == report::Verdict::locked);
      for (auto& e : v.entries)
        if (e.encrypted()) CHECK(e.crypt == scan::CryptOutcome::wrong_password);
    }
    {
      auto v = check::verify_archive(mem, name, with_password(nullptr));
      CHECK(v.report.verdict == report::Verdict::locked);
    }
  }
}
