#include <doctest/doctest.h>

#include <set>

#include "check/verifier.h"
#include "scan/end_records.h"
#include "scan/local_scanner.h"
#include "zipbuild.h"

using namespace zm;
using test::Descriptor;

namespace {
std::set<std::string> codes_of(const report::Report& r) {
  std::set<std::string> s;
  for (auto& f : r.findings) s.insert(std::string(report::to_string(f.code)));
  return s;
}
}  // namespace

TEST_CASE("verify: a whole archive in every descriptor layout is ok") {
  for (auto d : {Descriptor::none, Descriptor::sig16, Descriptor::nosig12, Descriptor::sig24}) {
    auto built = test::build_zip({{"a", test::text_of(4000)}, {"b", test::noise_of(100), false, d}}, true);
    io::MemorySource src(built.bytes);
    auto v = check::verify_archive(src, "mem.zip", {2, false});
    CHECK(v.report.verdict == report::Verdict::ok);
    CHECK(v.entries.size() == 2);
    CHECK(v.from_directory);
  }
}

TEST_CASE("verify: empty input cannot proceed") {
  io::MemorySource src({});
  CHECK_THROWS_AS(check::verify_archive(src, "e.zip", {}), check::CannotProceed);
}

TEST_CASE("verify: an empty archive (end record only) is ok") {
  auto built = test::build_zip({}, true);
  io::MemorySource src(built.bytes);
  auto v = check::verify_archive(src, "empty.zip", {});
  CHECK(v.report.verdict == report::Verdict::ok);
  CHECK(v.entries.empty());
}

TEST_CASE("verify: a descriptor that disagrees with the directory is reported") {
  auto built = test::build_zip({{"a", test::text_of(4000), true, Descriptor::sig16}}, true);
  auto bytes = built.bytes;
  // The descriptor's CRC field: 16 bytes before the directory, after the signature.
  bytes[built.cd_offset - 12] ^= 1;
  io::MemorySource src(bytes);
  auto v = check::verify_archive(src, "d.zip", {});
  CHECK(codes_of(v.report).count("descriptor_mismatch"));
  CHECK(v.report.verdict == report::Verdict::damaged);
}

TEST_CASE("verify: bytes between entries are a gap; a hidden header is unreferenced") {
  auto built = test::build_zip({{"a", test::text_of(4000)}, {"b", test::text_of(100)}}, true);
  // Rebuild with the second entry's directory record dropped: its bytes become unreferenced.
  auto bytes = built.bytes;
  io::MemorySource probe(bytes);
  auto end = scan::locate_end_records(probe);
  REQUIRE(end);
  std::string cd(bytes.begin() + end->cd_start, bytes.begin() + end->eocd_offset);
  std::size_t first_len = 46 + 1 + 0;
  std::string data(bytes.begin(), bytes.begin() + end->cd_start);
  std::string out = data + cd.substr(0, first_len) + repair::end_records_bytes(1, data.size(), first_len);
  io::MemorySource src(std::vector<std::uint8_t>(out.begin(), out.end()));
  auto v = check::verify_archive(src, "u.zip", {});
  CHECK(codes_of(v.report).count("unreferenced_local_header"));
  CHECK(v.report.verdict == report::Verdict::ok);  // a warning: nothing listed is damaged
}

namespace {
// Reads past `fail_at` fail as a disk would (EIO): the error must reach the caller, from
// whichever thread met it, instead of terminating the process.
class FailingSource final : public io::ByteSource {
 public:
  FailingSource(std::vector<std::uint8_t> b, std::uint64_t fail_at) : mem_(std::move(b)), fail_at_(fail_at) {}
  std::uint64_t size() const override { return mem_.size(); }
  std::size_t read_some(std::uint64_t off, std::span<std::uint8_t> buf) override {
    if (off + buf.size() > fail_at_ && off < fail_at_ + 4096) throw io::IoError("test: read error");
    return mem_.read_some(off, buf);
  }

 private:
  io::MemorySource mem_;
  std::uint64_t fail_at_;
};
}  // namespace

TEST_CASE("verify and scan: a read error on a worker thread is reported, not a crash") {
  std::vector<test::Item> items;
  for (int i = 0; i < 8; ++i) items.push_back({"f" + std::to_string(i), test::text_of(20000, i + 1)});
  auto built = test::build_zip(items, true);
  FailingSource src(built.bytes, built.offsets[5] + 100);
  CHECK_THROWS_AS(check::verify_archive(src, "eio.zip", {2, false}), io::IoError);
  auto cut = built.bytes;
  cut.resize(built.cd_offset);  // no directory: the walk and its workers read the data
  FailingSource src2(cut, built.offsets[5] + 100);
  codec::Workspace ws;
  CHECK_THROWS_AS(scan::scan_local(src2, ws, {nullptr, 0, 2}), io::IoError);
}
