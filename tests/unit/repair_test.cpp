#include <doctest/doctest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "check/verifier.h"
#include "io/output.h"
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
