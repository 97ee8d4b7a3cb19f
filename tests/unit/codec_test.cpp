#include <doctest/doctest.h>
#include <zlib.h>

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
  CHECK(ws.decode(src, {0, 3, zip::kDeflate64}).status == Status::unsupported);
  CHECK_FALSE(codec::method_supported(zip::kDeflate64));
}
