#include <doctest/doctest.h>

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "check/verifier.h"
#include "io/output.h"
#include "repair/plan.h"
#include "repair/repair.h"
#include "zipbuild.h"

using namespace zm;
using test::Descriptor;
namespace fs = std::filesystem;

namespace {
struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / ("zipmedic-unit-" + std::to_string(::getpid()) + "-" + std::to_string(rand()));
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
};
void write_file(const fs::path& p, const std::vector<std::uint8_t>& b) {
  std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), b.size());
}
}  // namespace

TEST_CASE("repair: in-place only appends, and the result verifies") {
  TempDir t;
  std::vector<test::Item> items;
  for (int i = 0; i < 5; ++i)
    items.push_back({"f" + std::to_string(i), test::text_of(3000, i + 1), true, Descriptor::sig24, true});
  auto built = test::build_zip(items, false);
  std::vector<std::uint8_t> cut(built.bytes.begin(), built.bytes.begin() + built.offsets[4] + 50);
  auto p = t.path / "cut.zip";
  write_file(p, cut);
  repair::RepairRequest req;
  req.input = p;
  req.in_place = true;
  auto r = repair::repair_archive(req);
  CHECK(r.written);
  CHECK(r.recovered_entries == 4);
  CHECK(r.lost_entries == 1);
  auto after = io::read_whole_file(p);
  REQUIRE(after.size() > cut.size());
  CHECK(std::equal(cut.begin(), cut.end(), after.begin()));
  io::FileSource src(p);
  auto v = check::verify_archive(src, p, {});
  CHECK(v.report.verdict == report::Verdict::ok);
  CHECK(v.entries.size() == 4);
}

TEST_CASE("repair: copy mode leaves the input alone and no temporary behind") {
  TempDir t;
  auto built = test::build_zip({{"a", test::text_of(5000)}, {"b", test::noise_of(5000), false, Descriptor::sig16}}, false);
  auto in = t.path / "in.zip", out = t.path / "out.zip";
  write_file(in, built.bytes);
  repair::RepairRequest req;
  req.input = in;
  req.output = out;
  auto r = repair::repair_archive(req);
  CHECK(r.written);
  CHECK(r.lost_entries == 0);
  CHECK(io::read_whole_file(in) == built.bytes);
  int files = 0;
  for (auto& e : fs::directory_iterator(t.path)) files += e.is_regular_file();
  CHECK(files == 2);
}

TEST_CASE("repair: nothing whole means nothing written") {
  TempDir t;
  auto built = test::build_zip({{"a", test::text_of(50000)}}, false);
  std::vector<std::uint8_t> cut(built.bytes.begin(), built.bytes.begin() + 500);
  auto in = t.path / "in.zip";
  write_file(in, cut);
  repair::RepairRequest req;
  req.input = in;
  req.output = t.path / "out.zip";
  auto r = repair::repair_archive(req);
  CHECK_FALSE(r.written);
  CHECK_FALSE(fs::exists(t.path / "out.zip"));
}

TEST_CASE("repair: the appender restores the original length when a write fails") {
  TempDir t;
  auto p = t.path / "a.bin";
  write_file(p, std::vector<std::uint8_t>(1000, 7));
  {
    io::InPlaceAppender app(p);
    app.write("more bytes");
    // destroyed without commit: as when an exception unwinds
  }
  CHECK(fs::file_size(p) == 1000);
}

namespace {
scan::Entry found(const std::string& name, std::uint64_t offset, report::EntryStatus status, std::uint32_t crc = 7) {
  scan::Entry e;
  e.name = name;
  e.lfh_offset = offset;
  e.status = status;
  e.flags = zip::kFlagDescriptor;
  e.compressed_size = e.uncompressed_size = 100;
  e.crc32 = crc;
  if (status == report::EntryStatus::ok) e.decoded = codec::DecodeResult{codec::DecodeResult::Status::ok, 100, 100, crc, {}};
  return e;
}
}  // namespace

TEST_CASE("repair plan: whole entries kept once in file order, the rest named as lost") {
  std::vector<scan::Entry> walk = {found("a", 0, report::EntryStatus::ok), found("b", 200, report::EntryStatus::damaged),
                                   found("a", 400, report::EntryStatus::ok, 9), found("c", 600, report::EntryStatus::ok)};
  std::map<std::uint64_t, scan::Entry> directory;
  directory.emplace(0, found("a", 0, report::EntryStatus::ok));
  directory.emplace(900, found("gone", 900, report::EntryStatus::ok));
  auto p = repair::plan(walk, directory, {false, false, 1000});
  REQUIRE(p.keep.size() == 2);
  CHECK(p.keep[0].record.name == "a");
  CHECK(p.keep[1].record.name == "c");
  // Copy mode writes sizes into fresh local headers: bit 3 goes.
  CHECK((p.keep[1].record.flags & zip::kFlagDescriptor) == 0);
  CHECK(p.lost == std::vector<std::string>{"b", "a", "gone"});
  std::set<report::Code> codes;
  for (auto& f : p.findings) codes.insert(f.code);
  // "c" has no old record: its type and mode were only in the directory.
  CHECK(codes == std::set<report::Code>{report::Code::duplicate_name, report::Code::entry_truncated,
                                        report::Code::metadata_lost});
  CHECK(p.keep[1].record.external_attr == 0100600u << 16);
  CHECK((p.keep[1].record.version_made_by >> 8) == 3);
  CHECK(p.partials.empty());
}

TEST_CASE("repair plan: the same entry twice comes back once, a damaged copy of it is not lost") {
  // A range repeated (a download resumed too early): a cut first copy of "a", then "a" whole,
  // then "a" again whole; no record survives, so folders come back 0700.
  std::vector<scan::Entry> walk = {found("a", 0, report::EntryStatus::damaged), found("a", 200, report::EntryStatus::ok),
                                   found("a", 400, report::EntryStatus::ok), found("d/", 600, report::EntryStatus::ok, 0)};
  auto p = repair::plan(walk, {}, {false, false, 1000});
  REQUIRE(p.keep.size() == 2);
  CHECK(p.keep[0].entry->lfh_offset == 200);
  CHECK(p.keep[1].record.external_attr == ((040700u << 16) | 0x10));
  CHECK(p.lost.empty());
  REQUIRE(p.findings.size() == 1);
  CHECK(p.findings[0].code == report::Code::metadata_lost);
  CHECK(p.findings[0].message.starts_with("2 entries had their type and permissions only in the lost directory"));
}

TEST_CASE("repair plan: in place the directory points at the entries' own headers, flags as they are") {
  std::vector<scan::Entry> walk = {found("a", 10, report::EntryStatus::ok), found("b", 300, report::EntryStatus::truncated)};
  auto p = repair::plan(walk, {}, {true, true, 1000});
  REQUIRE(p.keep.size() == 1);
  CHECK(p.keep[0].record.local_offset == 10);
  CHECK(p.keep[0].record.flags == zip::kFlagDescriptor);
  // Salvage writes new data, which an append never does.
  CHECK(p.partials.empty());
  CHECK(p.lost == std::vector<std::string>{"b"});
}

TEST_CASE("repair plan: the old directory's CRC disagreeing with the decoded data is reported, the data wins") {
  std::vector<scan::Entry> walk = {found("a", 0, report::EntryStatus::ok, 7)};
  std::map<std::uint64_t, scan::Entry> directory;
  directory.emplace(0, found("a", 0, report::EntryStatus::ok, 8));
  auto p = repair::plan(walk, directory, {false, false, 1000});
  REQUIRE(p.keep.size() == 1);
  CHECK(p.keep[0].record.crc32 == 7);
  REQUIRE(p.findings.size() == 1);
  CHECK(p.findings[0].code == report::Code::cd_lfh_mismatch);
}

TEST_CASE("output: without --force, a file that appears while the repair runs is left as it is") {
  TempDir t;
  auto target = t.path / "out.zip";
  {
    io::AtomicOutputFile out(target, false);
    out.write("repaired bytes");
    write_file(target, {'m', 'i', 'n', 'e'});
    CHECK_THROWS_AS(out.commit(), io::Failure);
  }
  CHECK(io::read_whole_file(target) == std::vector<std::uint8_t>{'m', 'i', 'n', 'e'});
  int files = 0;
  for (auto& e : fs::directory_iterator(t.path)) files += e.is_regular_file();
  CHECK(files == 1);  // the temporary is gone
}

TEST_CASE("output: a stream target gets nothing before commit and everything after") {
  TempDir t;
  auto target = t.path / "fifo-like";
  write_file(target, {});
  auto kind = io::classify_output(target);
  CHECK(kind.kind == io::OutputTarget::Kind::existing_file);
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  auto name = "/dev/fd/" + std::to_string(fds[1]);
  auto pipe_target = io::classify_output(name);
  REQUIRE(pipe_target.kind == io::OutputTarget::Kind::stream);
  CHECK(pipe_target.fd == fds[1]);
  {
    io::StreamOutput out(pipe_target, 100);
    out.write("abc");
    out.write("def");
    char buf[8];
    ::fcntl(fds[0], F_SETFL, O_NONBLOCK);
    CHECK(::read(fds[0], buf, sizeof buf) < 0);  // nothing yet: the proof comes first
    CHECK(io::read_whole_file(out.readback_path()).size() == 6);
    out.commit();
    CHECK(::read(fds[0], buf, sizeof buf) == 6);
    CHECK(std::string(buf, 6) == "abcdef");
  }
  ::close(fds[0]);
  ::close(fds[1]);
}
