#include <doctest/doctest.h>

#include "repair/repair.h"
#include "zip/records.h"

using namespace zm;

static zip::Bytes bytes_of(const std::string& s) { return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()}; }

TEST_CASE("records: cursor refuses to read past the end instead of overrunning") {
  std::string s = "\x01\x02\x03";
  zip::Cursor c(bytes_of(s));
  CHECK(c.u16() == 0x0201);
  CHECK_THROWS_AS(c.u16(), zip::FormatError);
  CHECK_THROWS_AS(c.take(2), zip::FormatError);
}

TEST_CASE("records: local ZIP64 extra with zero sizes (zipstream-ng) is read as both sizes") {
  std::string ex;
  zip::put16(ex, 0x0001);
  zip::put16(ex, 16);
  zip::put64(ex, 0);
  zip::put64(ex, 0);
  auto z = zip::parse_zip64_extra(bytes_of(ex), true, true, false, false);
  REQUIRE(z);
  CHECK(z->uncompressed == 0u);
  CHECK(z->compressed == 0u);
}

TEST_CASE("records: central ZIP64 extra holds only the all-ones fields, in 4.5.3 order") {
  std::string ex;
  zip::put16(ex, 0x5455);  // a timestamp field before it must be skipped
  zip::put16(ex, 5);
  ex += std::string(5, 'x');
  zip::put16(ex, 0x0001);
  zip::put16(ex, 8);
  zip::put64(ex, 0x123456789ull);
  auto z = zip::parse_zip64_extra(bytes_of(ex), false, false, true, false);
  REQUIRE(z);
  CHECK_FALSE(z->uncompressed);
  CHECK(z->offset == 0x123456789ull);
  bool malformed = false;
  auto bad = zip::parse_zip64_extra(bytes_of(ex), true, true, true, false, &malformed);
  CHECK(bad);
  CHECK(malformed);
}

TEST_CASE("records: strip_extra removes the ZIP64 field and keeps the others") {
  std::string ex;
  zip::put16(ex, 0x0001);
  zip::put16(ex, 16);
  ex += std::string(16, '\0');
  zip::put16(ex, 0x5455);
  zip::put16(ex, 1);
  ex += "t";
  CHECK(zip::strip_extra(bytes_of(ex), 0x0001) == ex.substr(20));
  // A truncated field at the end is dropped, not copied.
  std::string cut_field("\x09\x00\x10\x00", 4);  // id 9, 16 bytes announced, 2 present
  CHECK(zip::strip_extra(bytes_of(ex + cut_field + "ab"), 0x0001) == ex.substr(20));
}

TEST_CASE("records: end records get ZIP64 exactly when a value needs it") {
  auto classic = repair::end_records_bytes(65534, 1000, 200);
  CHECK(classic.size() == zip::kEndLen);
  auto many = repair::end_records_bytes(65535, 1000, 200);
  CHECK(many.size() == zip::kZip64EndLen + zip::kZip64LocatorLen + zip::kEndLen);
  auto far = repair::end_records_bytes(3, 0x100000000ull, 200);
  REQUIRE(far.size() == zip::kZip64EndLen + zip::kZip64LocatorLen + zip::kEndLen);
  auto z = zip::parse_zip64_end(bytes_of(far.substr(0, zip::kZip64EndLen)));
  CHECK(z.cd_offset == 0x100000000ull);
  CHECK(z.record_size == 44);
  auto loc = zip::parse_zip64_locator(bytes_of(far.substr(zip::kZip64EndLen, zip::kZip64LocatorLen)));
  CHECK(loc.zip64_end_offset == 0x100000000ull + 200);
  auto e = zip::parse_end(bytes_of(far.substr(zip::kZip64EndLen + zip::kZip64LocatorLen)));
  CHECK(e.cd_offset == 0xFFFFFFFFu);
  CHECK(e.entries_total == 3);
}

TEST_CASE("records: central record carries a ZIP64 extra only for the values that overflow") {
  repair::EntryRecord r;
  r.name = "big";
  r.compressed_size = 10;
  r.uncompressed_size = 0x100000000ull;
  r.local_offset = 5;
  auto b = repair::central_record_bytes(r);
  zip::Cursor c(bytes_of(b));
  auto h = zip::parse_central(c);
  CHECK(h.uncompressed_size == 0xFFFFFFFFu);
  CHECK(h.compressed_size == 10);
  CHECK(h.version_needed == 45);
  auto z = zip::parse_zip64_extra(bytes_of(h.extra), true, false, false, false);
  REQUIRE(z);
  CHECK(z->uncompressed == 0x100000000ull);
  CHECK(h.extra.size() == 12);
  repair::EntryRecord small = r;
  small.uncompressed_size = 0xFFFFFFFEull;
  std::string small_bytes = repair::central_record_bytes(small);
  zip::Cursor c2(bytes_of(small_bytes));
  CHECK(zip::parse_central(c2).extra.empty());
}

TEST_CASE("records: NTFS extra field's modification time as Unix seconds and nanoseconds") {
  // As 7-Zip writes it (-mtc=on): 0x000a, 32 bytes: 4 reserved, tag 1, size 24, mtime, atime, ctime.
  // 1790000003.25 s after 1970 = (1790000003.25 + 11644473600) * 10^7 FILETIME ticks.
  const std::uint64_t ticks = (1790000003ull + 11644473600ull) * 10000000ull + 2500000ull;
  std::vector<std::uint8_t> x = {0x55, 0x54, 1, 0, 0,  // an extended timestamp field first
                                 0x0a, 0x00, 32, 0, 0, 0, 0, 0, 1, 0, 24, 0};
  for (int i = 0; i < 8; ++i) x.push_back(std::uint8_t(ticks >> (8 * i)));
  x.resize(x.size() + 16, 0);
  auto t = zip::ntfs_modified(x);
  REQUIRE(t);
  CHECK(t->seconds == 1790000003);
  CHECK(t->nanoseconds == 250000000u);
  // A zero FILETIME records nothing; a field cut short, or another tag, gives nothing.
  std::vector<std::uint8_t> zero = {0x0a, 0x00, 32, 0, 0, 0, 0, 0, 1, 0, 24, 0};
  zero.resize(zero.size() + 24, 0);
  CHECK_FALSE(zip::ntfs_modified(zero));
  std::vector<std::uint8_t> cut(x.begin() + 5, x.begin() + 5 + 20);
  CHECK_FALSE(zip::ntfs_modified(cut));
  std::vector<std::uint8_t> other = {0x0a, 0x00, 12, 0, 0, 0, 0, 0, 2, 0, 4, 0, 1, 2, 3, 4};
  CHECK_FALSE(zip::ntfs_modified(other));
}
