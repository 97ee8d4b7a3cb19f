#include "repair/repair.h"

#include <fmt/format.h>
#include <malloc.h>

#include <algorithm>
#include <chrono>

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

// What the old directory says about the entries the walk finds: where each record is, by the
// local header offset it names (16 bytes a record; a record is read again when asked for).
// `whole()`: its end records and every record parsed without an error.
class DirectoryOnDisk final : public OldDirectory {
 public:
  explicit DirectoryOnDisk(io::ByteSource& src) : src_(src), cache_(src) {
    auto end = scan::locate_end_records(src);
    if (!end) return;
    whole_ = index(*end, end->shift);
    for (const auto& f : check::judge_end_records(*end)) whole_ &= f.severity != report::Severity::error;
    // Bytes deleted before the directory leave it ending at the end record but starting before
    // the declared offset (eocd_inconsistent; unzip reads it there). Read there, it is a witness
    // for the entries in front of the deletion, never a whole directory.
    const std::uint64_t dir_end = end->zip64 ? end->zip64_offset : end->eocd_offset;
    if (!readable_ && end->cd_size <= dir_end && dir_end - end->cd_size < end->cd_start) {
      scan::EndRecords moved = *end;
      moved.cd_start = dir_end - end->cd_size;
      moved.shift = 0;
      index(moved, 0);
      whole_ = false;
    }
    std::sort(records_.begin(), records_.end());
  }
  bool whole() const { return whole_; }
  std::size_t size() const { return records_.size(); }
  std::optional<Entry> at(std::uint64_t lfh_offset) override {
    auto it = std::lower_bound(records_.begin(), records_.end(), Record{lfh_offset, 0});
    if (it == records_.end() || it->lfh_offset != lfh_offset) return std::nullopt;
    return scan::reread_directory_record(cache_, it->at, shift_);
  }
  bool sound(std::uint64_t lfh_offset) const override {
    auto it = std::lower_bound(records_.begin(), records_.end(), Record{lfh_offset, 0});
    return it != records_.end() && it->lfh_offset == lfh_offset && it->at != unsound_;
  }
  void each(const std::function<void(const Entry&)>& f) override {
    for (std::size_t i = 0; i < records_.size(); ++i)
      // The first record naming an offset is its witness (as at() answers).
      if (i == 0 || records_[i].lfh_offset != records_[i - 1].lfh_offset)
        f(scan::reread_directory_record(cache_, records_[i].at, shift_));
  }

 private:
  struct Record {
    std::uint64_t lfh_offset, at;
    auto operator<=>(const Record&) const = default;
  };
  // True when the records parsed without an error.
  bool index(const scan::EndRecords& end, std::uint64_t shift) {
    scan::DirectoryReader rd(src_, end);
    std::vector<Entry> batch;
    std::vector<std::uint64_t> at;
    while (rd.next(4096, batch, &at))
      for (std::size_t i = 0; i < batch.size(); ++i) records_.push_back({batch[i].lfh_offset, at[i]});
    readable_ = rd.readable();
    shift_ = shift;
    if (!readable_) records_.clear();
    bool clean = readable_;
    for (const auto& f : rd.findings) {
      clean &= f.severity != report::Severity::error;
      // The reader broke off after the record it read last: that record's name length may be
      // what broke it.
      if (f.code == report::Code::cd_unreadable && !records_.empty()) unsound_ = records_.back().at;
    }
    return clean;
  }
  io::ByteSource& src_;
  io::CachedSource cache_;
  std::vector<Record> records_;
  std::uint64_t shift_ = 0, unsound_ = ~std::uint64_t(0);
  bool whole_ = false, readable_ = false;
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
  // Without --force an existing file is not replaced; the command line was checked for that, and
  // the rename refuses a file that appeared since.
  return std::make_unique<io::AtomicOutputFile>(target.path, req.replace_output);
}

}  // namespace

Proof prove(const std::string& path, const std::string& display, const std::optional<crypt::Key>& key,
            const codec::KnownResults* known, unsigned threads, const std::string* password) {
  io::FileSource file(path);
  std::unique_ptr<crypt::DecryptingSource> plain;
  if (key) {
    // The encrypted output is proven the way a reader will meet it: tag first, then the ZIP.
    auto h = crypt::read_header(file, path);
    if (!crypt::tag_matches(file, h, *key))
      throw io::IoError(display + ": the encrypted output does not authenticate; nothing was kept");
    plain = std::make_unique<crypt::DecryptingSource>(file, h, *key, true);
  }
  io::ByteSource& src = plain ? static_cast<io::ByteSource&>(*plain) : file;
  // Only the verdict, the findings and the count are wanted: the entries are judged in batches
  // and not kept (a million entries).
  check::VerifyOptions opt{threads, false, known, false};
  opt.keep_entries = false;
  opt.password = password;
  auto v = check::verify_archive(src, display, opt);
  return {v.report.verdict, std::move(v.report.findings), v.report.stats.value("entries", std::size_t(0))};
}

RepairResult repair_archive(const RepairRequest& req) {
  auto t0 = std::chrono::steady_clock::now();
  RepairResult res;
  report::Report& rep = res.report;
  const std::string& name = req.display.empty() ? req.input : req.display;
  rep.command = "repair";
  rep.archive_path = name;

  std::shared_ptr<io::FileSource> own;
  if (!req.source) own = std::make_shared<io::FileSource>(req.input);
  io::ByteSource& src = req.source ? *req.source : *own;
  if (req.source && req.in_place)
    throw check::CannotProceed(name + ": an encrypted backup cannot be repaired in place; use -o OUT "
                               "(with --encrypt to keep it encrypted)");
  rep.archive_size = src.size();
  if (src.size() == 0) throw check::CannotProceed(name + ": the file is empty (0 bytes); nothing to repair");
  if (req.in_place && req.salvage_partial)
    throw check::CannotProceed("--salvage-partial writes new data and works in copy mode (-o) only");

  if (req.in_place && scan::locate_end_records(src)) {
    // Judged from its directory first: an archive verify calls whole stays byte for byte as it
    // is, also one that an earlier in-place repair fixed, whose new directory follows the
    // unreferenced bytes of the cut entry (a walk from the front reads those bytes as the cut
    // entry's data running on into the directory, and would append yet another directory).
    check::VerifyOptions vo{req.threads, false};
    vo.keep_entries = false;
    vo.password = req.password;
    auto v = check::verify_archive(src, name, vo);
    if (v.report.verdict == report::Verdict::ok) {
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
      return res;
    }
  }

  // The walk, judged as it settles (as scan judges it), every entry kept in a temporary file
  // rather than in memory: a million entries are planned and written a batch at a time.
  DirectoryOnDisk directory(src);
  Planner planner(directory, {req.in_place, req.salvage_partial, src.size(), directory.whole(), &src});
  scan::EntrySpill walked(name);
  // At most what the output can take (a spool must have room for it): the data of the entries,
  // each a stretch of the input, what a salvage decodes of a damaged one, and every entry's two
  // headers with the longest name and fields either witness can give.
  std::uint64_t bound = zip::kZip64EndLen + zip::kZip64LocatorLen + zip::kEndLen + (req.in_place ? 0 : src.size());
  auto keep_walked = [&](std::vector<Entry>& done) {
    for (const auto& e : done) {
      planner.census(e);
      walked.append(e);
      bound += 2 * (zip::kCentralHeaderLen + e.name.size() + e.lfh_extra().size() + 36 + 28);
      if (req.salvage_partial && e.status != report::EntryStatus::ok) bound += e.uncompressed_size;
    }
  };
  auto tally = std::make_shared<check::WalkTally>(src);
  tally->keep_rows = false;
  codec::Workspace ws;
  report::Progress progress(req.progress, src.size());
  scan::ScanOptions so{&progress.counter(), 0, req.threads ? req.threads : check::default_threads()};
  so.settle = [&](std::vector<Entry>& done) {
    tally->add(done);
    keep_walked(done);
  };
  so.settle_every = std::max<std::size_t>(req.settle_every, 1);
  so.password = req.password;
  auto scan = scan::scan_local(src, ws, so);
  progress.finish();
  check::judge_walk(scan, src.size(), std::move(tally->judged));
  if (!scan.found_any_header)
    throw check::CannotProceed(name + ": not a ZIP archive (no local file header found); nothing to repair");
  for (auto& f : scan.findings) rep.add(f);
  keep_walked(scan.entries);
  const bool end_found = scan::locate_end_records(src).has_value();
  std::optional<report::Finding> eocd_missing;
  if (!end_found) eocd_missing = scan::eocd_missing_finding(src.size(), scan.entries, tally->count(), tally->last_whole());
  tally.reset();  // its rows are not this report's: those are the new directory's
  // The old directory's records can be longer than the walk's headers (names, comments).
  if (auto end = scan::locate_end_records(src)) bound += 2 * end->cd_size;

  std::unique_ptr<io::OutputSink> sink;
  std::unique_ptr<EncryptingSink> enc;
  auto open = [&]() -> io::OutputSink& {
    sink = open_sink(req, bound);
    if (req.encrypt_key) enc = std::make_unique<EncryptingSink>(*sink, *req.encrypt_key, req.encrypt_key_id);
    return enc ? static_cast<io::OutputSink&>(*enc) : *sink;
  };
  Writer writer(src, ws, open, req.in_place, name);
  std::vector<report::EntryRow> not_kept;
  std::vector<Entry> partials;
  // An in-place repair's proof takes the decode results of the bytes it just scanned.
  codec::KnownResults known;
  std::optional<report::Progress> phase;
  phase.emplace(req.progress, report::Progress::kUnsized, "writing");
  // The SysReptor profile looks at every entry together, after rescue and before the plan: it
  // holds them all (man MEMORY).
  const std::size_t batch = req.profile_sysreptor ? walked.count() + 1 : 4096;
  planner.reserve(walked.count());
  walked.each_batch(batch, [&](std::vector<Entry>& entries) {
    std::vector<std::optional<Entry>> records(entries.size());
    for (std::size_t i = 0; i < entries.size(); ++i) {
      Entry& e = entries[i];
      records[i] = directory.at(e.lfh_offset);
      if (records[i]) rescue_entry(e, *records[i], src, ws, req.in_place);
      if (!req.in_place) learn_from_stream(e, src, ws);
    }
    if (req.profile_sysreptor) check::check_sysreptor_profile(src, entries, rep, true);
    for (std::size_t i = 0; i < entries.size(); ++i) {
      Entry& e = entries[i];
      auto d = planner.decide(e, records[i]);
      if (d.kind == Planner::Kind::keep) {
        if (req.in_place) known.add(e.lfh_offset, *e.decoded);
        writer.add(e, std::move(d.record));
      }
      if (e.status != report::EntryStatus::ok) not_kept.push_back(scan::to_row(e));
      if (d.kind == Planner::Kind::partial) partials.push_back(std::move(e));
    }
  });
  planner.finish();
  for (auto& f : planner.findings) rep.add(std::move(f));
  res.lost_entries = planner.lost.size();
  res.recovered_entries = planner.kept;
  for (const auto& e : partials) writer.add_partial(e);
  phase.reset();

  if (writer.empty()) {
    res.why_not = "no entry survived whole";
  } else {
    io::OutputSink& out = enc ? static_cast<io::OutputSink&>(*enc) : *sink;
    phase.emplace(req.progress, report::Progress::kUnsized, "writing");
    writer.finish();
    phase.reset();
    for (auto& f : writer.findings) rep.add(std::move(f));

    // Prove the result before calling it a success: the same checks as `verify`. In place, the
    // entries' bytes are the ones just scanned: their decode results stand, and the check covers
    // the new directory, end records and layout. A copy is decoded again.
    std::string out_name = req.in_place ? name : io::classify_output(req.output).shown();
    // The plan's tables are gone; the proof that reads the output back gets their pages.
    ::malloc_trim(0);
    phase.emplace(req.progress, report::Progress::kUnsized, "proving");
    Proof proof = prove(out.readback_path(), out_name, req.encrypt_key, req.in_place ? &known : nullptr, req.threads,
                        req.password);
    phase.reset();
    nlohmann::json out_findings = nlohmann::json::array();
    for (const auto& f : proof.findings)
      out_findings.push_back({{"code", std::string(report::to_string(f.code))},
                              {"severity", report::to_string(f.severity)},
                              {"entry", f.entry ? nlohmann::json(report::printable_name(*f.entry)) : nlohmann::json()},
                              {"offset", f.offset ? nlohmann::json(*f.offset) : nlohmann::json()},
                              {"message", f.message}});
    if (proof.verdict != report::Verdict::ok || proof.entries != writer.records()) {
      res.why_not = "the rebuilt archive did not pass verification; nothing was kept";
      // Name what failed it: in place, a dropped first entry (docs/readers.md, rule 79) is the
      // usual cause, and copy mode is the way out.
      const auto failed = std::find_if(proof.findings.begin(), proof.findings.end(), [](const report::Finding& f) {
        return f.severity == report::Severity::error;
      });
      if (failed != proof.findings.end())
        res.why_not = fmt::format("the rebuilt archive did not pass verification ({} at offset {}: {}){}; nothing "
                                  "was kept",
                                  failed->code, failed->offset.value_or(0), failed->message,
                                  req.in_place ? "; repair -o OUT writes a copy without the damaged bytes" : "");
      out.rollback();
    } else {
      out.commit();
      res.written = true;
    }
    rep.extra["output"] = {{"path", out_name},
                           {"mode", out.mode()},
                           {"written", res.written},
                           {"verdict", report::to_string(proof.verdict)},
                           {"findings", out_findings}};
    rep.stats["bytes_salvaged"] = writer.bytes_salvaged();
  }
  rep.lazy_rows = repaired_rows(writer.directory(), writer.records(), std::move(not_kept));
  nlohmann::json lost_json = nlohmann::json::array();
  for (auto& n : planner.lost) lost_json.push_back(report::printable_name(n));
  rep.extra["repair"] = {{"entries_recovered", res.recovered_entries},
                         {"entries_lost", res.lost_entries},
                         {"lost", lost_json},
                         {"looks_finished", scan.directory_at.has_value() && end_found},
                         {"scan_stop", report::printable_name(scan.stop)}};
  if (eocd_missing) rep.add(std::move(*eocd_missing));
  rep.stats["entries_recovered"] = res.recovered_entries;
  rep.stats["entries_lost"] = res.lost_entries;
  rep.stats["seconds"] = seconds_since(t0);
  rep.verdict = !res.written ? report::Verdict::unreadable
                : res.lost_entries ? report::Verdict::damaged
                                   : report::Verdict::ok;
  return res;
}

}  // namespace zm::repair
