#include <doctest/doctest.h>

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <functional>
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
  CHECK_THROWS_AS(check::verify_archive(src, "e.zip", {}), io::Failure);
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
    if (off + buf.size() > fail_at_ && off < fail_at_ + 4096) throw io::Failure(io::Fail::cannot_read, "test: read error");
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
  CHECK_THROWS_AS(check::verify_archive(src, "eio.zip", {2, false}), io::Failure);
  auto cut = built.bytes;
  cut.resize(built.cd_offset);  // no directory: the walk and its workers read the data
  FailingSource src2(cut, built.offsets[5] + 100);
  codec::Workspace ws;
  CHECK_THROWS_AS(scan::scan_local(src2, ws, {nullptr, 0, 2}), io::Failure);
}

TEST_CASE("verify: a read error in the directory while the workers examine the batch before is reported") {
  // 15,000 records of about 200 bytes: the directory's reader reads its second MiB while the
  // workers still examine a batch of the first, and that read fails.
  std::vector<test::Item> items;
  for (int i = 0; i < 15000; ++i)
    items.push_back({"reports/" + std::string(120, 'r') + "/finding-" + std::to_string(100000 + i) + ".json",
                     "{\"id\": " + std::to_string(i) + "}\n", false});
  const auto built = test::build_zip(items, true);
  REQUIRE(built.bytes.size() - built.cd_offset > (std::size_t(2) << 20));
  check::VerifyOptions opt{2, false};
  opt.keep_entries = false;
  opt.batch = 500;
  FailingSource src(built.bytes, built.cd_offset + (std::size_t(3) << 19));
  try {
    check::verify_archive(src, "eio.zip", opt);
    FAIL("the read error was not reported");
  } catch (const io::Failure& e) {
    CHECK(e.kind == io::Fail::cannot_read);
  }
  // Read where it does not fail, the same archive is whole.
  io::MemorySource whole(built.bytes);
  CHECK(check::verify_archive(whole, "ok.zip", opt).report.verdict == report::Verdict::ok);
}

namespace {
// A report as the pipe must give it for the same bytes: verdict, findings in order, rows.
std::string digest_of(const report::Report& r) {
  std::string d = report::to_string(r.verdict);
  for (const auto& f : r.findings)
    d += "\n" + std::string(report::to_string(f.code)) + "|" + f.entry.value_or("-") + "|" +
         (f.offset ? std::to_string(*f.offset) : "-") + "|" + f.message;
  r.for_each_row([&](const report::EntryRow& e) {
    d += "\nrow " + e.name + "|" + std::to_string(e.offset) + "|" + report::to_string(e.status);
  });
  return d;
}

// `bytes` read once, forward only, through a window of `window` bytes: what verify - does.
std::string stream_digest(const std::vector<std::uint8_t>& bytes, std::size_t window, const check::VerifyOptions& opt) {
  std::FILE* f = std::tmpfile();
  REQUIRE(f);
  std::fwrite(bytes.data(), 1, bytes.size(), f);
  std::fflush(f);
  std::rewind(f);
  std::string d;
  {
    io::StreamSource src(::dup(fileno(f)), "<stdin>", window);
    d = digest_of(check::verify_stream(src, "<stdin>", opt).report);
  }
  std::fclose(f);
  return d;
}

// Where each directory record starts.
std::vector<std::size_t> record_offsets(const std::vector<std::uint8_t>& b, std::size_t at, std::size_t count) {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < count; ++i) {
    out.push_back(at);
    at += *zip::central_record_len({b.data() + at, b.size() - at});
  }
  return out;
}

void set_u16(std::vector<std::uint8_t>& b, std::size_t at, std::uint16_t v) {
  b[at] = std::uint8_t(v);
  b[at + 1] = std::uint8_t(v >> 8);
}
}  // namespace

TEST_CASE("verify -: a directory the stream's window has lost is judged as a file's, finding for finding") {
  // 3,000 records of about 100 bytes: a 128 KiB window no longer holds the directory when the end
  // records arrive, so it is read from the copy made as it passed; a 16 MiB one still holds it.
  std::vector<test::Item> items;
  for (int i = 0; i < 3000; ++i)
    items.push_back({"reports/finding-" + std::to_string(10000 + i) + "-0123456789abcdef0123456789.json",
                     "{\"id\": " + std::to_string(i) + "}\n", false});
  const auto built = test::build_zip(items, true);
  io::MemorySource probe(built.bytes);
  const auto end = scan::locate_end_records(probe);
  REQUIRE(end);
  const auto rec = record_offsets(built.bytes, end->cd_start, items.size());
  struct Edit {
    const char* what;
    const char* code;
    std::function<void(std::vector<std::uint8_t>&)> apply;
  };
  const std::vector<Edit> edits = {
      {"whole", nullptr, [](auto&) {}},
      {"the end record counts one entry fewer", "eocd_inconsistent",
       [&](auto& b) {
         set_u16(b, end->eocd_offset + 8, 2999);
         set_u16(b, end->eocd_offset + 10, 2999);
       }},
      {"record 2000 has no signature", "cd_unreadable", [&](auto& b) { b[rec[1999]] = 'X'; }},
      {"record 1 has no signature", "cd_unreadable", [&](auto& b) { b[rec[0]] = 'X'; }},
      {"record 10 defers its size to a ZIP64 field it lacks", "zip64_inconsistent",
       [&](auto& b) { std::fill_n(b.begin() + std::ptrdiff_t(rec[9] + 20), 4, 0xFF); }},
      {"the last record's comment runs past the directory", "cd_unreadable",
       [&](auto& b) { set_u16(b, rec.back() + 32, 200); }},
  };
  for (const auto& edit : edits) {
    const std::string what = edit.what;
    CAPTURE(what);
    auto bytes = built.bytes;
    edit.apply(bytes);
    check::VerifyOptions opt{2, false};
    opt.keep_entries = false;
    opt.batch = 500;
    io::MemorySource src(bytes);
    auto file = check::verify_archive(src, "<stdin>", opt);
    if (edit.code) CHECK(codes_of(file.report).count(edit.code));
    const std::string want = digest_of(file.report);
    // Judged 500 records at a time, each batch read while the one before is examined, the
    // directory says what it says judged in one batch.
    check::VerifyOptions one_batch = opt;
    one_batch.batch = std::size_t(1) << 20;
    CHECK(digest_of(check::verify_archive(src, "<stdin>", one_batch).report) == want);
    for (std::size_t window : {std::size_t(128) << 10, std::size_t(16) << 20}) {
      CAPTURE(window);
      CHECK(stream_digest(bytes, window, opt) == want);
    }
  }
}

TEST_CASE("FileSource: a file that shrinks or grows while it is read is a read failure, not damage") {
  char path[] = "/tmp/zm-filesource-XXXXXX";
  int fd = ::mkstemp(path);
  REQUIRE(fd >= 0);
  std::vector<std::uint8_t> bytes(10000, 0x41);
  REQUIRE(::write(fd, bytes.data(), bytes.size()) == ssize_t(bytes.size()));
  {
    io::FileSource src(path);
    src.check_unchanged();
    REQUIRE(::ftruncate(fd, 4000) == 0);
    std::vector<std::uint8_t> buf(100);
    CHECK(src.read_at(0, buf) == 100);
    try {
      src.read_at(5000, buf);
      FAIL("a read past the new end did not throw");
    } catch (const io::Failure& e) {
      CHECK(e.kind == io::Fail::cannot_read);
      CHECK(std::string(e.what()).find("cannot read the archive at offset 5000: the file shrank from 10000 to 4000") !=
            std::string::npos);
    }
    CHECK_THROWS_AS(src.check_unchanged(), io::Failure);
  }
  {
    io::FileSource src(path);
    REQUIRE(::pwrite(fd, bytes.data(), 10, 4000) == 10);
    try {
      src.check_unchanged();
      FAIL("a file that grew was not noticed");
    } catch (const io::Failure& e) {
      CHECK(std::string(e.what()).find("grew from 4000 to 4010 bytes") != std::string::npos);
    }
  }
  ::close(fd);
  ::unlink(path);
}

TEST_CASE("select: restore's glob rules, --exclude at any folder level") {
  check::EntrySelection s{{"docs", "*.txt"}, {"secret*"}};
  CHECK(s.selects("docs/a/b.bin"));      // a folder's name takes what is under it
  CHECK(s.selects("./notes.txt"));       // "./" is ignored
  CHECK_FALSE(s.selects("sub/notes.txt"));  // * does not cross /
  CHECK_FALSE(s.selects("docs/secret.key"));  // excluded at the second level
  CHECK_FALSE(s.selects("other.bin"));
  CHECK(check::EntrySelection{{}, {"b.bin"}}.selects("a/a.bin"));
  CHECK_FALSE(check::EntrySelection{{}, {"b.bin"}}.selects("a/b.bin"));
  CHECK(check::EntrySelection{}.everything());
}

TEST_CASE("select: a sample is drawn by name and seed, the same each time, near its share") {
  check::EntrySelection half{{}, {}, 0.5, 42}, again{{}, {}, 0.5, 42}, other{{}, {}, 0.5, 43}, none{{}, {}, 0, 1};
  int taken = 0, same = 0, differ = 0;
  for (int i = 0; i < 2000; ++i) {
    const std::string name = "dir/file-" + std::to_string(i);
    taken += half.selects(name);
    same += half.selects(name) == again.selects(name);
    differ += half.selects(name) != other.selects(name);
    CHECK_FALSE(none.selects(name));
  }
  CHECK(same == 2000);
  CHECK(taken > 900);
  CHECK(taken < 1100);
  CHECK(differ > 800);  // another seed draws another half
  CHECK(half.sampled());
  CHECK_FALSE(half.everything());
}
