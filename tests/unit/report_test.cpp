#include <doctest/doctest.h>

#include <iconv.h>

#include <sstream>

#include "report/ci.h"
#include "report/report.h"

using namespace zm::report;

TEST_CASE("report: names that are not valid UTF-8 are shown byte by byte, valid ones unchanged") {
  CHECK(printable_name("plain/name.txt") == "plain/name.txt");
  CHECK(printable_name("\xc3\xbc" "bersicht") == "\xc3\xbc" "bersicht");
  CHECK(printable_name("bad\xf6name") == "bad\\xf6name");   // a CP437 byte, not a 4-byte lead
  CHECK(printable_name("\xc0\xaf") == "\\xc0\\xaf");          // overlong '/'
  CHECK(printable_name("\xed\xa0\x80") == "\\xed\\xa0\\x80");  // a surrogate
  CHECK(printable_name("tab\there") == "tab\\x09here");
  CHECK(printable_name("cut\xe2\x82") == "cut\\xe2\\x82");
}

TEST_CASE("report: JSON has the documented top-level fields and codes keep their severity") {
  Report r;
  r.command = "verify";
  r.archive_path = "x.zip";
  r.add(make_finding(Code::crc_mismatch, std::string("a\xffz"), 10, "bad", zm::report::refusing(zm::report::kAllReaders)));
  r.add(make_finding(Code::gap_bytes, std::nullopt, 20, "gap"));
  r.decide_verdict();
  std::ostringstream out;
  write_json(out, r);
  auto j = nlohmann::json::parse(out.str());  // throws if what was written is not one JSON document
  CHECK(j["schema"] == "zipmedic.report/3");
  // One compact line: JSON Lines whatever the number of archives.
  CHECK(out.str().find('\n') == out.str().size() - 1);
  CHECK(j["verdict"] == "damaged");
  CHECK(j["findings"][0]["severity"] == "error");
  CHECK(j["findings"][0]["entry"] == "a\\xffz");
  CHECK(j["findings"][1]["severity"] == "warning");
  CHECK(j["findings"][1]["entry"].is_null());
  CHECK_NOTHROW((void)j.dump());
  Report ok;
  ok.add(make_finding(Code::gap_bytes, std::nullopt, 1, "only a warning"));
  ok.decide_verdict();
  CHECK(ok.verdict == Verdict::ok);
}

TEST_CASE("report: the JSON written entry by entry parses back to every entry and finding") {
  for (std::size_t n : {std::size_t(0), std::size_t(1), std::size_t(3)}) {
    CAPTURE(n);
    Report r;
    r.command = "scan";
    r.archive_path = "dir/\"quoted\".zip";
    for (std::size_t i = 0; i < n; ++i)
      r.entries.push_back({"e\\" + std::to_string(i) + "\x01", "deflate", i, 2 * i, 0xabcdefu, 30 * i, EntryStatus::ok,
                           i % 2 == 1, false});
    if (n) r.add(make_finding(Code::gap_bytes, std::nullopt, 5, "line\nbreak"));
    r.stats = {{"entries", n}};
    r.extra["repair"] = {{"entries_lost", 0}};
    r.decide_verdict();
    std::ostringstream out;
    write_json(out, r);
    auto j = nlohmann::json::parse(out.str());
    CHECK(out.str().find('\n') == out.str().size() - 1);
    CHECK(j["archive"]["path"] == "dir/\"quoted\".zip");
    REQUIRE(j["entries"].size() == n);
    for (std::size_t i = 0; i < n; ++i) {
      CHECK(j["entries"][i]["name"] == "e\\" + std::to_string(i) + "\\x01");
      CHECK(j["entries"][i]["uncompressed_size"] == 2 * i);
      CHECK(j["entries"][i]["crc32"] == "00abcdef");
      CHECK(j["entries"][i]["data_descriptor"] == (i % 2 == 1));
    }
    CHECK(j["findings"].size() == (n ? 1u : 0u));
    if (n) CHECK(j["findings"][0]["message"] == "line\\x0abreak");
    CHECK(j["stats"]["entries"] == n);
    CHECK(j["repair"]["entries_lost"] == 0);
  }
}

TEST_CASE("report: every CP437 byte of 0x80 and above is the code point glibc's iconv gives it") {
  // glibc's IBM437 converter is written apart from the table in report.cc: the two agree on all 128.
  iconv_t cd = iconv_open("UTF-32LE", "IBM437");
  REQUIRE(cd != iconv_t(-1));
  for (unsigned b = 0x80; b <= 0xFF; ++b) {
    char in = char(b);
    unsigned char out[4] = {};
    char* ip = &in;
    char* op = reinterpret_cast<char*>(out);
    std::size_t il = 1, ol = 4;
    REQUIRE(iconv(cd, &ip, &il, &op, &ol) == 0);
    const char32_t want = char32_t(out[0] | out[1] << 8 | out[2] << 16 | char32_t(out[3]) << 24);
    CAPTURE(b);
    CHECK(cp437_code_point(static_cast<unsigned char>(b)) == want);
  }
  iconv_close(cd);
  CHECK(cp437_code_point(0x80) == U'\u00C7');  // Ç
  CHECK(cp437_code_point(0x9A) == U'\u00DC');  // Ü
  CHECK(cp437_code_point(0xE1) == U'\u00DF');  // ß
  CHECK(cp437_code_point(0xFF) == U'\u00A0');  // no-break space
  CHECK(cp437_code_point('A') == U'A');
}

TEST_CASE("report: a name without bit 11 that is not UTF-8 is shown as CP437, any other as its bytes") {
  const std::uint16_t utf8_flag = 1u << 11;
  // 7-Zip, bsdtar hdrcharset=CP437 and MS-DOS tools: "Übersicht.txt" in CP437 is 9A 62 ...
  CHECK(display_name("\x9a" "bersicht.txt", 0) == "\xc3\x9c" "bersicht.txt");
  CHECK(other_display_name("\x9a" "bersicht.txt", 0) == "\xc3\x9c" "bersicht.txt");
  CHECK(display_name("caf\x82.txt", 0) == "caf\xc3\xa9.txt");
  CHECK(display_name("\xb0\xff", 0) == "\xe2\x96\x91\xc2\xa0");  // three-byte and two-byte forms
  // Bit 11 set: the writer said UTF-8, so bytes that are not stay escaped.
  CHECK(display_name("\x9a" "bersicht.txt", utf8_flag) == "\\x9abersicht.txt");
  CHECK(other_display_name("\x9a" "bersicht.txt", utf8_flag).empty());
  // Info-ZIP on Linux writes UTF-8 without the flag: shown as it is.
  CHECK(display_name("\xc3\x9c" "bersicht.txt", 0) == "\xc3\x9c" "bersicht.txt");
  CHECK(other_display_name("\xc3\x9c" "bersicht.txt", 0).empty());
  // Control bytes never reach the terminal, whichever way the name is read.
  CHECK(display_name("a\x1b[2Jb", 0) == "a\\x1b[2Jb");
  CHECK(display_name("\x9a\x1b\x7f", 0) == "\xc3\x9c\\x1b\\x7f");
  CHECK(display_name("\x9a\x1b", utf8_flag) == "\\x9a\\x1b");
}

TEST_CASE("report: --name-charset decodes legacy names through iconv; bytes it cannot convert stay escaped") {
  CHECK_FALSE(set_legacy_charset("NO-SUCH-CHARSET-ZM"));
  REQUIRE(set_legacy_charset("CP932"));
  // 日本 in Shift-JIS; 0x95 0x5C (表) has a backslash as its second byte.
  CHECK(display_name("\x93\xfa\x96\x7b.txt", 0) == "\xe6\x97\xa5\xe6\x9c\xac.txt");
  CHECK(display_name("\x95\x5c", 0) == "\xe8\xa1\xa8");
  CHECK(display_name("\x93\xfa\x01", 0) == "\xe6\x97\xa5\\x01");
  CHECK(display_name("a\x93", 0) == "a\\x93");  // a lead byte cut by the end of the name
  REQUIRE(set_legacy_charset("KOI8-R"));
  CHECK(display_name("\xf0\xd2\xc9\xd7\xc5\xd4", 0) == "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82");  // Привет
  REQUIRE(set_legacy_charset(""));
  CHECK(display_name("\xf0\xd2", 0) == "\xe2\x89\xa1\xe2\x95\xa5");  // back to CP437: ≡╥
}

TEST_CASE("report: rows and findings show the display name; JSON keeps the bytes in name") {
  Report r;
  r.command = "verify";
  r.archive_path = "x.zip";
  EntryRow row;
  row.name = "\x9a" "bersicht.txt";
  row.display_name = other_display_name(row.name, 0);
  r.entries.push_back(row);
  EntryRow plain;
  plain.name = "plain.txt";
  r.entries.push_back(plain);
  r.add(make_finding(Code::crc_mismatch, row.name, 0, "bad", zm::report::refusing(zm::report::kAllReaders)));
  r.add(make_finding(Code::crc_mismatch, std::string("\xfe" "other"), 0, "no row of this name", zm::report::refusing(zm::report::kAllReaders)));
  EntryRow flagged;  // bit 11 set on bytes that are not UTF-8: no display_name, the finding stays escaped
  flagged.name = "\xfe" "flagged";
  r.entries.push_back(flagged);
  r.add(make_finding(Code::name_invalid, flagged.name, 0, "bad", zm::report::refusing(zm::report::kJava)));
  r.settle_display_names();
  CHECK(shown_entry(r.findings[0]) == "\xc3\x9c" "bersicht.txt (bytes \\x9abersicht.txt)");
  CHECK(shown_entry(r.findings[1]) == "\\xfeother");
  CHECK(shown_entry(r.findings[2]) == "\\xfeflagged");
  std::ostringstream text;
  write_text(text, r, true);
  CHECK(text.str().find("\xc3\x9c" "bersicht.txt\n") != std::string::npos);
  CHECK(text.str().find("[\xc3\x9c" "bersicht.txt (bytes \\x9abersicht.txt)]") != std::string::npos);
  CHECK(text.str().find("\\x9abersicht.txt\n") == std::string::npos);
  std::ostringstream out;
  write_json(out, r);
  auto j = nlohmann::json::parse(out.str());
  CHECK(j["entries"][0]["name"] == "\\x9abersicht.txt");
  CHECK(j["entries"][0]["display_name"] == "\xc3\x9c" "bersicht.txt");
  CHECK_FALSE(j["entries"][1].contains("display_name"));
  CHECK_FALSE(j["entries"][2].contains("display_name"));
  CHECK(j["findings"][0]["entry"] == "\\x9abersicht.txt");
}

TEST_CASE("report: GitHub workflow commands escape as the runner decodes them") {
  using zm::report::github_escape_data;
  using zm::report::github_escape_property;
  CHECK(github_escape_data("100% a\r\nb: c, d") == "100%25 a%0D%0Ab: c, d");
  CHECK(github_escape_property("100% a\r\nb: c, d") == "100%25 a%0D%0Ab%3A c%2C d");
  CHECK(github_escape_property("%3A") == "%253A");  // the escape itself is escaped first
  Report r;
  r.command = "verify";
  r.archive_path = "dir/a,b:c.zip";
  r.add(make_finding(Code::crc_mismatch, std::string("x%y"), 10, "bad\nCRC", zm::report::refusing(zm::report::kAllReaders)));
  r.add(make_finding(Code::gap_bytes, std::nullopt, 20, "gap"));
  std::ostringstream out;
  write_github(out, r, false);
  CHECK(out.str() ==
        "::error file=dir/a%2Cb%3Ac.zip,title=zipmedic verify crc_mismatch::entry 'x%25y' at offset 10: bad%0ACRC\n"
        "::warning file=dir/a%2Cb%3Ac.zip,title=zipmedic verify gap_bytes::at offset 20: gap\n");
  std::ostringstream strict;
  write_github(strict, r, true);
  CHECK(strict.str().find("::error file=dir/a%2Cb%3Ac.zip,title=zipmedic verify gap_bytes::") != std::string::npos);
}
