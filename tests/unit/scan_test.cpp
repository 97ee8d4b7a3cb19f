#include <doctest/doctest.h>

#include <unistd.h>

#include <csignal>
#include <thread>

#include "check/judge.h"
#include "scan/end_records.h"
#include "scan/local_scanner.h"
#include "zipbuild.h"

using namespace zm;
using test::Descriptor;
using test::Item;

namespace {

// Every scan runs through 1-byte, 31-byte and whole-buffer reads: chunk edges must not matter.
template <class F>
void for_each_chunking(const std::vector<std::uint8_t>& bytes, F&& f) {
  io::MemorySource mem(bytes);
  for (std::size_t chunk : {std::size_t(1), std::size_t(31), bytes.size()}) {
    CAPTURE(chunk);
    io::ChunkedSource src(mem, chunk);
    f(src);
  }
}

// Writes `bytes` into a pipe from a thread of its own, `chunk` bytes at a time; read from fd().
// Going out of scope closes the read end first, so that a writer still blocked on a full pipe
// gets EPIPE instead of hanging (also when an assertion ends the test early), then joins it.
class PipeFeeder {
 public:
  PipeFeeder(const std::vector<std::uint8_t>& bytes, std::size_t chunk) {
    ::signal(SIGPIPE, SIG_IGN);
    if (::pipe(fds_) != 0) throw std::runtime_error("pipe() failed");
    writer_ = std::thread([this, &bytes, chunk] {
      std::size_t off = 0;
      while (off < bytes.size()) {
        ssize_t n = ::write(fds_[1], bytes.data() + off, std::min(chunk, bytes.size() - off));
        if (n <= 0) break;
        off += std::size_t(n);
      }
      ::close(fds_[1]);
    });
  }
  ~PipeFeeder() {
    ::close(fds_[0]);
    writer_.join();
  }
  int fd() const { return fds_[0]; }

 private:
  int fds_[2] = {-1, -1};
  std::thread writer_;
};

scan::ScanResult scan_of(io::ByteSource& src, unsigned threads = 1) {
  codec::Workspace ws;
  auto r = scan::scan_local(src, ws, {nullptr, 0, threads});
  check::judge_walk(r, src.size());
  return r;
}

std::vector<Item> sample(Descriptor d, bool deflate, bool zs = false) {
  return {{"one.jsonl", test::text_of(5000, 1), deflate, d, zs},
          {"two.bin", test::noise_of(3000, 2), deflate, d, zs},
          {"empty", "", deflate, d, zs},
          {"three.jsonl", test::text_of(7000, 3), deflate, d, zs}};
}

}  // namespace

TEST_CASE("scan: all four descriptor layouts, deflate and stored") {
  for (auto d : {Descriptor::sig16, Descriptor::nosig12, Descriptor::sig24, Descriptor::nosig20}) {
    for (bool deflate : {true, false}) {
      CAPTURE(int(d));
      CAPTURE(deflate);
      auto items = sample(d, deflate);
      auto built = test::build_zip(items, false);
      for_each_chunking(built.bytes, [&](io::ByteSource& src) {
        auto r = scan_of(src);
        REQUIRE(r.entries.size() == items.size());
        for (std::size_t i = 0; i < items.size(); ++i) {
          CHECK(r.entries[i].status == report::EntryStatus::ok);
          CHECK(r.entries[i].name == items[i].name);
          CHECK(r.entries[i].uncompressed_size == items[i].data.size());
          CHECK(r.entries[i].lfh_offset == built.offsets[i]);
          REQUIRE(r.entries[i].descriptor);
          bool wide = d == Descriptor::sig24 || d == Descriptor::nosig20;
          bool sig = d == Descriptor::sig16 || d == Descriptor::sig24;
          CHECK(r.entries[i].descriptor->signature() == sig);
          // 8-byte sizes are only told apart from 4-byte ones by agreement with the counts; for
          // small entries both may agree, and the 4-byte reading is as good.
          if (!wide) CHECK(r.entries[i].descriptor->length == (sig ? 16u : 12u));
        }
        CHECK_FALSE(r.directory_at);
        CHECK(r.end_of_entries == built.bytes.size());
      });
    }
  }
}

TEST_CASE("scan: zipstream-ng local ZIP64 extra with zero sizes and 0xFFFFFFFF header fields") {
  auto items = sample(Descriptor::sig24, true, true);
  auto built = test::build_zip(items, true);
  for_each_chunking(built.bytes, [&](io::ByteSource& src) {
    auto r = scan_of(src);
    REQUIRE(r.entries.size() == items.size());
    for (auto& e : r.entries) CHECK(e.status == report::EntryStatus::ok);
    CHECK(r.entries[0].descriptor->length == 24);
    CHECK(r.directory_at == built.cd_offset);
  });
}

TEST_CASE("scan: stored entry with descriptor whose data holds PK\\7\\8 and PK\\3\\4") {
  std::string tricky = "data" + std::string("PK\x07\x08", 4) + std::string(12, '\0') + std::string("PK\x03\x04", 4) +
                       test::noise_of(500) + std::string("PK\x07\x08", 4) + "tail";
  std::vector<Item> items = {{"tricky.bin", tricky, false, Descriptor::sig16},
                             {"after.txt", test::text_of(900), false, Descriptor::nosig12}};
  auto built = test::build_zip(items, false);
  for_each_chunking(built.bytes, [&](io::ByteSource& src) {
    auto r = scan_of(src);
    REQUIRE(r.entries.size() == 2);
    CHECK(r.entries[0].status == report::EntryStatus::ok);
    CHECK(r.entries[0].compressed_size == tricky.size());
    CHECK(r.entries[1].status == report::EntryStatus::ok);
    CHECK(r.entries[1].lfh_offset == built.offsets[1]);
  });
}

TEST_CASE("scan: sizes in the header are checked, not trusted") {
  auto built = test::build_zip(sample(Descriptor::none, true), false);
  auto bytes = built.bytes;
  bytes[built.offsets[1] + 40] ^= 0x55;  // inside entry 2's data
  io::MemorySource src(bytes);
  auto r = scan_of(src);
  REQUIRE(r.entries.size() == 4);
  CHECK(r.entries[0].status == report::EntryStatus::ok);
  CHECK(r.entries[1].status == report::EntryStatus::damaged);
  CHECK(r.entries[2].status == report::EntryStatus::ok);
  CHECK(r.entries[3].status == report::EntryStatus::ok);
}

TEST_CASE("scan: bytes before the first entry are a prefix, and offsets stay file offsets") {
  std::string stub(1000, '#');
  auto built = test::build_zip(sample(Descriptor::sig16, true), false, stub);
  io::MemorySource src(built.bytes);
  auto r = scan_of(src);
  CHECK(r.archive_start == 1000);
  REQUIRE(r.entries.size() == 4);
  CHECK(r.entries[0].lfh_offset == 1000);
  CHECK(r.findings.at(0).code == report::Code::prefix_bytes);
}

TEST_CASE("scan: a zeroed stretch is recorded and the walk resumes at the next header") {
  std::vector<Item> items;
  for (int i = 0; i < 8; ++i)
    items.push_back({"file" + std::to_string(i), test::text_of(3000, i + 1) + test::noise_of(2000, i), true,
                     i % 2 ? Descriptor::sig24 : Descriptor::sig16, i % 2 == 1});
  auto built = test::build_zip(items, false);
  auto bytes = built.bytes;
  // Zero from inside entry 2's data to inside entry 4's header.
  std::uint64_t from = built.offsets[2] + 100, to = built.offsets[4] + 10;
  std::fill(bytes.begin() + from, bytes.begin() + to, 0);
  for_each_chunking(bytes, [&](io::ByteSource& src) {
    auto r = scan_of(src);
    std::vector<std::string> ok;
    for (auto& e : r.entries)
      if (e.status == report::EntryStatus::ok) ok.push_back(e.name);
    CHECK(ok == std::vector<std::string>{"file0", "file1", "file5", "file6", "file7"});
    REQUIRE_FALSE(r.damaged.empty());
    CHECK(r.damaged[0].to == built.offsets[5]);
  });
}

TEST_CASE("scan: a cut inside an entry says which entry and how much of it is intact") {
  auto built = test::build_zip(sample(Descriptor::sig16, true), false);
  std::uint64_t cut = built.offsets[3] + 200;
  std::vector<std::uint8_t> bytes(built.bytes.begin(), built.bytes.begin() + cut);
  for_each_chunking(bytes, [&](io::ByteSource& src) {
    auto r = scan_of(src);
    REQUIRE(r.cut_entry);
    CHECK(*r.cut_entry == 3);
    CHECK(r.entries[3].status == report::EntryStatus::truncated);
    CHECK(r.cut_intact_bytes > 0);
    CHECK(r.cut_intact_bytes < 7000);
  });
}

TEST_CASE("scan: a cut inside a local header or a descriptor") {
  auto built = test::build_zip(sample(Descriptor::sig16, true), false);
  for (std::uint64_t cut : {built.offsets[2] + 10, built.offsets[2] - 6}) {
    std::vector<std::uint8_t> bytes(built.bytes.begin(), built.bytes.begin() + cut);
    io::MemorySource src(bytes);
    auto r = scan_of(src);
    std::size_t ok = 0;
    for (auto& e : r.entries) ok += e.status == report::EntryStatus::ok;
    CHECK(ok == (cut > built.offsets[2] ? 2u : 1u));
  }
}

TEST_CASE("end records: found behind a comment, ZIP64 when present, prefix shift detected") {
  auto built = test::build_zip(sample(Descriptor::none, true), true, std::string(300, 'x'));
  io::MemorySource src(built.bytes);
  auto end = scan::locate_end_records(src);
  REQUIRE(end);
  CHECK(end->entries == 4);
  CHECK(end->shift == 300);
  CHECK(end->cd_start == built.cd_offset);
  auto bytes = built.bytes;
  bytes.resize(bytes.size() - 5);
  io::MemorySource cut(bytes);
  CHECK_FALSE(scan::locate_end_records(cut));
}

TEST_CASE("scan: the parallel walk finds what the sequential one finds, on files and streams") {
  std::vector<Item> items;
  for (int i = 0; i < 12; ++i)
    items.push_back({"f" + std::to_string(i), test::text_of(4000 + 300 * i, i + 1) + test::noise_of(1500, i),
                     i % 3 != 2, i % 4 == 0 ? Descriptor::none : i % 4 == 1 ? Descriptor::sig16
                                 : i % 4 == 2 ? Descriptor::sig24 : Descriptor::nosig12,
                     i % 4 == 2});
  auto built = test::build_zip(items, true);
  // Damage: one flipped byte in entry 5 (bit 3, found by its descriptor) and one in entry 4.
  auto bytes = built.bytes;
  bytes[built.offsets[5] + 80] ^= 1;
  bytes[built.offsets[4] + 90] ^= 1;
  io::MemorySource mem(bytes);
  auto seq = scan_of(mem, 1);
  for (std::size_t chunk : {std::size_t(31), bytes.size()}) {
    io::ChunkedSource src(mem, chunk);
    auto par = scan_of(src, 2);
    REQUIRE(par.entries.size() == seq.entries.size());
    for (std::size_t i = 0; i < seq.entries.size(); ++i) {
      CAPTURE(i);
      CHECK(par.entries[i].status == seq.entries[i].status);
      CHECK(par.entries[i].lfh_offset == seq.entries[i].lfh_offset);
    }
    CHECK(par.entries[4].status == report::EntryStatus::damaged);
    CHECK(par.entries[5].status == report::EntryStatus::damaged);
    CHECK(par.directory_at == built.cd_offset);
  }
  // The same bytes as a pipe: the workers decode the entries in the stream's ring.
  PipeFeeder feed(bytes, 4096);
  io::StreamSource stream(feed.fd(), "pipe");
  auto piped = scan_of(stream, 2);
  REQUIRE(piped.entries.size() == seq.entries.size());
  for (std::size_t i = 0; i < seq.entries.size(); ++i) CHECK(piped.entries[i].status == seq.entries[i].status);
}

TEST_CASE("scan: from a stream, entries larger than its window are decoded inline, not lost") {
  // A 1 MiB window and bit-3 entries of about 3 MiB: the descriptor search must give up in time
  // for the walker to decode the entry from its start.
  std::vector<Item> items = {{"big1", test::noise_of(3 << 20, 1), true, Descriptor::sig24, true},
                             {"small", test::text_of(5000), true, Descriptor::sig16},
                             {"big2", test::text_of(2 << 20, 2) + test::noise_of(1 << 20, 3), true, Descriptor::sig16},
                             {"sized", test::noise_of(3 << 20, 4), true, Descriptor::none}};
  auto built = test::build_zip(items, true);
  for (unsigned threads : {1u, 2u}) {
    CAPTURE(threads);
    PipeFeeder feed(built.bytes, 65536);
    io::StreamSource stream(feed.fd(), "pipe", 1 << 20);
    scan::ScanResult r;
    std::string error;
    try {
      r = scan_of(stream, threads);
    } catch (const std::exception& ex) {
      error = ex.what();
    }
    CHECK(error == "");
    REQUIRE(r.entries.size() == 4);
    for (auto& e : r.entries) CHECK(e.status == report::EntryStatus::ok);
    CHECK(r.directory_at == built.cd_offset);
  }
}

TEST_CASE("stream: bytes a worker holds are not overwritten until it releases them") {
  std::vector<std::uint8_t> data(4u << 20);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = std::uint8_t(i * 7 + (i >> 12));
  PipeFeeder feed(data, 65536);
  io::StreamSource stream(feed.fd(), "pipe", 1 << 20);
  REQUIRE(stream.view(100, 1000).size() == 1000);
  stream.hold(100);
  auto held = stream.held_bytes(100, 200000);
  std::atomic<bool> reached{false};
  std::uint8_t far = 0;
  std::thread reader([&] {
    // Reaching 2 MiB means overwriting offset 100 in a 1 MiB ring: it must wait for release.
    auto v = stream.view(2u << 20, 1);
    far = v.empty() ? 0 : v[0];
    reached = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  CHECK_FALSE(reached.load());
  CHECK(held[1].empty());
  CHECK(std::equal(held[0].begin(), held[0].end(), data.begin() + 100));
  stream.release(100);
  reader.join();
  CHECK(reached.load());
  CHECK(far == data[2u << 20]);
}

TEST_CASE("scan: from a stream with a small window, workers decode many entries in its ring") {
  // 1 MiB window: entries up to 256 KiB go to the workers, so dozens are held at once and their
  // bytes wrap around the ring's end; one is damaged.
  std::vector<Item> items;
  for (int i = 0; i < 60; ++i)
    items.push_back({"e" + std::to_string(i), test::text_of(20000 + 9000 * i, i + 3) + test::noise_of(30000 + 2000 * i, i),
                     i % 2 == 0, i % 3 == 0 ? Descriptor::none : i % 3 == 1 ? Descriptor::sig16 : Descriptor::sig24,
                     i % 3 == 2});
  auto built = test::build_zip(items, true);
  auto bytes = built.bytes;
  bytes[built.offsets[37] + 200] ^= 0x40;
  io::MemorySource mem(bytes);
  auto seq = scan_of(mem, 1);
  PipeFeeder feed(bytes, 100000);
  io::StreamSource stream(feed.fd(), "pipe", 1 << 20);
  scan::ScanResult piped;
  std::string error;
  try {
    piped = scan_of(stream, 3);
  } catch (const std::exception& ex) {
    error = ex.what();
  }
  CHECK(error == "");
  REQUIRE(piped.entries.size() == items.size());
  for (std::size_t i = 0; i < items.size(); ++i) {
    CAPTURE(i);
    CHECK(piped.entries[i].status == (i == 37 ? zm::report::EntryStatus::damaged : zm::report::EntryStatus::ok));
    CHECK(piped.entries[i].status == seq.entries[i].status);
    REQUIRE(piped.entries[i].decoded.has_value());
    CHECK(piped.entries[i].decoded->crc == seq.entries[i].decoded->crc);
  }
  CHECK(piped.directory_at == built.cd_offset);
}

TEST_CASE("io: the read cache gives the same bytes as its source, whatever the pattern of reads") {
  std::vector<std::uint8_t> data(3u << 20);
  std::uint32_t x = 12345;
  for (auto& b : data) b = std::uint8_t((x = x * 1103515245u + 12345u) >> 24);
  io::MemorySource mem(data);
  // The inner source hands out at most 31 bytes per call, as libarchive's readers may.
  io::ChunkedSource chunked(mem, 31);
  io::CachedSource cache(chunked, 64 << 10);
  std::uint32_t r = 7;
  auto next = [&](std::uint32_t mod) { return (r = r * 1664525u + 1013904223u) % mod; };
  std::uint64_t pos = 0;
  for (int i = 0; i < 3000; ++i) {
    // Mostly forward in small steps (headers, then data), now and then a jump or a large read.
    std::uint64_t at = next(10) == 0 ? next(std::uint32_t(data.size() + 100)) : pos + next(5000);
    std::size_t n = next(20) == 0 ? 40000 + next(100000) : 1 + next(3000);
    CAPTURE(at);
    CAPTURE(n);
    std::vector<std::uint8_t> got(n);
    std::size_t k = cache.read_at(at, got);
    std::size_t want = at >= data.size() ? 0 : std::min<std::uint64_t>(n, data.size() - at);
    REQUIRE(k == want);
    CHECK(std::equal(got.begin(), got.begin() + k, data.begin() + std::ptrdiff_t(std::min<std::uint64_t>(at, data.size()))));
    auto v = cache.view(at, n);
    CHECK(v.size() <= want);
    CHECK(std::equal(v.begin(), v.end(), data.begin() + std::ptrdiff_t(std::min<std::uint64_t>(at, data.size()))));
    pos = at + k;
    if (pos >= data.size()) pos = 0;
  }
  CHECK(cache.size() == data.size());
}
