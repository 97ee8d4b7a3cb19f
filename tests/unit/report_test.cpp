#include <doctest/doctest.h>

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
  r.add(make_finding("crc_mismatch", std::string("a\xffz"), 10, "bad"));
  r.add(make_finding("gap_bytes", std::nullopt, 20, "gap"));
  r.decide_verdict();
  auto j = to_json(r);
  CHECK(j["schema"] == "zipmedic.report/1");
  CHECK(j["verdict"] == "damaged");
  CHECK(j["findings"][0]["severity"] == "error");
  CHECK(j["findings"][0]["entry"] == "a\\xffz");
  CHECK(j["findings"][1]["severity"] == "warning");
  CHECK(j["findings"][1]["entry"].is_null());
  CHECK_NOTHROW((void)j.dump());
  Report ok;
  ok.add(make_finding("gap_bytes", std::nullopt, 1, "only a warning"));
  ok.decide_verdict();
  CHECK(ok.verdict == Verdict::ok);
}
