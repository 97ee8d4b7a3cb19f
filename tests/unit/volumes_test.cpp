#include <doctest/doctest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "io/volumes.h"
#include "scan/volumes.h"

using namespace zm;
namespace fs = std::filesystem;

namespace {

// A directory of its own under the system's temporary directory, removed afterwards.
struct TempDir {
  fs::path path;
  TempDir() {
    std::string t = (fs::temp_directory_path() / "zm-volumes-XXXXXX").string();
    path = ::mkdtemp(t.data());
  }
  ~TempDir() { fs::remove_all(path); }
  std::string write(const std::string& name, const std::vector<std::uint8_t>& bytes) const {
    std::ofstream f(path / name, std::ios::binary);
    f.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
    return (path / name).string();
  }
};

std::vector<std::uint8_t> filled(std::size_t n, std::uint8_t first) {
  std::vector<std::uint8_t> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = std::uint8_t(first + i);
  return v;
}

}  // namespace

TEST_CASE("volume source: a PKWARE set's (disk, offset) become positions after the spanning signature") {
  TempDir d;
  auto a = filled(100, 0), b = filled(100, 100);
  a[0] = 'P', a[1] = 'K', a[2] = 7, a[3] = 8;
  io::VolumeSource src({{d.write("x.z01", a), true, 100}, {d.write("x.z02", b), true, 100}, {d.write("x.zip", filled(40, 7)), true, 0}},
                       4, true);
  CHECK(src.size() == 96 + 100 + 40);
  CHECK(src.disks() == 3);
  // 8.5.3: the first local header of disk 0 is at offset 4, after the signature.
  CHECK(src.disk_position(0, 4) == 0u);
  CHECK(src.disk_position(0, 99) == 95u);
  CHECK_FALSE(src.disk_position(0, 2).has_value());
  CHECK(src.disk_position(1, 0) == 96u);
  CHECK(src.disk_position(2, 10) == 206u);
  CHECK_FALSE(src.disk_position(3, 0).has_value());
  CHECK(src.locate(0) == std::pair<std::size_t, std::uint64_t>(0, 4));
  CHECK(src.locate(96) == std::pair<std::size_t, std::uint64_t>(1, 0));
  CHECK(src.locate(235) == std::pair<std::size_t, std::uint64_t>(2, 39));
  // A read across a boundary comes back whole through read_at.
  auto across = src.read_vec(90, 12);
  REQUIRE(across.size() == 12);
  CHECK(across[5] == a[99]);
  CHECK(across[6] == b[0]);
  CHECK(scan::volume_place(src, 100) == "x.z02 at offset 4");
}

TEST_CASE("volume source: 7-Zip's pieces keep offsets from the first byte; a missing or short piece reads as zeros") {
  TempDir d;
  auto a = filled(64, 1), c = filled(10, 50);
  io::VolumeSource src({{d.write("x.zip.001", a), true, 64},
                        {(d.path / "x.zip.002").string(), false, 64},
                        {d.write("x.zip.003", filled(30, 9)), true, 64},
                        {d.write("x.zip.004", c), true, 10}},
                       0, false);
  CHECK(src.disks() == 0);  // no disk numbers: offsets are positions as they are
  CHECK(src.disk_position(0, 500) == 500u);
  CHECK_FALSE(src.disk_position(1, 0).has_value());
  CHECK(src.size() == 64 * 3 + 10);
  auto hole = src.read_vec(60, 12);
  REQUIRE(hole.size() == 12);
  CHECK(hole[3] == a[63]);
  for (std::size_t i = 4; i < 12; ++i) CHECK(hole[i] == 0);
  // The cut third piece: its 30 bytes, then zeros up to the set's volume size, then the fourth.
  auto short_piece = src.read_vec(128 + 28, 40);
  REQUIRE(short_piece.size() == 40);
  CHECK(short_piece[0] == std::uint8_t(9 + 28));
  CHECK(short_piece[2] == 0);
  CHECK(short_piece[36] == c[0]);
  CHECK(src.read_vec(src.size() - 1, 5).size() == 1);
}

TEST_CASE("find_volume_set: any volume names the set; missing ones keep their place") {
  TempDir d;
  d.write("b.z01", filled(50, 0));
  d.write("b.z03", filled(50, 0));
  d.write("b.zip", filled(30, 0));
  d.write("plain.zip", filled(30, 0));
  d.write("c.zip.001", filled(50, 0));
  d.write("c.zip.002", filled(20, 0));
  for (const char* start : {"b.zip", "b.z01", "b.z03"}) {
    CAPTURE(start);
    auto set = scan::find_volume_set((d.path / start).string());
    REQUIRE(set);
    CHECK(set->kind == scan::VolumeSet::Kind::pkware);
    REQUIRE(set->volumes.size() == 4);
    CHECK(set->volumes[1].path == (d.path / "b.z02").string());
    CHECK_FALSE(set->volumes[1].present);
    CHECK(set->volumes[3].path == (d.path / "b.zip").string());
    CHECK(set->volume_size == 50);
  }
  CHECK_FALSE(scan::find_volume_set((d.path / "plain.zip").string()));
  auto c = scan::find_volume_set((d.path / "c.zip.002").string());
  REQUIRE(c);
  CHECK(c->kind == scan::VolumeSet::Kind::numbered);
  CHECK(c->name == (d.path / "c.zip").string());
  CHECK(c->volumes.size() == 2);
  auto src = scan::open_volume_set(*c);
  auto found = scan::volume_findings(*c, *src, false);
  REQUIRE(found.size() == 1);
  CHECK(found[0].code == report::Code::volume_truncated);
  CHECK(found[0].message.find("c.zip.002") != std::string::npos);
}

TEST_CASE("find_volume_set: the set's volume size is the most common one, so one long volume does not make the others cut") {
  TempDir d;
  d.write("e.z01", filled(50, 0));
  d.write("e.z02", filled(60, 0));  // junk appended
  d.write("e.z03", filled(50, 0));
  d.write("e.z04", filled(30, 0));  // cut
  d.write("e.zip", filled(10, 0));
  auto set = scan::find_volume_set((d.path / "e.z02").string());
  REQUIRE(set);
  CHECK(set->volume_size == 50);
  auto src = scan::open_volume_set(*set);
  auto found = scan::volume_findings(*set, *src, true);
  REQUIRE(found.size() == 1);
  CHECK(found[0].code == report::Code::volume_truncated);
  CHECK(found[0].message.find("e.z04") != std::string::npos);
  // The cut volume keeps its place: the last volume starts where four full ones end (50 + 60 + 50 + 50).
  CHECK(src->start_of(4) == 210u);
}
