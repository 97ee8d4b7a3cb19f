// Mutation fuzzer: every fixture, edited at random (bit flips, zeroed runs, cuts, length fields
// set to extremes, repeated records), goes through verify from memory, verify from a pipe fed in
// odd-sized chunks (1 to 65,536 bytes), scan, and repair (copy mode) under the sanitizers. It asserts:
// - verify and scan end in a report or an io::Failure: no crash, no hang, no other exception;
// - what verify writes as JSON is one document;
// - the pipe gives the verdict the file gives (or both cannot proceed): one judge, one answer;
// - a repair that writes an output proves it: the output verifies ok, holding the entries the
//   repair says it kept.
// The last line is "N passed, M failed"; the exit status is 1 when anything failed.
#include <fcntl.h>
#include <malloc.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "check/verifier.h"
#include "repair/repair.h"
#include "scan/end_records.h"
#include "scan/local_scanner.h"

std::string digest(const zm::report::Report& r);

namespace {

// `b` read once from a pipe written in odd-sized chunks (chunk boundaries are where stream
// parsers break; 1-byte chunks cost a system call a byte, so they are only one choice): its
// verdict, and into `report` the digest of its report.
std::string stream_verdict(const std::vector<std::uint8_t>& b, std::mt19937_64& rng, const zm::check::VerifyOptions& opt,
                           std::size_t window, std::string* report = nullptr) {
  int fds[2];
  if (pipe(fds) != 0) throw std::runtime_error("pipe");
  static constexpr std::size_t kChunks[] = {1, 7, 31, 509, 4096, 65536};
  const std::size_t chunk = kChunks[rng() % std::size(kChunks)];
  std::thread writer([&, w = fds[1]] {
    for (std::size_t at = 0; at < b.size();) {
      std::size_t n = std::min(chunk, b.size() - at);
      ssize_t k = ::write(w, b.data() + at, n);
      if (k <= 0) break;  // the reader stopped early (an exception): nothing more to feed
      at += std::size_t(k);
    }
    ::close(w);
  });
  std::string verdict;
  try {
    zm::io::StreamSource s(fds[0], "<stdin>", window);
    auto v = zm::check::verify_stream(s, "<stdin>", opt);
    verdict = zm::report::to_string(v.report.verdict);
    if (report) *report = digest(v.report);  // rows are read back while the stream still exists
  } catch (const zm::io::Failure&) {
    verdict = "cannot proceed";
  } catch (const std::exception& ex) {
    verdict = std::string("exception: ") + ex.what();
  }
  if (report && report->empty()) *report = verdict;  // it ended without a report
  ::close(fds[0]);
  writer.join();
  return verdict;
}

}  // namespace

// Everything a report says but its timing: what a verify or scan that judges entries a few at a
// time must say exactly as one that holds them all.
std::string digest(const zm::report::Report& r) {
  std::string d = zm::report::to_string(r.verdict);
  for (const auto& f : r.findings)
    d += "\n" + std::string(zm::report::to_string(f.code)) + "|" + f.entry.value_or("-") + "|" +
         (f.offset ? std::to_string(*f.offset) : "-") + "|" + f.message + "|" + std::to_string(f.readers.refuse) + "/" +
         std::to_string(f.readers.warn) + "/" + std::to_string(f.readers.lack) + "|" + zm::report::to_string(f.severity);
  r.for_each_row([&](const zm::report::EntryRow& e) {
    d += "\nrow " + e.name + "|" + e.method + "|" + std::to_string(e.compressed_size) + "|" +
         std::to_string(e.uncompressed_size) + "|" + std::to_string(e.crc32) + "|" + std::to_string(e.offset) + "|" +
         zm::report::to_string(e.status) + "|" + std::to_string(e.data_descriptor) + std::to_string(e.zip64);
  });
  d += "\nentries " + r.stats.value("entries", nlohmann::json(0)).dump() + " ok " +
       r.stats.value("entries_ok", nlohmann::json(0)).dump();
  return d;
}

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: zipmedic_fuzz FIXTURE_DIR RUNS_PER_FIXTURE [SEED]\n");
    return 2;
  }
  std::signal(SIGPIPE, SIG_IGN);
  // As in main.cpp: large buffers come from the heap and are reused, not fresh zeroed pages per
  // run (here, a ring and read caches per mutant: most of the run's time otherwise).
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
  std::mt19937_64 rng(argc > 3 ? std::stoull(argv[3]) : 20261127);
  int runs = std::stoi(argv[2]);
  std::size_t total = 0, cannot = 0, failed = 0;
  auto tmp = std::filesystem::temp_directory_path() / ("zipmedic-fuzz-" + std::to_string(::getpid()));
  std::filesystem::create_directories(tmp);
  for (const auto& f : std::filesystem::recursive_directory_iterator(argv[1])) {
    if (!f.is_regular_file() || f.path().extension() != ".zip") continue;
    if (f.file_size() > (4u << 20)) continue;
    auto orig = zm::io::read_whole_file(f.path());
    for (int i = 0; i < runs; ++i) {
      auto b = orig;
      int edits = 1 + int(rng() % 4);
      for (int k = 0; k < edits && !b.empty(); ++k) {
        std::size_t at = rng() % b.size();
        switch (rng() % 6) {
          case 0: b[at] ^= std::uint8_t(1u << (rng() % 8)); break;
          case 1: for (std::size_t j = at; j < std::min(b.size(), at + 1 + rng() % 4096); ++j) b[j] = 0; break;
          case 2: b.resize(at); break;
          case 3:  // a 16- or 32-bit length field set to its maximum
            for (std::size_t j = at; j < std::min(b.size(), at + (rng() % 2 ? 2 : 4)); ++j) b[j] = 0xFF;
            break;
          case 4: b[at] = std::uint8_t(rng()); break;
          case 5: {  // a record repeated (duplicated descriptors, headers)
            std::size_t len = std::min<std::size_t>(b.size() - at, 1 + rng() % 64);
            std::vector<std::uint8_t> piece(b.begin() + at, b.begin() + at + len);
            b.insert(b.begin() + at, piece.begin(), piece.end());
            break;
          }
        }
      }
      ++total;
      std::string what = f.path().filename().string() + " mutant " + std::to_string(i);
      auto fail = [&](const std::string& why) {
        ++failed;
        auto keep = tmp / ("failed-" + std::to_string(failed) + ".zip");
        std::FILE* out = std::fopen(keep.c_str(), "wb");
        if (out) {
          std::fwrite(b.data(), 1, b.size(), out);
          std::fclose(out);
        }
        std::printf("FAILED %s: %s (kept as %s)\n", what.c_str(), why.c_str(), keep.c_str());
      };
      std::string file_verdict;
      zm::io::MemorySource src(b);
      try {
        auto v = zm::check::verify_archive(src, f.path().string(), {1, false});
        std::ostringstream out;
        zm::report::write_json(out, v.report);
        (void)nlohmann::json::parse(out.str());  // what is written must be one JSON document
        file_verdict = zm::report::to_string(v.report.verdict);
        // The verify command judges a directory in batches and keeps no entries: the same report.
        zm::check::VerifyOptions small{1, false};
        small.keep_entries = false;
        small.batch = 1 + rng() % 3;
        auto w = zm::check::verify_archive(src, f.path().string(), small);
        if (digest(w.report) != digest(v.report))
          fail("verify in batches of " + std::to_string(small.batch) + " reports otherwise:\n" + digest(w.report) +
               "\n-- than in one:\n" + digest(v.report));
      } catch (const zm::io::Failure&) {
        ++cannot;
        file_verdict = "cannot proceed";
      } catch (const std::exception& ex) {
        fail(std::string("verify threw ") + ex.what());
        continue;
      }
      std::string piped = stream_verdict(b, rng, {2, false}, 1u << 20);
      if (piped != file_verdict) fail("verify gives " + file_verdict + " from a file but " + piped + " from a pipe");
      {
        // verify - settles the walk as it goes and judges the directory a few records at a time,
        // the walk's witnesses waiting in a temporary file: the report of holding everything. A
        // small window makes the directory pass the window more often (read as it passed).
        const std::size_t window = rng() % 2 ? (1u << 20) : (128u << 10);
        std::string held, settled;
        zm::check::VerifyOptions small{2, false};
        small.keep_entries = false;
        small.batch = 1 + rng() % 3;
        small.spill_in_memory = rng() % 2 ? 0 : 64;  // a temporary file from the first byte or the 64th
        stream_verdict(b, rng, {2, false}, window, &held);
        stream_verdict(b, rng, small, window, &settled);
        if (settled != held)
          fail("verify - in batches of " + std::to_string(small.batch) + " (window " + std::to_string(window) +
               ") reports otherwise:\n" + settled + "\n-- than holding every entry:\n" + held);
      }
      try {
        zm::codec::Workspace ws;
        // Two threads, as the settled scan below: with one, a bit-3 entry whose damaged stream
        // ends before the descriptor that a worker's job would have stopped at is still reported
        // in other words (both damaged; see scan_local).
        auto s = zm::scan::scan_local(src, ws, {nullptr, 0, 2});
        zm::check::judge_walk(s, src.size());
        // The scan command lets the walk hand entries over as it goes: the same report.
        const bool end = zm::scan::locate_end_records(src).has_value();
        auto whole = zm::repair::scan_report(s, "a", src.size(), end);
        auto tally = std::make_shared<zm::check::WalkTally>(src);
        zm::scan::ScanOptions so;
        so.threads = 2;
        so.settle_every = 1 + rng() % 3;
        so.settle = [&](std::vector<zm::scan::Entry>& done) { tally->add(done); };
        auto t = zm::scan::scan_local(src, ws, so);
        zm::check::judge_walk(t, src.size(), std::move(tally->judged));
        auto settled = zm::repair::scan_report(t, "a", src.size(), end, tally);
        if (digest(settled) != digest(whole))
          fail("scan settling every " + std::to_string(so.settle_every) + " entries reports otherwise:\n" +
               digest(settled) + "\n-- than holding them all:\n" + digest(whole));
      } catch (const std::exception& ex) {
        fail(std::string("scan threw ") + ex.what());
      }
      // Repair: a written output must verify ok with exactly the entries it says it kept. Every
      // fourth mutant only: a repair fsyncs its output, which costs more than all the rest.
      if (i % 4) continue;
      auto in = tmp / "in.zip";
      auto outp = tmp / "out.zip";
      std::filesystem::remove(outp);
      {
        std::FILE* w = std::fopen(in.c_str(), "wb");
        std::fwrite(b.data(), 1, b.size(), w);
        std::fclose(w);
      }
      try {
        zm::repair::RepairRequest req;
        req.input = in.string();
        req.output = outp.string();
        req.threads = 1;
        auto res = zm::repair::repair_archive(req);
        // Its walk settled every 1-3 entries (kept in the temporary file, planned a batch at a
        // time, as a million entries are): the same output, byte for byte, and the same report.
        {
          auto again = tmp / "again.zip";
          std::filesystem::remove(again);
          auto small = req;
          small.output = again.string();
          small.settle_every = 1 + rng() % 3;
          auto res2 = zm::repair::repair_archive(small);
          auto bytes = [](const std::filesystem::path& p) {
            std::ifstream f(p, std::ios::binary);
            return std::string(std::istreambuf_iterator<char>(f), {});
          };
          if (res2.written != res.written || res2.recovered_entries != res.recovered_entries ||
              res2.lost_entries != res.lost_entries || digest(res2.report) != digest(res.report) ||
              (res.written && bytes(again) != bytes(outp)))
            fail("repair settled every " + std::to_string(small.settle_every) + " entries differs:\n" +
                 digest(res2.report) + "\n-- from holding them all:\n" + digest(res.report));
          std::filesystem::remove(again);
        }
        if (res.written) {
          zm::io::FileSource rs(outp.string());
          auto v = zm::check::verify_archive(rs, outp.string(), {1, false});
          if (v.report.verdict != zm::report::Verdict::ok)
            fail("repair wrote an output that verify calls " + std::string(zm::report::to_string(v.report.verdict)));
          else if (v.entries.size() != res.recovered_entries)
            fail("repair kept " + std::to_string(res.recovered_entries) + " entries but its output holds " +
                 std::to_string(v.entries.size()));
        }
      } catch (const zm::io::Failure&) {
      } catch (const std::exception& ex) {
        fail(std::string("repair threw ") + ex.what());
      }
    }
  }
  std::filesystem::remove(tmp / "in.zip");
  std::filesystem::remove(tmp / "out.zip");
  if (!failed) std::filesystem::remove(tmp);
  std::printf("fuzz: %zu mutated archives checked (%zu could not proceed), %zu failed\n", total, cannot, failed);
  std::printf("%zu passed, %zu failed\n", total - failed, failed);
  return total > 0 && failed == 0 ? 0 : 1;
}
