#include <doctest/doctest.h>
#include <lzma.h>
#include <zlib.h>
#include <zstd.h>

#include <fstream>
#include <iterator>

#include "codec/codec.h"
#include "zipbuild.h"

using namespace zm;
using Status = codec::DecodeResult::Status;

static std::vector<std::uint8_t> vec(const std::string& s) { return {s.begin(), s.end()}; }

TEST_CASE("codec: CRC-32 agrees with zlib's, also when chained") {
  std::string s = test::text_of(100000);
  auto p = reinterpret_cast<const std::uint8_t*>(s.data());
  std::uint32_t want = ::crc32(0, p, s.size());
  CHECK(codec::crc32(0, {p, s.size()}) == want);
  CHECK(codec::crc32(codec::crc32(0, {p, 777}), {p + 777, s.size() - 777}) == want);
}

TEST_CASE("codec: deflate stops exactly at the end of the stream, whatever the read size") {
  for (std::size_t n : {std::size_t(3000), std::size_t(300000)}) {
    std::string data = test::text_of(n) + test::noise_of(n / 3);
    std::string comp = test::raw_deflate(data);
    std::string file = "prefix" + comp + "PK\x07\x08trailing bytes that are not deflate";
    io::MemorySource mem(vec(file));
    for (std::size_t chunk : {std::size_t(1), std::size_t(31), file.size()}) {
      CAPTURE(chunk);
      io::ChunkedSource src(mem, chunk);
      codec::Workspace ws;
      auto r = ws.decode(src, {6, file.size() - 6, zip::kDeflate});
      CHECK(r.status == Status::ok);
      CHECK(r.consumed == comp.size());
      CHECK(r.produced == data.size());
      CHECK(r.crc == test::crc_of(data));
    }
  }
}

TEST_CASE("codec: a deflate stream cut short is 'truncated', not corrupt") {
  std::string data = test::text_of(200000);
  std::string comp = test::raw_deflate(data);
  io::MemorySource src(vec(comp.substr(0, comp.size() / 2)));
  codec::Workspace ws;
  auto r = ws.decode(src, {0, comp.size(), zip::kDeflate});
  CHECK(r.status == Status::truncated);
  CHECK(r.produced > 0);
  CHECK(r.produced < data.size());
}

TEST_CASE("codec: a deflate stream that does not end within its size is an overrun") {
  std::string comp = test::raw_deflate(test::text_of(50000));
  io::MemorySource src(vec(comp));
  codec::Workspace ws;
  auto r = ws.decode(src, {0, comp.size() / 2, zip::kDeflate});
  CHECK(r.status == Status::overrun);
}

TEST_CASE("codec: garbage is rejected as corrupt deflate") {
  io::MemorySource src(vec(std::string(5000, '\xff')));
  codec::Workspace ws;
  auto r = ws.decode(src, {0, 5000, zip::kDeflate});
  CHECK(r.status == Status::corrupt);
  CHECK_FALSE(r.error.empty());
}

TEST_CASE("codec: output beyond max_output stops the decode (zip-bomb guard)") {
  std::string comp = test::raw_deflate(std::string(50 << 20, 'a'));
  io::MemorySource src(vec(comp));
  codec::Workspace ws;
  codec::DecodeRequest req{0, comp.size(), zip::kDeflate};
  req.max_output = 1 << 20;
  auto r = ws.decode(src, req);
  CHECK(r.status == Status::overrun);
  CHECK(r.produced < (4u << 20));
}

TEST_CASE("codec: stored data is counted and CRC'd; a short file is truncated") {
  std::string data = test::noise_of(10000);
  io::MemorySource src(vec(data));
  codec::Workspace ws;
  auto r = ws.decode(src, {0, 10000, zip::kStored});
  CHECK(r.status == Status::ok);
  CHECK(r.crc == test::crc_of(data));
  auto cut = ws.decode(src, {0, 20000, zip::kStored});
  CHECK(cut.status == Status::truncated);
  CHECK(cut.produced == 10000);
}

TEST_CASE("codec: unknown methods are reported unsupported, never passed") {
  io::MemorySource src(vec("abc"));
  codec::Workspace ws;
  const std::uint16_t wavpack = 97;  // APPNOTE 4.4.5: a method no backup writer uses
  CHECK(ws.decode(src, {0, 3, wavpack}).status == Status::unsupported);
  CHECK_FALSE(codec::method_supported(wavpack));
  CHECK_FALSE(codec::method_self_terminating(zip::kStored));
  for (std::uint16_t m : {zip::kDeflate, zip::kDeflate64, zip::kBzip2, zip::kLzma, zip::kZstd, zip::kXz, zip::kPpmd}) {
    CAPTURE(m);
    CHECK(codec::method_supported(m));
    CHECK(codec::method_self_terminating(m));
  }
}

static std::string zstd_frame(const std::string& in, bool content_size = true) {
  ZSTD_CCtx* c = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, 3);
  ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1);
  ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag, content_size);
  std::string out(ZSTD_compressBound(in.size()), '\0');
  std::size_t n = ZSTD_compress2(c, out.data(), out.size(), in.data(), in.size());
  ZSTD_freeCCtx(c);
  REQUIRE_FALSE(ZSTD_isError(n));
  out.resize(n);
  return out;
}

static std::string xz_stream(const std::string& in) {
  std::string out(lzma_stream_buffer_bound(in.size()), '\0');
  std::size_t pos = 0;
  REQUIRE(lzma_easy_buffer_encode(6, LZMA_CHECK_CRC64, nullptr, reinterpret_cast<const std::uint8_t*>(in.data()),
                                  in.size(), reinterpret_cast<std::uint8_t*>(out.data()), &pos, out.size()) == LZMA_OK);
  out.resize(pos);
  return out;
}

struct Packed {
  std::uint16_t method;
  std::string what;
  std::string (*pack)(const std::string&);
};
static const Packed kPacked[] = {
    {zip::kZstd, "zstd", [](const std::string& s) { return zstd_frame(s); }},
    {zip::kZstd, "zstd without content size", [](const std::string& s) { return zstd_frame(s, false); }},
    {zip::kXz, "xz", xz_stream},
};

TEST_CASE("codec: zstd and xz stop exactly at the end of their frame or stream, whatever the read size") {
  for (const auto& m : kPacked) {
    for (std::size_t n : {std::size_t(0), std::size_t(3000), std::size_t(600000)}) {
      std::string data = test::text_of(n) + test::noise_of(n / 3);
      std::string comp = m.pack(data);
      std::string file = "prefix" + comp + "PK\x07\x08trailing bytes that are not " + m.what;
      io::MemorySource mem(vec(file));
      for (std::size_t chunk : {std::size_t(1), std::size_t(31), file.size()}) {
        CAPTURE(m.what);
        CAPTURE(n);
        CAPTURE(chunk);
        io::ChunkedSource src(mem, chunk);
        codec::Workspace ws;
        auto r = ws.decode(src, {6, file.size() - 6, m.method});
        CHECK(r.status == Status::ok);
        CHECK(r.consumed == comp.size());
        CHECK(r.produced == data.size());
        CHECK(r.crc == test::crc_of(data));
      }
    }
  }
}

TEST_CASE("codec: a zstd frame with a 256 MiB window (zstd --long=28) and no content size decodes") {
  // zstd's own default refuses windows over 128 MiB; such an archive is whole, not damaged.
  std::string data = test::text_of(200000);
  ZSTD_CCtx* c = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(c, ZSTD_c_windowLog, 28);
  ZSTD_CCtx_setParameter(c, ZSTD_c_enableLongDistanceMatching, 1);
  ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag, 0);
  std::string comp(ZSTD_compressBound(data.size()), '\0');
  comp.resize(ZSTD_compress2(c, comp.data(), comp.size(), data.data(), data.size()));
  ZSTD_freeCCtx(c);
  REQUIRE(ZSTD_getFrameContentSize(comp.data(), comp.size()) == ZSTD_CONTENTSIZE_UNKNOWN);
  io::MemorySource src(vec(comp));
  codec::Workspace ws;
  auto r = ws.decode(src, {0, comp.size(), zip::kZstd});
  CHECK(r.status == Status::ok);
  CHECK(r.crc == test::crc_of(data));
  CHECK(r.consumed == comp.size());
}

TEST_CASE("codec: a second zstd frame or xz stream after the first is not part of the entry") {
  for (const auto& m : kPacked) {
    CAPTURE(m.what);
    std::string one = m.pack(test::text_of(5000)), two = m.pack(test::text_of(7000, 2));
    io::MemorySource src(vec(one + two));
    codec::Workspace ws;
    auto r = ws.decode(src, {0, one.size() + two.size(), m.method});
    CHECK(r.status == Status::ok);
    CHECK(r.consumed == one.size());
    CHECK(r.produced == 5000);
  }
}

TEST_CASE("codec: zstd and xz cut anywhere are truncated; cut by their size limit, an overrun") {
  for (const auto& m : kPacked) {
    std::string comp = m.pack(test::text_of(100000) + test::noise_of(20000));
    codec::Workspace ws;
    for (std::size_t cut = 0; cut < comp.size(); cut += cut < 40 ? 1 : 211) {
      CAPTURE(m.what);
      CAPTURE(cut);
      io::MemorySource part(vec(comp.substr(0, cut)));
      auto r = ws.decode(part, {0, comp.size(), m.method});
      CHECK(r.status == Status::truncated);
      CHECK_FALSE(r.error.empty());
      io::MemorySource whole(vec(comp));
      CHECK(ws.decode(whole, {0, cut, m.method}).status == Status::overrun);
    }
  }
}

TEST_CASE("codec: a flipped byte in zstd or xz data is rejected or caught by the CRC") {
  for (const auto& m : kPacked) {
    std::string data = test::text_of(40000);
    std::string comp = m.pack(data);
    codec::Workspace ws;
    int rejected = 0;
    for (std::size_t at = 0; at < comp.size(); at += 13) {
      std::string bad = comp;
      bad[at] = char(bad[at] ^ 0x10);
      io::MemorySource src(vec(bad));
      auto r = ws.decode(src, {0, bad.size(), m.method});
      CAPTURE(m.what);
      CAPTURE(at);
      if (r.status == Status::ok)
        CHECK((r.crc != test::crc_of(data) || r.produced != data.size() || r.consumed != bad.size()));
      else
        ++rejected;
    }
    CHECK(rejected > 0);
  }
}

TEST_CASE("codec: zstd and xz output beyond max_output stops the decode (zip-bomb guard)") {
  for (const auto& m : kPacked) {
    CAPTURE(m.what);
    std::string comp = m.pack(std::string(50 << 20, 'a'));
    io::MemorySource src(vec(comp));
    codec::Workspace ws;
    codec::DecodeRequest req{0, comp.size(), m.method};
    req.max_output = 1 << 20;
    auto r = ws.decode(src, req);
    CHECK(r.status == Status::overrun);
    CHECK(r.produced < (4u << 20));
  }
}

TEST_CASE("codec: data that is not zstd or xz is corrupt, with a reason") {
  std::string junk = test::noise_of(5000);
  for (std::uint16_t m : {zip::kZstd, zip::kXz}) {
    io::MemorySource src(vec(junk));
    codec::Workspace ws;
    auto r = ws.decode(src, {0, junk.size(), m});
    CHECK(r.status == Status::corrupt);
    CHECK_FALSE(r.error.empty());
  }
}

// records.jsonl of 7-Zip's PPMd fixture, read from its local header (7-Zip writes sizes there
// when it writes to a file): the compressed bytes, CRC and size.
struct PpmdEntry {
  std::string data;
  std::uint32_t crc = 0;
  std::uint64_t usize = 0;
};
static PpmdEntry ppmd_entry() {
  std::ifstream f(std::string(ZIPMEDIC_FIXTURES) + "/7zip-ppmd.zip", std::ios::binary);
  std::string z{std::istreambuf_iterator<char>(f), {}};
  auto u16 = [&](std::size_t p) { return unsigned(std::uint8_t(z[p])) | unsigned(std::uint8_t(z[p + 1])) << 8; };
  auto u32 = [&](std::size_t p) { return std::uint32_t(u16(p)) | std::uint32_t(u16(p + 2)) << 16; };
  for (std::size_t p = 0; p + 30 <= z.size() && u32(p) == 0x04034B50;) {
    std::size_t n = u16(p + 26), m = u16(p + 28), csize = u32(p + 18);
    if (z.compare(p + 30, n, "backup/records.jsonl") == 0 && u16(p + 8) == zip::kPpmd)
      return {z.substr(p + 30 + n + m, csize), u32(p + 14), u32(p + 22)};
    p += 30 + n + m + csize;
  }
  return {};
}

TEST_CASE("codec: PPMd (7-Zip's) stops exactly at the end marker, whatever the read size") {
  auto e = ppmd_entry();
  REQUIRE(e.data.size() > 1000);
  std::string file = "prefix" + e.data + "PK\x07\x08trailing bytes that are not PPMd";
  io::MemorySource mem(vec(file));
  for (std::size_t chunk : {std::size_t(1), std::size_t(31), file.size()}) {
    CAPTURE(chunk);
    io::ChunkedSource src(mem, chunk);
    codec::Workspace ws;
    codec::DecodeRequest req{6, file.size() - 6, zip::kPpmd};
    req.expected_uncompressed = e.usize;
    auto r = ws.decode(src, req);
    CHECK(r.status == Status::ok);
    CHECK(r.consumed == e.data.size());
    CHECK(r.produced == e.usize);
    CHECK(r.crc == e.crc);
  }
}

TEST_CASE("codec: PPMd cut anywhere is truncated; cut by its size limit, an overrun") {
  auto e = ppmd_entry();
  REQUIRE_FALSE(e.data.empty());
  codec::Workspace ws;
  for (std::size_t cut = 0; cut < e.data.size(); cut += cut < 40 ? 1 : 101) {
    CAPTURE(cut);
    io::MemorySource part(vec(e.data.substr(0, cut)));
    CHECK(ws.decode(part, {0, e.data.size(), zip::kPpmd}).status == Status::truncated);
    io::MemorySource whole(vec(e.data));
    CHECK(ws.decode(whole, {0, cut, zip::kPpmd}).status == Status::overrun);
  }
}

TEST_CASE("codec: a flipped byte in PPMd data is rejected or caught by the CRC; the cap holds") {
  auto e = ppmd_entry();
  REQUIRE_FALSE(e.data.empty());
  codec::Workspace ws;
  for (std::size_t at = 2; at < e.data.size(); at += 41) {
    std::string bad = e.data;
    bad[at] = char(bad[at] ^ 0x04);
    io::MemorySource src(vec(bad));
    codec::DecodeRequest req{0, bad.size(), zip::kPpmd};
    req.max_output = e.usize + 1;
    auto r = ws.decode(src, req);
    CAPTURE(at);
    if (r.status == Status::ok) CHECK((r.crc != e.crc || r.produced != e.usize || r.consumed != bad.size()));
  }
  io::MemorySource src(vec(e.data));
  codec::DecodeRequest req{0, e.data.size(), zip::kPpmd};
  req.max_output = 1000;  // libarchive hands on up to 256 KiB at a time: the cap stops after that
  CHECK(ws.decode(src, req).status == Status::overrun);
}
