#include "repair/repair.h"

#include <fmt/format.h>
#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <unordered_set>

#include "check/judge.h"
#include "check/sysreptor_profile.h"
#include "check/verifier.h"
#include "io/output.h"
#include "repair/write.h"
#include "report/progress.h"
#include "scan/central_directory.h"
#include "scan/end_records.h"
#include "scan/entry_spill.h"

namespace zm::repair {
using report::make_finding;
using scan::Entry;

report::Report scan_report(const scan::ScanResult& s, const std::string& path, std::uint64_t size, bool end_found,
                           std::shared_ptr<check::WalkTally> tally) {
  report::Report r;
  r.command = "scan";
  r.archive_path = path;
  r.archive_size = size;
  r.findings = s.findings;
  std::uint64_t ok = 0;
  std::vector<report::EntryRow> rows;
  rows.reserve(s.entries.size());
  for (const auto& e : s.entries) {
    rows.push_back(scan::to_row(e));
    ok += e.status == report::EntryStatus::ok;
  }
  const std::size_t before = tally ? tally->count() : 0;
  if (!end_found)
    r.add(scan::eocd_missing_finding(size, s.entries, before, tally ? tally->last_whole() : std::nullopt));
  nlohmann::json damaged = nlohmann::json::array();
  for (const auto& d : s.damaged) damaged.push_back({{"from", d.from}, {"to", d.to}, {"why", d.why}});
  nlohmann::json scan = {{"archive_start", s.archive_start},
                         {"end_of_entries", s.end_of_entries},
                         {"directory_at", s.directory_at ? nlohmann::json(*s.directory_at) : nlohmann::json(nullptr)},
                         {"stop", report::printable_name(s.stop)},
                         {"damaged", damaged}};
  if (s.cut_entry) {
    // The entry the file ends inside is the last the walk met, never one it settled.
    const auto& cut = s.entries.at(*s.cut_entry - s.entries_before);
    scan["cut_entry"] = {{"index", *s.cut_entry + 1},
                         {"name", report::printable_name(cut.name)},
                         {"offset", cut.lfh_offset},
                         {"intact_bytes", s.cut_intact_bytes}};
  }
  r.extra["scan"] = scan;
  if (tally) {
    r.lazy_rows = check::walk_rows(tally, std::move(rows));
    ok += tally->ok();
  } else {
    r.entries = std::move(rows);
  }
  r.stats = {{"entries", before + s.entries.size()}, {"entries_ok", ok}};
  r.decide_verdict();
  return r;
}

namespace {

// The old directory (4.3.12) as the plan's witness, read once, front to back: each record that is
// the first to name its local header's offset goes to the plan's census as it passes, and what
// stays is an index of where each record is, by the offset it names (16 bytes a record). The
// plan reads the one record that witnesses an entry again when it comes to that entry: a million
// records are not held.
class DirectoryOnDisk final : public OldDirectory {
 public:
  explicit DirectoryOnDisk(io::ByteSource& src) : src_(src), cache_(src) {}
  // The one pass over the directory that `end` describes.
  void read(const scan::EndRecords& end, const std::function<void(const Entry&)>& first_records) {
    index(end, end.shift, first_records);
    // A directory that does not end where the end records start (eocd_inconsistent) had bytes
    // deleted inside it (bytes inserted read as a prefix's shift) or its size damaged: a deletion can join two records into one that parses, with
    // the first one's fixed fields and data and a name made of both (seed 1000, case 178:
    // 'backup/data/b.bin' and 'backup/data/signatures.bin' read as 'backupnatures.bin'), so no
    // record's name can outvote a local header's.
    const std::uint64_t dir_end = end.zip64 ? end.zip64_offset : end.eocd_offset;
    if (end.cd_start + end.cd_size != dir_end) counts_differ_ = true;
    // Bytes deleted before the directory leave it ending at the end record but starting before
    // the declared offset (eocd_inconsistent; unzip reads it there). Read there, it is a witness
    // for the entries in front of the deletion.
    if (!readable_ && end.cd_size <= dir_end && dir_end - end.cd_size < end.cd_start) {
      scan::EndRecords moved = end;
      moved.cd_start = dir_end - end.cd_size;
      moved.shift = 0;
      index(moved, 0, first_records);
    }
    std::sort(records_.begin(), records_.end());
    std::sort(names_.begin(), names_.end());
  }
  std::optional<Entry> at(std::uint64_t lfh_offset) override {
    auto it = std::lower_bound(records_.begin(), records_.end(), Record{lfh_offset, 0});
    if (it == records_.end() || it->lfh_offset != lfh_offset) return std::nullopt;
    return scan::reread_directory_record(cache_, it->at, shift_);
  }
  // The record whose own offset field, before the shift, names `lfh_offset`: bytes inserted
  // between an entry and the directory shift the records of the entries after them, not of those
  // before (seed 1000, case 4378: a byte inserted inside the second local header).
  std::optional<Entry> unshifted(std::uint64_t lfh_offset) {
    if (!shift_) return std::nullopt;
    return at(lfh_offset + shift_);
  }
  // The record of the same name and data as the walked entry `e` when none names its offset:
  // bytes deleted or inserted before it moved the entry, and its record still holds its host,
  // attributes and comment.
  std::optional<Entry> same_entry(const Entry& e) {
    if (!e.decoded) return std::nullopt;
    const std::uint64_t h = std::hash<std::string_view>{}(e.name);
    for (auto it = std::lower_bound(names_.begin(), names_.end(), std::pair{h, std::uint64_t(0)});
         it != names_.end() && it->first == h; ++it) {
      Entry r = scan::reread_directory_record(cache_, it->second, shift_);
      if (r.name == e.name && r.crc32 == e.decoded->crc && r.uncompressed_size == e.uncompressed_size &&
          r.compressed_size == e.compressed_size)
        return r;
    }
    return std::nullopt;
  }
  bool sound(std::uint64_t lfh_offset) const override {
    auto it = std::lower_bound(records_.begin(), records_.end(), Record{lfh_offset, 0});
    return !counts_differ_ && it != records_.end() && it->lfh_offset == lfh_offset && it->at != unsound_;
  }

 private:
  struct Record {
    std::uint64_t lfh_offset, at;
    auto operator<=>(const Record&) const = default;
  };
  void index(const scan::EndRecords& end, std::uint64_t shift, const std::function<void(const Entry&)>& first_records) {
    scan::DirectoryReader rd(src_, end);
    counts_differ_ = false;
    std::vector<Entry> batch;
    std::vector<std::uint64_t> at;
    std::unordered_set<std::uint64_t> passed;
    while (rd.next(4096, batch, &at))
      for (std::size_t i = 0; i < batch.size(); ++i) {
        records_.push_back({batch[i].lfh_offset, at[i]});
        names_.push_back({std::hash<std::string_view>{}(batch[i].name), at[i]});
        if (first_to_name(passed)) first_records(batch[i]);
      }
    readable_ = rd.readable();
    shift_ = shift;
    if (!readable_) records_.clear(), names_.clear();
    for (const auto& f : rd.findings) {
      // The reader broke off after the record it read last: that record's name length may be
      // what broke it.
      if (f.code == report::Code::cd_unreadable && !records_.empty()) unsound_ = records_.back().at;
      // Fewer or more records than the end record counts: bytes deleted or inserted inside the
      // directory may have joined two records into one that parses, with one's name and the
      // other's data, so no record's name can outvote a local header's.
      if (f.code == report::Code::eocd_inconsistent) counts_differ_ = true;
    }
  }
  // Whether the record indexed last is the first to name its offset (the one at() gives).
  // Writers list the records in offset order; only a directory out of that order needs the set
  // of the offsets it has named.
  bool first_to_name(std::unordered_set<std::uint64_t>& passed) const {
    const std::uint64_t off = records_.back().lfh_offset;
    if (passed.empty()) {
      if (records_.size() == 1 || off > records_[records_.size() - 2].lfh_offset) return true;
      for (std::size_t i = 0; i + 1 < records_.size(); ++i) passed.insert(records_[i].lfh_offset);
    }
    return passed.insert(off).second;
  }
  io::ByteSource& src_;
  io::CachedSource cache_;
  std::vector<Record> records_;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> names_;  // (hash of the name, where the record is)
  std::uint64_t shift_ = 0, unsound_ = ~std::uint64_t(0);
  bool readable_ = false, counts_differ_ = false;
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Where the repaired archive goes: appended to the input, a stream or device written as it is,
// or a new regular file. `bound`: at most the bytes the repair writes (a spool must have room).
std::unique_ptr<io::OutputSink> open_sink(const RepairRequest& req, std::uint64_t bound) {
  if (req.in_place) return std::make_unique<io::InPlaceAppender>(req.input);
  auto target = io::classify_output(req.output);
  if (target.kind == io::OutputTarget::Kind::stream) return std::make_unique<io::StreamOutput>(target, bound);
  // Refused before a byte is written when the bound does not fit: a full disk found half-way is
  // a wasted run (a replaced file's own blocks are not counted free: they are until the rename).
  if (const std::uint64_t avail = io::free_bytes(target.path); bound > avail)
    throw io::Failure(io::Fail::resource, fmt::format("{}: not enough space: the repaired archive needs up to {} bytes, "
                                                      "{} are available",
                                                      target.path, bound, avail));
  // Without --force an existing file is not replaced; the command line was checked for that, and
  // the rename refuses a file that appeared since.
  return std::make_unique<io::AtomicOutputFile>(target.path, req.replace_output);
}

void refuse_unrepairable(const RepairRequest& req, const std::string& name, io::ByteSource& src) {
  if (req.source && req.in_place)
    throw io::Failure(io::Fail::usage, name + ": an encrypted backup cannot be repaired in place; use -o OUT "
                               "(with --encrypt to keep it encrypted)");
  if (src.size() == 0) throw io::Failure(io::Fail::empty, name + ": the file is empty (0 bytes); nothing to repair");
  if (req.in_place && req.salvage_partial)
    throw io::Failure(io::Fail::usage, "--salvage-partial writes new data and works in copy mode (-o) only");
}

// In place, an archive judged whole from its directory stays byte for byte as it is, also one
// that an earlier in-place repair fixed, whose new directory follows the unreferenced bytes of the
// cut entry (a walk from the front reads those bytes as the cut entry's data running on into the
// directory, and would append yet another directory). True when it was judged whole.
bool left_as_whole(const RepairRequest& req, const std::string& name, io::ByteSource& src,
                   const std::shared_ptr<io::FileSource>& own, RepairResult& res,
                   std::chrono::steady_clock::time_point t0) {
  check::VerifyOptions vo{req.threads, false};
  vo.keep_entries = false;
  vo.password = req.password;
  auto v = check::verify_archive(src, name, vo);
  if (v.report.verdict != report::Verdict::ok) return false;
  report::Report& rep = res.report;
  const std::size_t n = v.report.row_count();
  res.written = true;
  res.recovered_entries = n;
  // The rows are read back from the directory when the report is written, after this returns.
  if (v.report.lazy_rows) rep.lazy_rows = report::holding(std::move(v.report.lazy_rows), own);
  rep.entries = std::move(v.report.entries);
  rep.findings = std::move(v.report.findings);
  rep.extra["repair"] = {{"entries_recovered", n}, {"entries_lost", 0},
                         {"lost", nlohmann::json::array()}, {"looks_finished", true},
                         {"scan_stop", "not walked: the central directory verified"}};
  rep.extra["output"] = {{"path", name}, {"mode", "in-place"}, {"written", false},
                         {"verdict", "ok"}, {"findings", nlohmann::json::array()}};
  rep.stats["entries_recovered"] = res.recovered_entries;
  rep.stats["entries_lost"] = 0;
  rep.stats["seconds"] = seconds_since(t0);
  rep.verdict = report::Verdict::ok;
  return true;
}

nlohmann::json findings_json(const std::vector<report::Finding>& findings) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& f : findings)
    out.push_back({{"code", std::string(report::to_string(f.code))},
                   {"severity", report::to_string(f.severity)},
                   {"entry", f.entry ? nlohmann::json(report::printable_name(*f.entry)) : nlohmann::json()},
                   {"offset", f.offset ? nlohmann::json(*f.offset) : nlohmann::json()},
                   {"message", f.message}});
  return out;
}

// One repair after its input was found worth walking: walk, read the old directory, plan and
// write, prove, report, in that order. What one step hands the next is kept here.
class Repair {
 public:
  Repair(const RepairRequest& req, const std::string& name, io::ByteSource& src,
         const std::optional<scan::EndRecords>& end, RepairResult& res)
      : req_(req), name_(name), src_(src), end_(end), res_(res), rep_(res.report), directory_(src),
        planner_(directory_, {req.in_place, req.salvage_partial, src.size(), false, &src}), walked_(name),
        writer_(src, ws_, [this]() -> io::OutputSink& { return open_output(); }, req.in_place, name) {}
  void walk();
  void read_old_directory();
  void plan_and_write();
  void prove_and_commit();
  void report(std::chrono::steady_clock::time_point t0);

 private:
  void keep_walked(const std::vector<Entry>& done);
  std::vector<std::optional<Entry>> rescue_by_old_records(std::vector<Entry>& entries);
  std::optional<Entry> record_by_name(const Entry& e);
  void plan_batch(std::vector<Entry>& entries);
  io::OutputSink& open_output();
  io::OutputSink& output() { return enc_ ? static_cast<io::OutputSink&>(*enc_) : *sink_; }

  const RepairRequest& req_;
  const std::string& name_;
  io::ByteSource& src_;
  const std::optional<scan::EndRecords>& end_;
  RepairResult& res_;
  report::Report& rep_;
  codec::Workspace ws_;
  DirectoryOnDisk directory_;
  Planner planner_;
  scan::EntrySpill walked_;
  // At most what the output can take (a spool must have room for it): the data of the entries,
  // each a stretch of the input, what a salvage decodes of a damaged one, and every entry's two
  // headers with the longest name and fields either witness can give.
  std::uint64_t bound_ = zip::kZip64EndLen + zip::kZip64LocatorLen + zip::kEndLen;
  // What the walk says for the report.
  std::optional<report::Finding> eocd_missing_;
  bool looks_finished_ = false;
  std::optional<std::uint64_t> directory_at_;  // where the walk met a directory record
  std::string scan_stop_;
  std::unique_ptr<io::OutputSink> sink_;
  std::unique_ptr<EncryptingSink> enc_;
  Writer writer_;
  std::vector<report::EntryRow> not_kept_;
  std::vector<Entry> partials_;
  // An in-place repair's proof takes the decode results of the bytes it just scanned.
  codec::KnownResults known_;
};

// The walk, judged as it settles (as scan judges it), every entry kept in a temporary file
// rather than in memory: a million entries are planned and written a batch at a time.
void Repair::walk() {
  if (!req_.in_place) bound_ += src_.size();
  auto tally = std::make_shared<check::WalkTally>(src_);
  tally->keep_rows = false;  // its rows are not this report's: those are the new directory's
  report::Progress progress(req_.progress, src_.size());
  scan::ScanOptions so{&progress.counter(), 0, req_.threads ? req_.threads : check::default_threads()};
  so.password = req_.password;
  so.beyond_directory = true;
  so.settle = [&](std::vector<Entry>& done) {
    tally->add(done);
    keep_walked(done);
  };
  so.settle_every = std::max<std::size_t>(req_.settle_every, 1);
  auto scan = scan::scan_local(src_, ws_, so);
  progress.finish();
  check::judge_walk(scan, src_.size(), tally.get());
  if (!scan.found_any_header)
    throw io::Failure(io::Fail::not_a_zip, name_ + ": not a ZIP archive (no local file header found); nothing to repair");
  for (auto& f : scan.findings) rep_.add(f);
  keep_walked(scan.entries);
  if (!end_) eocd_missing_ = scan::eocd_missing_finding(src_.size(), scan.entries, tally->count(), tally->last_whole());
  // The old directory's records can be longer than the walk's headers (names, comments).
  if (end_) bound_ += 2 * end_->cd_size;
  looks_finished_ = scan.directory_at.has_value() && end_;
  directory_at_ = scan.directory_at;
  scan_stop_ = report::printable_name(scan.stop);
}

void Repair::keep_walked(const std::vector<Entry>& done) {
  for (const auto& e : done) {
    planner_.census(e);
    walked_.append(e);
    bound_ += 2 * (zip::kCentralHeaderLen + e.name.size() + e.lfh_extra().size() + 36 + 28);
    if (req_.salvage_partial && e.status != report::EntryStatus::ok) bound_ += e.uncompressed_size;
  }
}

// After the walk, so that the census knows which records name an entry the walk found.
void Repair::read_old_directory() {
  auto census = [&](const Entry& record) { planner_.census_record(record); };
  if (end_) return directory_.read(*end_, census);
  // No end record (the archive was cut inside its directory): the records before the cut still
  // describe the first entries, read from where the walk met the first one to the end of the file.
  if (!directory_at_) return;
  scan::EndRecords cut;
  cut.file_size = cut.eocd_offset = cut.dir_end = cut.end_of_records = src_.size();
  cut.cd_start = cut.cd_offset = cut.declared_cd_start = *directory_at_;
  cut.cd_size = src_.size() - *directory_at_;
  directory_.read(cut, census);
}

void Repair::plan_and_write() {
  report::Progress phase(req_.progress, report::Progress::kUnsized, "writing");
  // The SysReptor profile looks at every entry together, after rescue and before the plan: it
  // holds them all (man MEMORY).
  const std::size_t batch = req_.profile_sysreptor ? walked_.count() + 1 : 4096;
  planner_.reserve(walked_.count());
  walked_.each_batch(batch, [&](std::vector<Entry>& entries) { plan_batch(entries); });
  planner_.finish();
  for (auto& f : planner_.findings) rep_.add(std::move(f));
  res_.lost_entries = planner_.lost.size();
  res_.recovered_entries = planner_.kept;
  for (const auto& e : partials_) writer_.add_partial(e);
}

// Each entry's old record, once, and what it and the stream itself can mend in the entry.
std::vector<std::optional<Entry>> Repair::rescue_by_old_records(std::vector<Entry>& entries) {
  std::vector<std::optional<Entry>> records(entries.size());
  for (std::size_t i = 0; i < entries.size(); ++i) {
    Entry& e = entries[i];
    records[i] = directory_.at(e.lfh_offset);
    if (!records[i] || (records[i]->name != e.name && e.status == report::EntryStatus::ok))
      if (auto named = record_by_name(e)) records[i] = std::move(named);
    if (records[i]) rescue_entry(e, *records[i], src_, ws_, req_.in_place);
    if (!req_.in_place) learn_from_stream(e, src_, ws_);
    // A damaged entry is named in the lost list by its record when its local name is the less
    // likely: that record is only a witness of its name (an empty record's data would "verify"
    // any header's first zero bytes, so it mends nothing).
    if (!records[i] && e.status != report::EntryStatus::ok) records[i] = directory_.unshifted(e.lfh_offset);
  }
  return records;
}

// The old record of the same name and data as `e` when none (or another entry's) names its offset:
// bytes deleted or inserted before it moved it. Not one whose own offset holds a local header of
// that name: two archives joined each list their own entries of one name.
std::optional<Entry> Repair::record_by_name(const Entry& e) {
  auto r = directory_.same_entry(e);
  if (!r || r->lfh_offset == e.lfh_offset || !planner_.walked(r->lfh_offset)) return r;
  auto h = scan::read_local_header(src_, r->lfh_offset, nullptr);
  if (h && h->name == r->name) return std::nullopt;
  return r;
}

void Repair::plan_batch(std::vector<Entry>& entries) {
  const auto records = rescue_by_old_records(entries);
  if (req_.profile_sysreptor) check::check_sysreptor_profile(src_, entries, rep_, true);
  for (std::size_t i = 0; i < entries.size(); ++i) {
    Entry& e = entries[i];
    auto d = planner_.decide(e, records[i]);
    if (d.kind == Planner::Kind::keep) {
      if (req_.in_place) known_.add(e.lfh_offset, *e.decoded);
      writer_.add(e, std::move(d.record));
    }
    if (e.status != report::EntryStatus::ok) not_kept_.push_back(scan::to_row(e));
    if (d.kind == Planner::Kind::partial) partials_.push_back(std::move(e));
  }
}

io::OutputSink& Repair::open_output() {
  sink_ = open_sink(req_, bound_);
  if (req_.encrypt_key) enc_ = std::make_unique<EncryptingSink>(*sink_, *req_.encrypt_key, req_.encrypt_key_id);
  return output();
}

// Prove the result before calling it a success: the same checks as `verify`, but the data is not
// decoded a second time. In place, the entries' bytes are the ones just scanned; in copy mode
// they are the walk's bytes copied, and the copies are compared with the input. Their decode
// results stand, and the check covers the new directory, the local headers it points to, the
// descriptors, end records and layout.
void Repair::prove_and_commit() {
  if (writer_.empty()) {
    res_.why_not = "no entry survived whole";
    return;
  }
  {
    report::Progress phase(req_.progress, report::Progress::kUnsized, "writing");
    writer_.finish();
  }
  for (auto& f : writer_.findings) rep_.add(std::move(f));
  const std::string out_name = req_.in_place ? name_ : io::classify_output(req_.output).shown();
  // The plan's tables are gone; the proof that reads the output back gets their pages.
  ::malloc_trim(0);
  if (req_.before_proof) req_.before_proof(output().readback_path());
  Proof proof;
  {
    report::Progress phase(req_.progress, report::Progress::kUnsized, "proving");
    const CopiesToCheck copied{src_, writer_.copies()};
    proof = prove(output().readback_path(), out_name, req_.encrypt_key, req_.in_place ? &known_ : &writer_.known(),
                  req_.threads, req_.password, req_.in_place ? nullptr : &copied);
  }
  if (proof.verdict != report::Verdict::ok || proof.entries != writer_.records()) {
    res_.why_not = "the rebuilt archive did not pass verification; nothing was kept";
    if (!proof.copy_failure.empty())
      res_.why_not = fmt::format("the rebuilt archive did not pass verification ({}); nothing was kept",
                                 proof.copy_failure);
    // Name what failed it: in place, a dropped first entry (docs/readers.md, rule 79) is the
    // usual cause, and copy mode is the way out.
    const auto failed = std::find_if(proof.findings.begin(), proof.findings.end(), [](const report::Finding& f) {
      return f.severity == report::Severity::error;
    });
    if (failed != proof.findings.end())
      res_.why_not = fmt::format("the rebuilt archive did not pass verification ({}{}: {}){}; nothing was kept",
                                 failed->code,
                                 failed->offset ? fmt::format(" at offset {}", *failed->offset) : std::string(),
                                 failed->message,
                                 req_.in_place ? "; repair -o OUT writes a copy without the damaged bytes" : "");
    output().rollback();
  } else {
    output().commit();
    res_.written = true;
  }
  rep_.extra["output"] = {{"path", out_name},
                          {"mode", output().mode()},
                          {"written", res_.written},
                          {"verdict", report::to_string(proof.verdict)},
                          {"findings", findings_json(proof.findings)}};
  rep_.stats["bytes_salvaged"] = writer_.bytes_salvaged();
}

void Repair::report(std::chrono::steady_clock::time_point t0) {
  rep_.lazy_rows = repaired_rows(writer_.directory(), writer_.records(), std::move(not_kept_));
  nlohmann::json lost_json = nlohmann::json::array();
  for (auto& n : planner_.lost) lost_json.push_back(report::printable_name(n));
  rep_.extra["repair"] = {{"entries_recovered", res_.recovered_entries},
                          {"entries_lost", res_.lost_entries},
                          {"lost", lost_json},
                          {"looks_finished", looks_finished_},
                          {"scan_stop", scan_stop_}};
  if (eocd_missing_) rep_.add(std::move(*eocd_missing_));
  rep_.stats["entries_recovered"] = res_.recovered_entries;
  rep_.stats["entries_lost"] = res_.lost_entries;
  rep_.stats["seconds"] = seconds_since(t0);
  rep_.verdict = !res_.written ? report::Verdict::unreadable
                 : res_.lost_entries ? report::Verdict::damaged
                                     : report::Verdict::ok;
}

}  // namespace

Proof prove(const std::string& path, const std::string& display, const std::optional<crypt::Key>& key,
            const codec::KnownResults* known, unsigned threads, const std::string* password,
            const CopiesToCheck* copied) {
  io::FileSource file(path);
  std::unique_ptr<crypt::DecryptingSource> plain;
  if (key) {
    // The encrypted output is proven the way a reader will meet it: tag first, then the ZIP.
    auto h = crypt::read_header(file, path);
    if (!crypt::tag_matches(file, h, *key))
      throw io::Failure(io::Fail::cannot_write, display + ": the encrypted output does not authenticate; nothing was kept");
    plain = std::make_unique<crypt::DecryptingSource>(file, h, *key, true);
  }
  io::ByteSource& src = plain ? static_cast<io::ByteSource&>(*plain) : file;
  // Only the verdict, the findings and the count are wanted: the entries are judged in batches
  // and not kept (a million entries).
  check::VerifyOptions opt{threads, false, known, false};
  opt.keep_entries = false;
  opt.password = password;
  auto v = check::verify_archive(src, display, opt);
  Proof proof{v.report.verdict, std::move(v.report.findings), v.report.stats.value("entries", std::size_t(0)), {}};
  if (copied && proof.verdict == report::Verdict::ok) {
    if (auto differs = check_copies(copied->input, src, copied->copies)) {
      proof.verdict = report::Verdict::damaged;
      proof.copy_failure = std::move(*differs);
    }
  }
  return proof;
}

RepairResult repair_archive(const RepairRequest& req) {
  auto t0 = std::chrono::steady_clock::now();
  RepairResult res;
  const std::string& name = req.display.empty() ? req.input : req.display;
  res.report.command = "repair";
  res.report.archive_path = name;
  std::shared_ptr<io::FileSource> own;
  if (!req.source) own = std::make_shared<io::FileSource>(req.input);
  io::ByteSource& src = req.source ? *req.source : *own;
  refuse_unrepairable(req, name, src);
  res.report.archive_size = src.size();
  // The end records are located once: the in-place check, the old directory, the report.
  const auto end = scan::locate_end_records(src);
  if (req.in_place && end && left_as_whole(req, name, src, own, res, t0)) return res;
  Repair repair(req, name, src, end, res);
  repair.walk();
  repair.read_old_directory();
  repair.plan_and_write();
  repair.prove_and_commit();
  repair.report(t0);
  return res;
}

}  // namespace zm::repair
