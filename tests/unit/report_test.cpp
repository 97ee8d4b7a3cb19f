#include <doctest/doctest.h>

#include <sstream>

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
  r.add(make_finding(Code::crc_mismatch, std::string("a\xffz"), 10, "bad"));
  r.add(make_finding(Code::gap_bytes, std::nullopt, 20, "gap"));
  r.decide_verdict();
  std::ostringstream out;
  write_json(out, r);
  auto j = nlohmann::json::parse(out.str());  // throws if what was written is not one JSON document
  CHECK(j["schema"] == "zipmedic.report/1");
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
