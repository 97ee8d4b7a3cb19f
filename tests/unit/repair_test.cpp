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

namespace {
// A never-finished archive (no directory) with one large stored entry, which the writer copies
// through the kernel, and small deflated ones, which it gathers: the copy mode's two paths.
struct Unfinished {
  TempDir t;
  fs::path in = t.path / "in.zip", out = t.path / "out.zip";
  std::string big = test::noise_of(300000, 3);
  Unfinished() {
    write_file(in, test::build_zip({{"small-1", test::text_of(4000, 1), true, Descriptor::sig16},
                                    {"big.bin", big, false, Descriptor::sig16},
                                    {"small-2", test::text_of(4000, 2), true, Descriptor::sig16}},
                                   false)
                       .bytes);
  }
  repair::RepairRequest request(std::function<void(const std::string&)> tamper) const {
    repair::RepairRequest req;
    req.input = in;
    req.output = out;
    req.before_proof = std::move(tamper);
    return req;
  }
};

void patch(const std::string& path, std::uint64_t at, const std::vector<std::uint8_t>& bytes) {
  int fd = ::open(path.c_str(), O_WRONLY);
  REQUIRE(fd >= 0);
  REQUIRE(::pwrite(fd, bytes.data(), bytes.size(), off_t(at)) == ssize_t(bytes.size()));
  ::close(fd);
}

std::uint64_t find_in_file(const std::string& path, const std::string& needle) {
  auto bytes = io::read_whole_file(path);
  std::string_view s(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  auto at = s.find(needle);
  REQUIRE(at != std::string_view::npos);
  return at;
}
}  // namespace

TEST_CASE("repair: a copy is proven from the walk's decode, and is byte for byte the input's data") {
  Unfinished u;
  std::uint64_t copied_at = 0;
  auto r = repair::repair_archive(u.request([&](const std::string& p) { copied_at = find_in_file(p, u.big.substr(0, 64)); }));
  CHECK(r.written);
  CHECK(r.recovered_entries == 3);
  CHECK(copied_at > 0);
  io::FileSource out(u.out);
  auto v = check::verify_archive(out, u.out, {});
  CHECK(v.report.verdict == report::Verdict::ok);
  CHECK(v.entries.size() == 3);
}

TEST_CASE("repair: a byte changed in a copied entry's data fails the proof, and nothing is kept") {
  for (bool in_big : {true, false}) {
    CAPTURE(in_big);
    Unfinished u;
    auto r = repair::repair_archive(u.request([&](const std::string& p) {
      // The decode results the proof takes would not see this: only the comparison does.
      const std::uint64_t at = in_big ? find_in_file(p, u.big.substr(0, 64)) + 100000 : find_in_file(p, "small-2") + 40;
      auto bytes = io::read_whole_file(p);
      patch(p, at, {std::uint8_t(bytes.at(at) ^ 0x5a)});
    }));
    CHECK_FALSE(r.written);
    CHECK(r.why_not.find("are not the input's") != std::string::npos);
    CHECK_FALSE(fs::exists(u.out));
  }
}

TEST_CASE("repair: a directory record pointing at the wrong offset fails the proof") {
  Unfinished u;
  auto r = repair::repair_archive(u.request([&](const std::string& p) {
    // The end record (4.3.16) is the last 22 bytes: the directory's offset is at +16; the second
    // record's local header offset at +42 of it.
    auto bytes = io::read_whole_file(p);
    const std::uint64_t eocd = bytes.size() - 22;
    std::uint64_t cd = bytes[eocd + 16] | bytes[eocd + 17] << 8 | bytes[eocd + 18] << 16 | std::uint64_t(bytes[eocd + 19]) << 24;
    const std::uint64_t second = cd + 46 + (bytes[cd + 28] | bytes[cd + 29] << 8) + (bytes[cd + 30] | bytes[cd + 31] << 8) +
                                 (bytes[cd + 32] | bytes[cd + 33] << 8);
    std::uint32_t off = bytes[second + 42] | bytes[second + 43] << 8 | bytes[second + 44] << 16 | bytes[second + 45] << 24;
    off += 4;
    patch(p, second + 42, {std::uint8_t(off), std::uint8_t(off >> 8), std::uint8_t(off >> 16), std::uint8_t(off >> 24)});
  }));
  CHECK_FALSE(r.written);
  CHECK(r.why_not.find("did not pass verification") != std::string::npos);
  CHECK_FALSE(fs::exists(u.out));
}

TEST_CASE("output: copy_from copies a file's bytes in the kernel, and a pipe is left to the caller") {
  TempDir t;
  auto src = t.path / "src.bin", target = t.path / "out.bin";
  std::vector<std::uint8_t> data(200000);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = std::uint8_t(i * 7 + i / 300);
  write_file(src, data);
  int in = ::open(src.c_str(), O_RDONLY);
  REQUIRE(in >= 0);
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  {
    io::AtomicOutputFile out(target);
    out.write("head");
    CHECK(out.copy_from(in, 1000, 150000) == 150000);
    out.write("tail");
    CHECK(out.copy_from(fds[0], 0, 10) == 0);  // nothing copied: the caller reads and writes
    out.commit();
  }
  ::close(in);
  ::close(fds[0]);
  ::close(fds[1]);
  auto got = io::read_whole_file(target);
  REQUIRE(got.size() == 4 + 150000 + 4);
  CHECK(std::string(got.begin(), got.begin() + 4) == "head");
  CHECK(std::equal(data.begin() + 1000, data.begin() + 151000, got.begin() + 4));
  CHECK(std::string(got.end() - 4, got.end()) == "tail");
}
