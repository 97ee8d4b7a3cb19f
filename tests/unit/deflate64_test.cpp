// Deflate64 (method 9): zlib's deflate output as the oracle for everything the two formats share,
// hand-built streams for the three codes they do not, and 7-Zip's own output from fixtures/.
#include <doctest/doctest.h>
#include <zlib.h>

#include <fstream>
#include <iterator>
#include <random>

#include "codec/codec.h"
#include "codec/deflate64.h"
#include "zipbuild.h"

using namespace zm;
using Status = codec::DecodeResult::Status;

namespace {

std::vector<std::uint8_t> bytes(const std::string& s) { return {s.begin(), s.end()}; }

std::string zlib_raw(const std::string& in, int level, int strategy) {
  z_stream z{};
  deflateInit2(&z, level, Z_DEFLATED, -15, 8, strategy);
  std::string out(deflateBound(&z, in.size()) + 64, '\0');
  z.next_in = (Bytef*)in.data();
  z.avail_in = uInt(in.size());
  z.next_out = (Bytef*)out.data();
  z.avail_out = uInt(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

// Data whose deflate encoding never holds a match of 258 bytes: plain deflate spells that length
// with code 285, which Deflate64 reads as 3 + 16 extra bits. Every 64 bytes a 3-byte counter that
// never repeats caps any match far below that. Between counters: words from a small vocabulary,
// noise or a run, so that literals, short and long matches and all block kinds occur.
std::string oracle_safe(std::size_t n, std::mt19937& rng) {
  static const char* words[] = {"finding", "model", "pk", "title", "{\"a\": ", "},\n", "report", " "};
  std::string s;
  std::uint32_t counter = rng() & 0xFFFF;
  int mode = 0;
  while (s.size() < n) {
    if (rng() % 8 == 0) mode = int(rng() % 3);
    std::string seg;
    while (seg.size() < 61) {
      if (mode == 0) seg += words[rng() % 8];
      else if (mode == 1) seg += char(rng());
      else seg += std::string(rng() % 30, char('a' + rng() % 3));
    }
    seg.resize(61);
    s += seg;
    ++counter;
    s += char(counter);
    s += char(counter >> 8);
    s += char(counter >> 16);
  }
  s.resize(n);
  return s;
}

struct Decoded {
  codec::Inflate64::Status status;
  std::string out;
  std::uint64_t consumed;
};

// Feeds `in` to the decoder `chunk` bytes at a time.
Decoded inflate64(codec::Inflate64& d, const std::string& in, std::size_t chunk) {
  std::size_t at = 0;
  Decoded r;
  r.status = d.run(
      [&]() -> std::span<const std::uint8_t> {
        std::size_t n = std::min(chunk, in.size() - at);
        std::span<const std::uint8_t> s{reinterpret_cast<const std::uint8_t*>(in.data()) + at, n};
        at += n;
        return s;
      },
      [&](std::span<const std::uint8_t> o) {
        r.out.append(reinterpret_cast<const char*>(o.data()), o.size());
        return true;
      });
  r.consumed = d.consumed();
  return r;
}

// RFC 1951 bits, least significant first; Huffman codes go most significant bit first.
struct BitWriter {
  std::string out;
  std::uint64_t acc = 0;
  unsigned n = 0;
  void bits(std::uint32_t v, unsigned k) {
    acc |= std::uint64_t(v) << n;
    n += k;
    while (n >= 8) {
      out += char(acc & 0xff);
      acc >>= 8;
      n -= 8;
    }
  }
  void code(std::uint32_t c, unsigned len) {
    for (unsigned i = len; i-- > 0;) bits((c >> i) & 1, 1);
  }
  // The fixed literal/length code of 3.2.6 and the fixed 5-bit distance code.
  void lit(unsigned s) {
    if (s < 144) code(0x30 + s, 8);
    else if (s < 256) code(0x190 + s - 144, 9);
    else if (s < 280) code(s - 256, 7);
    else code(0xC0 + s - 280, 8);
  }
  void dist(unsigned d) { code(d, 5); }
  std::string finish() {
    if (n) out += char(acc & 0xff);
    acc = n = 0;
    return out;
  }
};

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), {}};
}

struct LocalEntry {
  std::string name, data;
  std::uint32_t crc;
  std::uint64_t usize;
};

// The entries of a fixture with sizes in its local headers (7-Zip writing to a file), read
// straight from the bytes (APPNOTE 4.3.7).
std::vector<LocalEntry> local_entries(const std::string& z) {
  std::vector<LocalEntry> v;
  auto u16 = [&](std::size_t p) { return unsigned(std::uint8_t(z[p])) | unsigned(std::uint8_t(z[p + 1])) << 8; };
  auto u32 = [&](std::size_t p) { return std::uint32_t(u16(p)) | std::uint32_t(u16(p + 2)) << 16; };
  std::size_t p = 0;
  while (p + 30 <= z.size() && u32(p) == 0x04034B50) {
    std::size_t n = u16(p + 26), m = u16(p + 28), csize = u32(p + 18);
    if (u16(p + 8) == 9) v.push_back({z.substr(p + 30, n), z.substr(p + 30 + n + m, csize), u32(p + 14), u32(p + 22)});
    p += 30 + n + m + csize;
  }
  return v;
}

}  // namespace

TEST_CASE("deflate64: decodes zlib's deflate exactly, across levels, strategies and chunk sizes") {
  std::mt19937 rng(12);
  const int strategies[] = {Z_DEFAULT_STRATEGY, Z_FILTERED, Z_HUFFMAN_ONLY, Z_RLE, Z_FIXED};
  codec::Inflate64 d;
  for (int round = 0; round < 40; ++round) {
    std::size_t n = round < 4 ? std::size_t(round) : std::size_t(rng() % (round % 5 == 0 ? 400000 : 20000));
    std::string data = oracle_safe(n, rng);
    int level = int(rng() % 10);
    int strategy = strategies[rng() % 5];
    std::string comp = zlib_raw(data, level, strategy);
    std::string file = comp + "PK\x07\x08 and bytes after the stream";
    for (std::size_t chunk : {std::size_t(1), std::size_t(31), file.size()}) {
      if (chunk == 1 && n > 50000) continue;  // a byte at a time is slow and adds nothing at this size
      CAPTURE(round);
      CAPTURE(n);
      CAPTURE(level);
      CAPTURE(strategy);
      CAPTURE(chunk);
      auto r = inflate64(d, file, chunk);
      REQUIRE(r.status == codec::Inflate64::Status::ok);
      CHECK(r.out == data);
      CHECK(r.consumed == comp.size());
      CHECK(d.produced() == data.size());
    }
  }
}

TEST_CASE("deflate64: the workspace stops exactly at the end of the stream and CRCs the output") {
  std::mt19937 rng(3);
  std::string data = oracle_safe(300000, rng);
  std::string comp = zlib_raw(data, 6, Z_DEFAULT_STRATEGY);
  std::string file = "prefix" + comp + "PK\x07\x08trailing bytes that are not deflate";
  io::MemorySource mem(bytes(file));
  for (std::size_t chunk : {std::size_t(1), std::size_t(31), file.size()}) {
    CAPTURE(chunk);
    io::ChunkedSource src(mem, chunk);
    codec::Workspace ws;
    std::string out;
    codec::DecodeRequest req{6, file.size() - 6, zip::kDeflate64};
    req.sink = [&](std::span<const std::uint8_t> s) { out.append(reinterpret_cast<const char*>(s.data()), s.size()); };
    auto r = ws.decode(src, req);
    CHECK(r.status == Status::ok);
    CHECK(r.consumed == comp.size());
    CHECK(r.produced == data.size());
    CHECK(r.crc == test::crc_of(data));
    CHECK(out == data);
  }
}

TEST_CASE("deflate64: length code 285 takes 16 extra bits, distance codes 30 and 31 reach 64 KiB back") {
  // A stored block of 65,535 noise bytes and a fixed-Huffman final block: ten literals (the
  // farthest distance, 65,536, needs that much output behind it), then matches only Deflate64
  // can express, checked against a plain copy loop.
  std::string head = test::noise_of(65535, 5);
  BitWriter w;
  w.bits(0, 1);  // not final
  w.bits(0, 2);  // stored
  w.finish();
  std::string stream = w.out;
  stream += char(0xFF);
  stream += char(0xFF);
  stream += char(0x00);
  stream += char(0x00);
  stream += head;
  BitWriter b;
  b.bits(1, 1);  // final
  b.bits(1, 2);  // fixed codes
  std::string want = head;
  for (int i = 0; i < 10; ++i) {
    b.lit('0' + i);
    want += char('0' + i);
  }
  struct M { unsigned len_extra, dcode, dextra; };
  const M matches[] = {{1000, 31, 16383}, {0xFFFF, 30, 5}, {0, 31, 0}, {77, 0, 0}};
  for (const M& m : matches) {
    b.lit(285);
    b.bits(m.len_extra, 16);
    b.dist(m.dcode);
    unsigned base = m.dcode == 31 ? 49153 : m.dcode == 30 ? 32769 : 1;
    b.bits(m.dextra, m.dcode >= 30 ? 14 : 0);
    std::size_t len = 3 + m.len_extra, dist = base + m.dextra;
    for (std::size_t i = 0; i < len; ++i) want += want[want.size() - dist];
  }
  b.lit(256);
  stream += b.finish();
  codec::Inflate64 d;
  for (std::size_t chunk : {std::size_t(1), std::size_t(31), stream.size()}) {
    CAPTURE(chunk);
    auto r = inflate64(d, stream + "after", chunk);
    REQUIRE(r.status == codec::Inflate64::Status::ok);
    CHECK(r.out.size() == want.size());
    CHECK(r.out == want);
    CHECK(r.consumed == stream.size());
  }
}

TEST_CASE("deflate64: 7-Zip's entries decode to their recorded CRC, sizes and content") {
  auto far = local_entries(read_file(std::string(ZIPMEDIC_FIXTURES) + "/7zip-deflate64-far.zip"));
  auto tree = local_entries(read_file(std::string(ZIPMEDIC_FIXTURES) + "/7zip-deflate64.zip"));
  REQUIRE(far.size() == 1);
  REQUIRE(tree.size() >= 2);
  codec::Workspace ws;
  for (auto& e : tree) {
    CAPTURE(e.name);
    io::MemorySource src(bytes(e.data));
    std::string out;
    codec::DecodeRequest req{0, e.data.size(), zip::kDeflate64};
    req.sink = [&](std::span<const std::uint8_t> s) { out.append(reinterpret_cast<const char*>(s.data()), s.size()); };
    auto r = ws.decode(src, req);
    CHECK(r.status == Status::ok);
    CHECK(r.consumed == e.data.size());
    CHECK(r.crc == e.crc);
    CHECK(out == read_file(std::string(ZIPMEDIC_FIXTURES) + "/tree/" + e.name));
  }
  // far.bin: 4 x (the same 20,000 random bytes + 30,000 'x'): only distances past 49,152 find
  // the block again.
  io::MemorySource src(bytes(far[0].data));
  std::string out;
  codec::DecodeRequest req{0, far[0].data.size(), zip::kDeflate64};
  req.sink = [&](std::span<const std::uint8_t> s) { out.append(reinterpret_cast<const char*>(s.data()), s.size()); };
  auto r = ws.decode(src, req);
  CHECK(r.status == Status::ok);
  CHECK(r.consumed == far[0].data.size());
  CHECK(r.crc == far[0].crc);
  REQUIRE(out.size() == 200000);
  CHECK(far[0].data.size() < 30000);
  for (int k = 1; k < 4; ++k) CHECK(out.compare(50000 * k, 20000, out, 0, 20000) == 0);
  CHECK(out.substr(20000, 30000) == std::string(30000, 'x'));
}

TEST_CASE("deflate64: a stream cut anywhere is truncated; cut by its size limit, an overrun") {
  auto far = local_entries(read_file(std::string(ZIPMEDIC_FIXTURES) + "/7zip-deflate64-far.zip"));
  REQUIRE(far.size() == 1);
  const std::string& comp = far[0].data;
  codec::Workspace ws;
  for (std::size_t cut = 0; cut < comp.size(); cut += cut < 64 ? 1 : 97) {
    CAPTURE(cut);
    io::MemorySource src(bytes(comp.substr(0, cut)));
    auto r = ws.decode(src, {0, comp.size(), zip::kDeflate64});
    CHECK(r.status == Status::truncated);
    io::MemorySource whole(bytes(comp));
    CHECK(ws.decode(whole, {0, cut, zip::kDeflate64}).status == Status::overrun);
  }
}

TEST_CASE("deflate64: a flipped byte is rejected or caught by the CRC, never passed") {
  auto tree = local_entries(read_file(std::string(ZIPMEDIC_FIXTURES) + "/7zip-deflate64.zip"));
  auto it = std::find_if(tree.begin(), tree.end(), [](auto& e) { return e.name == "backup/records.jsonl"; });
  REQUIRE(it != tree.end());
  codec::Workspace ws;
  int rejected = 0, crc_caught = 0;
  for (std::size_t at = 0; at < it->data.size(); at += 37) {
    std::string bad = it->data;
    bad[at] = char(bad[at] ^ (1 << (at % 8)));
    io::MemorySource src(bytes(bad));
    codec::DecodeRequest req{0, bad.size(), zip::kDeflate64};
    req.max_output = it->usize;  // as verify asks
    auto r = ws.decode(src, req);
    CAPTURE(at);
    if (r.status != Status::ok) {
      ++rejected;
      CHECK_FALSE(r.error.empty());
    } else {
      CHECK((r.crc != it->crc || r.produced != it->usize || r.consumed != bad.size()));
      ++crc_caught;
    }
  }
  MESSAGE("flips rejected by the decoder: " << rejected << ", caught by CRC/size: " << crc_caught);
  CHECK(rejected > 0);
}

TEST_CASE("deflate64: random bytes never crash or hang the decoder") {
  std::mt19937 rng(99);
  codec::Workspace ws;
  int corrupt = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string junk(1 + rng() % 3000, '\0');
    for (auto& c : junk) c = char(rng());
    io::MemorySource src(bytes(junk));
    codec::DecodeRequest req{0, junk.size(), zip::kDeflate64};
    req.max_output = 1 << 20;
    auto r = ws.decode(src, req);
    corrupt += r.status == Status::corrupt;
    CHECK(r.consumed <= junk.size());
  }
  CHECK(corrupt > 2000);
}

TEST_CASE("deflate64: invalid streams are corrupt, with a reason") {
  codec::Workspace ws;
  auto decode = [&](const std::string& s) {
    io::MemorySource src(bytes(s));
    return ws.decode(src, {0, s.size(), zip::kDeflate64});
  };
  auto type3 = decode(std::string("\x07\x00\x00\x00", 4));
  CHECK(type3.status == Status::corrupt);
  CHECK(type3.error.find("block type") != std::string::npos);

  BitWriter b;  // a back-reference before the first byte
  b.bits(1, 1);
  b.bits(1, 2);
  b.lit('a');
  b.lit(257);
  b.dist(1);
  b.lit(256);
  auto far = decode(b.finish());
  CHECK(far.status == Status::corrupt);
  CHECK(far.error.find("before the start") != std::string::npos);

  std::string stored("\x01\x05\x00\x05\x00hello", 10);  // LEN and NLEN equal, not complements
  CHECK(decode(stored).status == Status::corrupt);
}

TEST_CASE("deflate64: output beyond max_output stops the decode (zip-bomb guard)") {
  // 2,000 matches of 65,538 bytes at distance 1: 131 MB from 7 KB.
  BitWriter b;
  b.bits(1, 1);
  b.bits(1, 2);
  b.lit('a');
  for (int i = 0; i < 2000; ++i) {
    b.lit(285);
    b.bits(0xFFFF, 16);
    b.dist(0);
  }
  b.lit(256);
  std::string bomb = b.finish();
  io::MemorySource src(bytes(bomb));
  codec::Workspace ws;
  codec::DecodeRequest req{0, bomb.size(), zip::kDeflate64};
  req.max_output = 1 << 20;
  auto r = ws.decode(src, req);
  CHECK(r.status == Status::overrun);
  CHECK(r.produced > (1u << 20));
  CHECK(r.produced < (2u << 20));
  req.max_output = 0;
  auto all = ws.decode(src, req);
  CHECK(all.status == Status::ok);
  CHECK(all.produced == 1 + 2000ull * 65538);
  CHECK(all.consumed == bomb.size());
}
