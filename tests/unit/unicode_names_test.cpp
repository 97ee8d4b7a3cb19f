// Info-ZIP's Unicode Path and Comment fields (0x7075, 0x6375), and names in a code page whose
// second bytes include 0x5C (issue 12, item 4).
#include <doctest/doctest.h>

#include <string>

#include "check/judge.h"
#include "check/names.h"
#include "codec/codec.h"

using namespace zm;

namespace {
// An Info-ZIP Unicode field: version 1, the CRC-32 of the raw text, the UTF-8 text.
std::string unicode_field(std::uint16_t id, const std::string& raw, const std::string& utf8, std::uint8_t version = 1) {
  std::uint32_t crc = codec::crc32(0, {reinterpret_cast<const std::uint8_t*>(raw.data()), raw.size()});
  std::string f;
  std::size_t len = 5 + utf8.size();
  f += char(id & 0xFF);
  f += char(id >> 8);
  f += char(len & 0xFF);
  f += char(len >> 8);
  f += char(version);
  for (int k = 0; k < 4; ++k) f += char(crc >> (8 * k));
  return f + utf8;
}
const std::string kTimestamp("\x55\x54\x05\x00\x03\x80\x3b\xb1\x6a", 9);  // 0x5455 before it
}  // namespace

TEST_CASE("unicode extra: taken only when its CRC is the raw name's, version 1, valid UTF-8") {
  const std::string raw("\x81\x01.txt", 6), utf8 = "\xc3\xbc.txt";
  auto extra = kTimestamp + unicode_field(check::kUnicodePathId, raw, utf8);
  CHECK(check::unicode_extra(extra, check::kUnicodePathId, raw) == utf8);
  // Renamed by a tool that left the field: the CRC no longer matches, the raw name stands.
  CHECK_FALSE(check::unicode_extra(extra, check::kUnicodePathId, "other.txt"));
  CHECK_FALSE(check::unicode_extra(extra, check::kUnicodeCommentId, raw));
  CHECK_FALSE(check::unicode_extra(unicode_field(check::kUnicodePathId, raw, utf8, 2), check::kUnicodePathId, raw));
  CHECK_FALSE(check::unicode_extra(unicode_field(check::kUnicodePathId, raw, "\xff.txt"), check::kUnicodePathId, raw));
  // A field that runs past its block is not read.
  auto cut = unicode_field(check::kUnicodePathId, raw, utf8);
  cut.resize(cut.size() - 1);
  CHECK_FALSE(check::unicode_extra(cut, check::kUnicodePathId, raw));
  const std::string comment = "caf\x82";  // CP437 e-acute
  CHECK(check::unicode_extra(unicode_field(check::kUnicodeCommentId, comment, "caf\xc3\xa9"),
                             check::kUnicodeCommentId, comment) == "caf\xc3\xa9");
}

TEST_CASE("names: a control-byte raw name with a matching Unicode Path field is judged by that name for unzip") {
  scan::Entry e;
  e.name = std::string("\x01\x02.txt", 6);
  e.lfh_offset = 0;
  e.extras = std::make_shared<const scan::Entry::Extras>(
      scan::Entry::Extras{unicode_field(check::kUnicodePathId, e.name, "ok.txt"), {}, {}});
  std::vector<report::Finding> out;
  check::judge_names({e}, out);
  for (const auto& f : out) {
    CHECK(f.code != report::Code::unsafe_path);
    if (f.code == report::Code::name_invalid) CHECK((f.readers.refuse & report::kUnzip) == 0);
  }
  // Without the field unzip drops the control bytes: it is named among the readers.
  scan::Entry plain = e;
  plain.extras.reset();
  out.clear();
  check::judge_names({plain}, out);
  bool unzip = false;
  for (const auto& f : out) unzip |= f.code == report::Code::name_invalid && (f.readers.refuse & report::kUnzip) != 0;
  CHECK(unzip);
}

TEST_CASE("names: a Unicode Path that escapes makes the entry unsafe although the raw name does not") {
  scan::Entry e;
  e.name = "safe.txt";
  e.extras = std::make_shared<const scan::Entry::Extras>(
      scan::Entry::Extras{unicode_field(check::kUnicodePathId, e.name, "../evil.txt"), {}, {}});
  std::vector<report::Finding> out;
  check::judge_names({e}, out);
  bool unsafe = false;
  for (const auto& f : out) unsafe |= f.code == report::Code::unsafe_path;
  CHECK(unsafe);
}

TEST_CASE("names: a CP932 name with 0x5C as a second byte is not unsafe") {
  scan::Entry e;
  e.name = "\x95\x5c\x8e\xa6.txt";  // Shift-JIS for two kanji, the first ending in 0x5C
  std::vector<report::Finding> out;
  check::judge_names({e}, out);
  for (const auto& f : out) CHECK(f.code != report::Code::unsafe_path);
}
