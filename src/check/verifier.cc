#include "check/verifier.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <chrono>
#include <iterator>
#include <mutex>
#include <unordered_map>
#include <thread>

#include "check/judge.h"
#include "check/readers.h"
#include "check/verify_pass.h"
#include "check/walk_tally.h"
#include "crypt/zip_crypto.h"
#include "io/cpus.h"
#include "io/huge_pages.h"
#include "io/worker_pool.h"
#include "report/progress.h"
#include "scan/central_directory.h"
#include "scan/end_records.h"
#include "scan/local_scanner.h"

namespace zm::check {
using report::make_finding;
using scan::Entry;
using Status = codec::DecodeResult::Status;

unsigned default_threads() { return io::usable_cpus(); }

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
  scan::keep_local_extra_if_judged(e, lfh->extra);
}

// Decodes the entry's data exactly as the directory describes it and checks what came out.
void decode_entry(io::ByteSource& src, codec::Workspace& ws, Entry& e, std::atomic<std::uint64_t>* progress,
                  const std::string* password, const DataSink& sink = {}) {
  auto req = scan::sized_request(e);
  if (decoded_whole(e)) req.max_output = 0;
  req.progress = progress;
  req.sink = sink;
  e.decoded = scan::decode_data(ws, src, req, e, password);
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

// Stored data with bit 3 read by its sizes: whether it holds "PK\7\8", where libarchive's walk
// would end it (Entry::stored_descriptor_sig_inside). Read again only when libarchive walks.
void look_for_signature_inside(io::ByteSource& src, Entry& e) {
  if (e.method == zip::kStored && e.has_descriptor_flag() && e.decoded && e.decoded->status == Status::ok)
    e.stored_descriptor_sig_inside = scan::holds_signature(src, e.data_offset, e.decoded->consumed, zip::kDescriptorSig);
}

// The decode of a local header that several directory records point at (an overlap bomb: one
// stream of 1 GiB, 65,535 records): done once, by the first record that asks, and reused by every
// record that asks for the same bytes; a record that claims other sizes or another method over
// the same header is not decoded again (its overlap is damage the layout judge reports). Without
// this, verify's time grows as records x stream. Only headers whose entry could cost more than
// kFrom bytes of work are held, so that a million small entries add nothing.
class SharedDecodes {
 public:
  static constexpr std::uint64_t kFrom = 16u << 10;
  struct Key {
    std::uint64_t data_offset, compressed, uncompressed;
    std::uint16_t method, flags;
    bool operator==(const Key&) const = default;
  };
  // Fills e.decoded, once per header; false when the header was decoded for another claim.
  template <class Decode>
  bool decode(Entry& e, Decode&& run) {
    // An entry decoded whole costs what its stream holds, not what it claims (a Deflate64 match
    // of 64 KiB takes a few bits), and its result does not depend on the claim: every such header
    // is held, and records that claim other sizes share its one decode.
    const bool whole = decoded_whole(e);
    if (e.encrypted() || (!whole && std::max(e.compressed_size, e.uncompressed_size) < kFrom)) {
      run();
      return true;
    }
    const Key key{e.data_offset, e.compressed_size, whole ? 0 : e.uncompressed_size, e.method, e.flags};
    std::shared_ptr<Slot> slot;
    {
      std::lock_guard lock(mutex_);
      auto& s = slots_[e.lfh_offset];
      if (!s) s = std::make_shared<Slot>(key);
      slot = s;
    }
    if (!(slot->key == key)) return false;
    std::call_once(slot->once, [&] {
      run();
      slot->result = e.decoded;
    });
    if (!e.decoded) e.decoded = slot->result;
    return true;
  }

 private:
  struct Slot {
    explicit Slot(const Key& k) : key(k) {}
    Key key;
    std::once_flag once;
    std::optional<codec::DecodeResult> result;
  };
  std::mutex mutex_;
  std::unordered_map<std::uint64_t, std::shared_ptr<Slot>> slots_;
};

// A file's witnesses of one entry of the directory: its local header, its data, its descriptor.
void file_witnesses(io::ByteSource& src, codec::Workspace& ws, Entry& e, const VerifyOptions& opt,
                    std::atomic<std::uint64_t>* progress, SharedDecodes& shared, bool libarchive_walks) {
  read_local_witness(src, e);
  if (opt.select && !opt.select->selects(e.name)) {
    e.data_skipped = true;
    // The descriptor still bounds the entry's extent for the layout judge.
    if (local_header_is_its_own(e) && e.lfh) read_descriptor_witness(src, e);
    return;
  }
  // Only data behind a header that is the entry's own is decoded as the entry's: an encrypted
  // or undecodable entry, or a header that is another entry's, is judged without it.
  if (local_header_is_its_own(e) && zipcrypt::decodable(scan::crypt_fields(e))) {
    if (auto known = opt.known ? opt.known->find(e.lfh_offset) : std::nullopt) {
      e.decoded = std::move(known);
      // Only entries that verified are known: an encrypted one was decrypted to get there.
      if (e.encrypted()) e.crypt = scan::CryptOutcome::decrypted;
    } else if (!shared.decode(e, [&] { decode_entry(src, ws, e, progress, opt.password); })) {
      e.shares_decoded_header = true;
    }
  }
  // An encrypted entry's descriptor is read even when it was not decoded: its extent then ends
  // after it (no gap_bytes warning for a PK\7\8 record).
  if (e.decoded || (e.encrypted() && local_header_is_its_own(e))) read_descriptor_witness(src, e);
  if (libarchive_walks) look_for_signature_inside(src, e);
}

}  // namespace

void examine_entry(io::ByteSource& src, codec::Workspace& ws, Entry& e, const std::string* password,
                   const DataSink& sink, std::vector<report::Finding>& out, bool libarchive_walks) {
  read_local_witness(src, e);
  if (local_header_is_its_own(e) && zipcrypt::decodable(scan::crypt_fields(e)))
    decode_entry(src, ws, e, nullptr, password, sink);
  if (e.decoded || (e.encrypted() && local_header_is_its_own(e))) read_descriptor_witness(src, e);
  if (libarchive_walks) look_for_signature_inside(src, e);
  judge_entry(e, src.size(), out, libarchive_walks);
}

namespace {

// Findings of one run of entries, in entry order.
struct Examined {
  std::vector<report::Finding> entry, names;
};

// Examines a directory's batches of entries on the pool's workers: each entry's witnesses are
// filled and the judge weighs them (everything about one entry that needs no other). Workers take
// runs of neighbouring entries (up to 512 KiB of data or 256 entries), so that each worker's read
// cache serves whole runs of small entries, and each run's findings are kept apart so that they
// come out in directory order.
class Examiner {
 public:
  Examiner(const DirectoryPass& pass, unsigned threads, std::uint64_t max_in_flight)
      : pass_(pass), pool_(threads, max_in_flight) {
    fills_.resize(pool_.slots());
  }
  // Reached with a batch still in flight only when the command's thread threw: the runs still
  // queued are skipped, not decoded for a report that will not be written.
  ~Examiner() { abandoned_ = true; }

  // Hands a batch to the workers and returns at once, so that the caller reads the next batch
  // and takes in the last one while they work. `batch` and `facts` stay the workers' until
  // finish(); one batch is examined at a time.
  void start(std::vector<Entry>& batch, std::vector<NameJudge::Facts>& facts) {
    cut_into_runs(batch, facts);
    for (auto& run : runs_) pool_.submit({&Examiner::examine_run, &run, run.bytes});
  }

  // Waits for the batch start() handed over without taking its findings: for the command's
  // thread, before it passes on an error of its own, so that an error a worker met first (on an
  // entry of the batch) is the one reported, as when the batches did not overlap.
  void wait() { pool_.wait(); }

  // Waits for the batch start() handed over; its findings then go out in directory order.
  void finish(std::vector<report::Finding>& out, NameJudge& names) {
    pool_.wait();  // a read error on any worker ends the command here, with exit status 3
    for (auto& run : runs_) {
      std::move(run.found.entry.begin(), run.found.entry.end(), std::back_inserter(out));
      names.absorb(run.found.names);
    }
    runs_.clear();
  }

 private:
  struct Run {
    Examiner* owner;
    // The batch's arrays, not its vectors: the caller swaps those while the workers work.
    Entry* batch;
    NameJudge::Facts* facts;
    std::size_t from, to;  // [from, to) of the batch
    std::uint64_t bytes;   // their compressed data
    Examined found;
  };

  void cut_into_runs(std::vector<Entry>& batch, std::vector<NameJudge::Facts>& facts) {
    runs_.clear();
    facts.resize(batch.size());
    std::size_t from = 0;
    std::uint64_t bytes = 0;
    for (std::size_t i = 0; i < batch.size(); ++i) {
      bytes += batch[i].compressed_size;
      if (bytes >= (512u << 10) || i + 1 - from >= 256) {
        runs_.push_back({this, batch.data(), facts.data(), from, i + 1, bytes, {}});
        from = i + 1;
        bytes = 0;
      }
    }
    if (from != batch.size()) runs_.push_back({this, batch.data(), facts.data(), from, batch.size(), bytes, {}});
  }

  static void examine_run(void* run_ptr, unsigned worker) {
    Run& run = *static_cast<Run*>(run_ptr);
    Examiner& self = *run.owner;
    if (self.pool_.failed() || self.abandoned_) return;  // the command ends with that error
    // Each worker fills witnesses its own way (its own read cache), made on first use.
    FillWitnesses& fill = self.fills_[worker];
    if (!fill) fill = self.pass_.witnesses();
    for (std::size_t i = run.from; i < run.to; ++i) {
      Entry& e = run.batch[i];
      fill(e);
      judge_entry(e, self.pass_.source_size, run.found.entry, self.pass_.end.libarchive_walks);
      settle_extent(e);
      run.facts[i] = NameJudge::examine(e, run.found.names);
    }
  }

  const DirectoryPass& pass_;
  std::vector<FillWitnesses> fills_;  // one per worker
  std::vector<Run> runs_;  // the batch being examined
  std::atomic<bool> abandoned_{false};
  io::WorkerPool pool_;  // last: its workers end before what they use goes
};

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

namespace {

// What verify keeps of each entry of a directory once it is judged, besides its Extent: where its
// record is (its name and sizes are read back from there for the report) and its status.
// 8 bytes: an offset needs far fewer than 59 bits (512 PiB).
struct Kept {
  Kept(std::uint64_t at, report::EntryStatus s, bool zip64) : record(at), status_(std::uint64_t(s)), lfh_zip64(zip64) {}
  std::uint64_t record : 59;  // offset of the directory record
  std::uint64_t status_ : 4;
  std::uint64_t lfh_zip64 : 1;
  report::EntryStatus status() const { return report::EntryStatus(status_); }
  void set_status(report::EntryStatus s) { status_ = std::uint64_t(s); }
};
static_assert(sizeof(Kept) == 8);

class DirectoryRows final : public report::RowSource {
 public:
  // `decoded_other`: (index, size) of the few entries whose data decoded to another size than
  // their record says, in index order (EntryRow::decoded_size).
  DirectoryRows(io::ByteSource& src, std::uint64_t shift, std::vector<Kept> kept, std::size_t ok,
                std::vector<std::pair<std::uint32_t, std::uint64_t>> decoded_other, std::shared_ptr<const void> owner)
      : src_(src), shift_(shift), kept_(std::move(kept)), ok_(ok), decoded_other_(std::move(decoded_other)),
        owner_(std::move(owner)) {}
  std::size_t size() const override { return kept_.size(); }
  std::size_t ok() const override { return ok_; }
  void each(const std::function<void(const report::EntryRow&)>& f) const override {
    io::CachedSource dir(src_);
    auto other = decoded_other_.begin();
    for (std::size_t i = 0; i < kept_.size(); ++i) {
      const Kept& k = kept_[i];
      Entry e = scan::reread_directory_record(dir, k.record, shift_);
      e.status = k.status();
      auto row = scan::to_row(e);
      row.zip64 = row.zip64 || k.lfh_zip64;
      if (other != decoded_other_.end() && other->first == i) row.decoded_size = (other++)->second;
      f(row);
    }
  }

 private:
  io::ByteSource& src_;
  std::uint64_t shift_;
  std::vector<Kept> kept_;
  std::size_t ok_;
  std::vector<std::pair<std::uint32_t, std::uint64_t>> decoded_other_;
  std::shared_ptr<const void> owner_;  // what src_ lives in, if the caller does not hold it
};

}  // namespace

namespace {

// A directory as verify starts on it: its reader and its first batch of records, read before any
// entry is judged to learn whether the directory is readable at all.
struct DirectoryStart {
  std::optional<scan::DirectoryReader> reader;
  std::vector<Entry> batch;
  std::vector<std::uint64_t> records;  // where each record of `batch` starts
  std::size_t end_count = 0;  // the end records' findings, first in the report
};

// The end records' findings, then the directory's first batch. False when the directory is not
// readable (its findings are then the report's; the local headers are walked instead).
bool read_first_batch(io::ByteSource& src, scan::EndRecords& end, const VerifyOptions& opt, report::Report& rep,
                      DirectoryStart& dir) {
  for (auto& f : judge_end_records(end)) rep.add(f);
  dir.end_count = rep.findings.size();
  dir.reader.emplace(src, end);
  dir.reader->next(std::max<std::size_t>(opt.batch, 1), dir.batch, &dir.records);
  if (dir.reader->readable()) return true;
  for (auto& f : dir.reader->findings) rep.add(f);
  return false;
}

// Without a readable directory: the local headers walked (scan_local) and judged (judge_walk).
void verify_walk(Verification& v, io::ByteSource& src, const std::string& path, const std::optional<scan::EndRecords>& end,
                 const VerifyOptions& opt, unsigned threads, std::chrono::steady_clock::time_point t0) {
  codec::Workspace ws;
  report::Progress progress(opt.progress, src.size());
  scan::ScanOptions so{&progress.counter(), 0, threads};
  so.max_in_flight = opt.max_in_flight;
  so.password = opt.password;
  // A cut backup of a million entries is walked, not read from a directory: unless the caller
  // wants the entries, they are judged as the walk settles them and only their rows are kept.
  std::shared_ptr<WalkTally> tally;
  if (!opt.keep_entries) {
    tally = std::make_shared<WalkTally>(src, true);
    so.settle = [&](std::vector<Entry>& done) { tally->add(done); };
    so.settle_every = opt.batch;
  }
  auto scan = scan::scan_local(src, ws, so);
  progress.finish();
  judge_walk(scan, src.size(), tally.get());
  if (!scan.found_any_header && !end)
    throw io::Failure(io::Fail::not_a_zip, path + ": not a ZIP archive (no end record and no local file header anywhere)");
  finish_walk(v, scan, end, src.size(), tally, "local_headers", opt.rows, threads, t0);
}

// With a readable directory: judge_directory over its batches, each entry's other witnesses read
// from the file (file_witnesses).
void verify_directory(Verification& v, io::ByteSource& src, const std::string& path, const scan::EndRecords& end,
                      DirectoryStart& dir, const VerifyOptions& opt, unsigned threads,
                      std::chrono::steady_clock::time_point t0) {
  report::Report& rep = v.report;
  report::Progress progress(opt.progress, end.cd_start, "decoding");
  FileProbe probe(src);
  probe.path = path;
  SharedDecodes shared;
  DirectoryPass pass{src, end.shift, end,
                     // Reserved from the end record's count, bounded by what the directory's size
                     // can hold.
                     std::size_t(std::min<std::uint64_t>(end.entries, end.cd_size / zip::kCentralHeaderLen)),
                     [&](std::vector<Entry>& out, std::vector<std::uint64_t>& at) {
                       return dir.reader->next(std::max<std::size_t>(opt.batch, 1), out, &at);
                     },
                     src.size(),
                     // Each thread reads through its own cache.
                     [&]() -> FillWitnesses {
                       auto cache = std::make_shared<io::CachedSource>(src);
                       return [&, cache](Entry& e) {
                         thread_local codec::Workspace ws;
                         file_witnesses(*cache, ws, e, opt, &progress.counter(), shared, end.libarchive_walks);
                       };
                     },
                     [&] {
                       progress.finish();
                       // The directory's own findings (a record cut short, a count that differs)
                       // come first, as when the whole directory was read before any entry was
                       // judged.
                       rep.findings.insert(rep.findings.begin() + std::ptrdiff_t(dir.end_count),
                                           std::make_move_iterator(dir.reader->findings.begin()),
                                           std::make_move_iterator(dir.reader->findings.end()));
                     },
                     probe};
  judge_directory(v, pass, dir.batch, dir.records, opt, threads, t0);
}

}  // namespace

Verification verify_archive(io::ByteSource& src, const std::string& path, const VerifyOptions& opt) {
  auto t0 = std::chrono::steady_clock::now();
  Verification v;
  report::Report& rep = v.report;
  rep.command = "verify";
  rep.archive_path = path;
  rep.archive_size = src.size();
  if (src.size() == 0) throw io::Failure(io::Fail::empty, path + ": the file is empty (0 bytes); it is not a ZIP archive");

  auto end = scan::locate_end_records(src);
  const unsigned threads = opt.threads ? opt.threads : default_threads();
  DirectoryStart dir;
  v.from_directory = end && read_first_batch(src, *end, opt, rep, dir);
  if (v.from_directory) {
    verify_directory(v, src, path, *end, dir, opt, threads, t0);
  } else {
    verify_walk(v, src, path, end, opt, threads, t0);
    if (opt.select) note_checked_in_full(v, *opt.select);
  }
  return v;
}

void judge_directory(Verification& v, DirectoryPass& pass, std::vector<Entry>& batch, std::vector<std::uint64_t>& records,
                     const VerifyOptions& opt, unsigned threads, std::chrono::steady_clock::time_point t0) {
  report::Report& rep = v.report;
  const scan::EndRecords& end = pass.end;
  // The directory a batch at a time: each entry is read, decoded and judged, and then only its
  // extent, its status and where its record is are kept, so that memory does not grow with the
  // names (a million entries: the man page, MEMORY).
  std::vector<Kept> kept;
  std::vector<std::pair<std::uint32_t, std::uint64_t>> decoded_other;
  std::vector<Extent> placed;
  NameJudge names;
  std::vector<NameJudge::Facts> facts;
  FeatureJudge features;
  PasswordJudge password;
  std::uint64_t comp = 0, uncomp = 0, ok = 0;
  Checked checked(opt.select);
  // Reserved once, since a vector that doubles holds both its old and new arrays for a moment.
  io::reserve_huge(kept, pass.expected);
  io::reserve_huge(placed, pass.expected);
  names.reserve(pass.expected);
  // Two batches in turn: while the workers examine one, this thread reads the next from the
  // directory and takes in the one before (a million small entries: the directory's records and
  // the judges' tables are as much work as the decoding). Declared before the examiner, whose
  // workers end first should this thread throw while they still work on them.
  std::vector<Entry> next_batch;
  std::vector<std::uint64_t> next_records;
  std::vector<NameJudge::Facts> next_facts;
  Examiner examiner(pass, threads, opt.max_in_flight);
  examiner.start(batch, facts);
  for (;;) {
    bool more = false;
    try {
      more = pass.next(next_batch, next_records);
    } catch (...) {
      examiner.wait();
      throw;
    }
    examiner.finish(rep.findings, names);
    if (more) examiner.start(next_batch, next_facts);
    for (std::size_t i = 0; i < batch.size(); ++i) {
      const Entry& e = batch[i];
      const auto index = std::uint32_t(kept.size());
      if (e.lfh_read()) placed.push_back(extent_of(e, index));
      names.add(e, index, facts[i]);
      features.add(e);
      password.add(e, index);
      comp += e.compressed_size;
      uncomp += e.uncompressed_size;
      if (!e.data_skipped) checked.add(e.name, e.compressed_size);
      kept.push_back({records[i], e.status, e.lfh_zip64()});
      if (auto d = scan::decoded_size_if_other(e)) decoded_other.emplace_back(index, *d);
    }
    if (opt.keep_entries)
      for (auto& e : batch) v.entries.push_back(std::move(e));
    if (!more) break;
    batch.swap(next_batch);
    records.swap(next_records);
    facts.swap(next_facts);
  }
  if (pass.after_batches) pass.after_batches();

  io::CachedSource names_back(pass.records);
  NameOf name_of = [&](std::uint32_t i) {
    Entry e = scan::reread_directory_record(names_back, kept[i].record, pass.shift);
    return Named{std::move(e.name), e.lfh_offset};
  };
  judge_layout(placed, name_of, end, end.cd_start + end.cd_size, pass.probe, rep.findings);
  for (const auto& x : placed)
    if (x.overlaps) {
      kept[x.index].set_status(report::EntryStatus::damaged);
      if (opt.keep_entries) v.entries[x.index].status = report::EntryStatus::damaged;
    }
  std::vector<Extent>().swap(placed);
  names.finish(name_of, rep.findings);
  features.finish(rep.findings);
  if (password.settle(rep.findings))
    for (auto i : password.chance()) {
      kept[i].set_status(report::EntryStatus::encrypted);
      if (opt.keep_entries) v.entries[i].status = report::EntryStatus::encrypted;
    }
  for (const auto& k : kept) ok += k.status() == report::EntryStatus::ok;
  const std::size_t count = kept.size();
  if (opt.rows && opt.keep_entries) {
    rep.entries.reserve(count);
    for (auto& e : v.entries) {
      rep.entries.push_back(scan::to_row(e));
      e.extras.reset();  // callers need names, offsets, sizes and statuses from here on
    }
  } else if (opt.rows) {
    rep.lazy_rows = std::make_shared<DirectoryRows>(pass.records, pass.shift, std::move(kept), ok,
                                                    std::move(decoded_other), pass.owner);
  }
  rep.decide_verdict();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  rep.stats = {{"entries", count},
               {"entries_ok", ok},
               {"compressed_bytes", comp},
               {"uncompressed_bytes", uncomp},
               {"source", pass.source},
               {"threads", threads},
               {"seconds", secs}};
  if (opt.select) rep.extra["checked"] = checked.json(count, comp);
}

void note_checked_in_full(Verification& v, const EntrySelection& select) {
  note_checked(v.report, select, [](const report::EntryRow&) { return true; });
}

void finish_walk_tally(Verification& v, scan::ScanResult& scan, const std::shared_ptr<WalkTally>& tally, const char* source,
                       unsigned threads, std::chrono::steady_clock::time_point t0) {
  report::Report& rep = v.report;
  tally->finish_names(scan.entries, rep.findings);
  std::vector<report::EntryRow> rest;
  std::uint64_t comp = tally->compressed_bytes(), uncomp = tally->uncompressed_bytes();
  for (const auto& e : scan.entries) {
    rest.push_back(scan::to_row(e));
    comp += e.compressed_size;
    uncomp += e.uncompressed_size;
  }
  rep.lazy_rows = walk_rows(tally, std::move(rest));
  rep.decide_verdict();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  rep.stats = {{"entries", rep.lazy_rows->size()},
               {"entries_ok", rep.lazy_rows->ok()},
               {"compressed_bytes", comp},
               {"uncompressed_bytes", uncomp},
               {"source", source},
               {"threads", threads},
               {"seconds", secs}};
}

void finish_walk(Verification& v, scan::ScanResult& scan, const std::optional<scan::EndRecords>& end,
                 std::uint64_t source_size, const std::shared_ptr<WalkTally>& tally, const char* source, bool rows,
                 unsigned threads, std::chrono::steady_clock::time_point t0) {
  report::Report& rep = v.report;
  const std::size_t before = tally ? tally->count() : 0;
  if (!end) rep.add(scan::eocd_missing_finding(source_size, scan.entries, before, tally ? tally->last_whole() : std::nullopt));
  for (auto& f : scan.findings) rep.add(f);
  if (end && scan.entries.empty() && !before)
    rep.add(make_finding(report::Code::cd_unreadable, std::nullopt, end->cd_start, "the central directory could not be read",
                         report::refusing(report::kAllReaders)));
  if (!tally)
    finish_verification(v, std::move(scan.entries), source, threads, t0, rows);
  else
    finish_walk_tally(v, scan, tally, source, threads, t0);
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
