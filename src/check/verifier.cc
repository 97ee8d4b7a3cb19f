#include "check/verifier.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <chrono>
#include <exception>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "check/judge.h"
#include "crypt/zip_crypto.h"
#include "report/progress.h"
#include "scan/central_directory.h"
#include "scan/end_records.h"
#include "scan/local_scanner.h"

namespace zm::check {
using report::make_finding;
using scan::Entry;
using Status = codec::DecodeResult::Status;

unsigned default_threads() { return std::max(1u, std::thread::hardware_concurrency()); }

namespace {

// Reads the local header the directory points to (4.3.7) into the entry's witnesses.
void read_local_witness(io::ByteSource& src, Entry& e) {
  bool cut = false;
  auto lfh = scan::read_local_header(src, e.lfh_offset, nullptr, &cut);
  if (!lfh) {
    e.lfh_problem = e.lfh_offset >= src.size() ? scan::LocalProblem::past_end
                    : cut                      ? scan::LocalProblem::cut
                                               : scan::LocalProblem::absent;
    return;
  }
  e.lfh = scan::local_claim(*lfh);
  e.lfh->name_differs = lfh->name != e.name;
  e.data_offset = e.lfh_offset + lfh->header_len();
}

// Decodes the entry's data exactly as the directory describes it and checks what came out.
void decode_entry(io::ByteSource& src, codec::Workspace& ws, Entry& e, std::atomic<std::uint64_t>* progress) {
  auto req = scan::sized_request(e);
  req.progress = progress;
  e.decoded = zipcrypt::decode(ws, src, req, e);
}

// The descriptor after the data (4.3.9), in whichever layout agrees with the data or, failing
// that, with the directory; else the layout the writer most likely used.
void read_descriptor_witness(io::ByteSource& src, Entry& e) {
  if (!e.has_descriptor_flag()) return;
  const std::uint64_t at = e.data_offset + e.compressed_size;
  const bool zip64 = e.lfh_zip64();
  if (e.decoded && e.decoded->status == Status::ok)
    e.descriptor = scan::match_descriptor(src, at, e.decoded->crc, e.decoded->consumed, e.decoded->produced, zip64);
  if (!e.descriptor) e.descriptor = scan::match_descriptor(src, at, e.crc32, e.compressed_size, e.uncompressed_size, zip64);
  if (!e.descriptor) e.descriptor = scan::read_descriptor_guess(src, at, zip64);
  e.descriptor_cut = !e.descriptor;
}

void decode_all(io::ByteSource& src, std::vector<Entry*>& work, unsigned threads,
                std::atomic<std::uint64_t>* progress) {
  // Threads take runs of neighbouring entries (up to 512 KiB or 256 entries), so that each
  // thread's read cache serves whole runs of small entries instead of every other one.
  std::vector<std::size_t> runs{0};
  std::uint64_t run_bytes = 0;
  for (std::size_t i = 0; i < work.size(); ++i) {
    run_bytes += work[i]->compressed_size;
    if (run_bytes >= (512u << 10) || i + 1 - runs.back() >= 256) {
      runs.push_back(i + 1);
      run_bytes = 0;
    }
  }
  if (runs.back() != work.size()) runs.push_back(work.size());
  const std::size_t run_count = runs.size() - 1;
  std::atomic<std::size_t> next{0};
  std::mutex mu;
  std::exception_ptr error;  // a read error on any thread ends the run with exit status 3
  auto worker = [&] {
    try {
      codec::Workspace ws;
      io::CachedSource cache(src);
      for (std::size_t r; (r = next.fetch_add(1)) < run_count;)
        for (std::size_t i = runs[r]; i < runs[r + 1]; ++i) decode_entry(cache, ws, *work[i], progress);
    } catch (...) {
      std::lock_guard lock(mu);
      if (!error) error = std::current_exception();
      next = run_count;
    }
  };
  threads = std::max(1u, std::min<unsigned>(threads, unsigned(run_count)));
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
  if (error) std::rethrow_exception(error);
}

// The file answers the layout judge's question directly: where in [from, to) a local header is.
struct FileProbe final : LayoutProbe {
  io::ByteSource& src;
  explicit FileProbe(io::ByteSource& s) : src(s) {}
  std::vector<FoundHeader> headers_in(std::uint64_t from, std::uint64_t to) override {
    std::vector<FoundHeader> out;
    for (std::uint64_t p = from; (p = scan::find_next_record(src, p, to, true)) < to; p += 4) {
      std::string why;
      auto h = scan::read_local_header(src, p, &why);
      out.push_back({p, h ? std::optional(h->name) : std::nullopt});
    }
    return out;
  }
  std::vector<std::uint8_t> prefix_head(std::uint64_t len) override {
    return src.read_vec(0, std::size_t(std::min<std::uint64_t>(len, kPrefixHead)));
  }
};

}  // namespace

Verification verify_archive(io::ByteSource& src, const std::string& path, const VerifyOptions& opt) {
  auto t0 = std::chrono::steady_clock::now();
  Verification v;
  report::Report& rep = v.report;
  rep.command = "verify";
  rep.archive_path = path;
  rep.archive_size = src.size();
  if (src.size() == 0) throw CannotProceed(path + ": the file is empty (0 bytes); it is not a ZIP archive");

  auto end = scan::locate_end_records(src);
  std::vector<Entry> entries;
  if (end) {
    for (auto& f : end->findings) rep.add(f);
    auto cd = scan::read_central_directory(src, *end);
    for (auto& f : cd.findings) rep.add(f);
    if (cd.readable) {
      entries = std::move(cd.entries);
      v.from_directory = true;
    }
  }

  const unsigned threads = opt.threads ? opt.threads : default_threads();
  if (v.from_directory) {
    io::CachedSource headers(src);
    for (auto& e : entries) read_local_witness(headers, e);
    std::vector<Entry*> work;
    std::uint64_t total = 0;
    for (auto& e : entries) {
      // Only data behind a header that is the entry's own is decoded as the entry's: an encrypted
      // or undecodable entry, or a header that is another entry's, is judged without it.
      if (!local_header_is_its_own(e) || !zipcrypt::decodable(e)) continue;
      if (opt.known && opt.known->count(e.lfh_offset)) {
        e.decoded = opt.known->at(e.lfh_offset);
        // Only entries that verified are known: an encrypted one was decrypted to get there.
        if (e.encrypted()) e.crypt = scan::CryptOutcome::decrypted;
      } else {
        work.push_back(&e);
        total += e.compressed_size;
      }
    }
    report::Progress progress(opt.progress, total, "decoding");
    decode_all(src, work, threads, &progress.counter());
    progress.finish();
    io::CachedSource descriptors(src);
    for (auto& e : entries) {
      // An encrypted entry's descriptor is read even when it was not decoded: its extent then
      // ends after it (no gap_bytes warning for a PK\7\8 record).
      if (e.decoded || (e.encrypted() && local_header_is_its_own(e))) read_descriptor_witness(descriptors, e);
      judge_entry(e, src.size(), rep.findings);
      settle_extent(e);
    }
    FileProbe probe(src);
    judge_layout(entries, *end, end->cd_start + end->cd_size, probe, rep.findings);
  } else {
    codec::Workspace ws;
    report::Progress progress(opt.progress, src.size());
    auto scan = scan::scan_local(src, ws, {&progress.counter(), 0, threads});
    progress.finish();
    judge_walk(scan, src.size());
    if (!scan.found_any_header && !end)
      throw CannotProceed(path + ": not a ZIP archive (no end record and no local file header anywhere)");
    if (!end) rep.add(scan::eocd_missing_finding(src.size(), scan.entries));
    for (auto& f : scan.findings) rep.add(f);
    entries = std::move(scan.entries);
    if (end && entries.empty())
      rep.add(make_finding(report::Code::cd_unreadable, std::nullopt, end->cd_start, "the central directory could not be read"));
  }
  finish_verification(v, std::move(entries), v.from_directory ? "central_directory" : "local_headers", threads, t0,
                      opt.rows);
  return v;
}

void finish_verification(Verification& v, std::vector<Entry> entries, const char* source, unsigned threads,
                         std::chrono::steady_clock::time_point t0, bool rows) {
  report::Report& rep = v.report;
  judge_names(entries, rep.findings);
  judge_features(entries, rep.findings);
  std::uint64_t comp = 0, uncomp = 0, ok = 0;
  if (rows) rep.entries.reserve(entries.size());
  for (auto& e : entries) {
    if (rows) rep.entries.push_back(scan::to_row(e));
    comp += e.compressed_size;
    uncomp += e.uncompressed_size;
    ok += e.status == report::EntryStatus::ok;
  }
  rep.decide_verdict();
  for (auto& e : entries) {
    // Callers need names, offsets, sizes and statuses from here on, not the headers' bytes.
    e.extras.reset();
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  rep.stats = {{"entries", entries.size()},
               {"entries_ok", ok},
               {"compressed_bytes", comp},
               {"uncompressed_bytes", uncomp},
               {"source", source},
               {"threads", threads},
               {"seconds", secs}};
  v.entries = std::move(entries);
}

}  // namespace zm::check
