#include "repair/repair.h"

#include <fmt/format.h>

#include <chrono>
#include <map>

#include "check/judge.h"
#include "check/sysreptor_profile.h"
#include "check/verifier.h"
#include "io/output.h"
#include "repair/write.h"
#include "report/progress.h"
#include "scan/central_directory.h"
#include "scan/end_records.h"

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

// What the directory says about entries the scan found, when a readable directory exists.
// `whole`: its end records and every record parsed without an error.
std::map<std::uint64_t, Entry> directory_evidence(io::ByteSource& src, bool* whole) {
  std::map<std::uint64_t, Entry> by_offset;
  *whole = false;
  auto end = scan::locate_end_records(src);
  if (!end) return by_offset;
  auto cd = scan::read_central_directory(src, *end);
  *whole = cd.readable;
  for (const auto* list : {&end->findings, &cd.findings})
    for (const auto& f : *list) *whole &= f.severity != report::Severity::error;
  // Bytes deleted before the directory leave it ending at the end record but starting before the
  // declared offset (eocd_inconsistent; unzip reads it there). Read there, it is a witness for
  // the entries in front of the deletion, never a whole directory.
  const std::uint64_t dir_end = end->zip64 ? end->zip64_offset : end->eocd_offset;
  if (!cd.readable && end->cd_size <= dir_end && dir_end - end->cd_size < end->cd_start) {
    scan::EndRecords moved = *end;
    moved.cd_start = dir_end - end->cd_size;
    moved.shift = 0;
    auto again = scan::read_central_directory(src, moved);
    if (again.readable) cd = std::move(again);
  }
  for (auto& e : cd.entries) by_offset.emplace(e.lfh_offset, std::move(e));
  return by_offset;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Where the repaired archive goes: appended to the input, a stream or device written as it is,
// or a new regular file.
std::unique_ptr<io::OutputSink> open_sink(const RepairRequest& req, const RepairPlan& p) {
  if (req.in_place) return std::make_unique<io::InPlaceAppender>(req.input);
  auto target = io::classify_output(req.output);
  if (target.kind == io::OutputTarget::Kind::stream) return std::make_unique<io::StreamOutput>(target, p.size_bound());
  // Without --force an existing file is not replaced; the command line was checked for that, and
  // the rename refuses a file that appeared since.
  return std::make_unique<io::AtomicOutputFile>(target.path, req.replace_output);
}

}  // namespace

Proof prove(const std::string& path, const std::string& display, const std::optional<crypt::Key>& key,
            const std::map<std::uint64_t, codec::DecodeResult>* known, unsigned threads) {
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

  std::unique_ptr<io::FileSource> own;
  if (!req.source) own = std::make_unique<io::FileSource>(req.input);
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
    auto v = check::verify_archive(src, name, {req.threads, false});
    if (v.report.verdict == report::Verdict::ok) {
      res.written = true;
      res.recovered_entries = v.entries.size();
      rep.entries = std::move(v.report.entries);
      rep.findings = std::move(v.report.findings);
      rep.extra["repair"] = {{"entries_recovered", v.entries.size()}, {"entries_lost", 0},
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

  codec::Workspace ws;
  report::Progress progress(req.progress, src.size());
  auto scan = scan::scan_local(src, ws, {&progress.counter(), 0, req.threads ? req.threads : check::default_threads()});
  progress.finish();
  check::judge_walk(scan, src.size());
  if (!scan.found_any_header)
    throw check::CannotProceed(name + ": not a ZIP archive (no local file header found); nothing to repair");
  for (auto& f : scan.findings) rep.add(f);
  const bool end_found = scan::locate_end_records(src).has_value();
  bool directory_whole = false;
  auto directory = directory_evidence(src, &directory_whole);
  rescue_from_directory(scan.entries, directory, src, req.in_place);
  if (req.profile_sysreptor) check::check_sysreptor_profile(src, scan.entries, rep, true);

  RepairPlan p = plan(scan.entries, directory, {req.in_place, req.salvage_partial, src.size(), directory_whole});
  for (auto& f : p.findings) rep.add(std::move(f));
  res.lost_entries = p.lost.size();
  res.recovered_entries = p.keep.size();

  if (p.empty()) {
    res.why_not = "no entry survived whole";
  } else {
    auto sink = open_sink(req, p);
    std::unique_ptr<EncryptingSink> enc;
    if (req.encrypt_key) enc = std::make_unique<EncryptingSink>(*sink, *req.encrypt_key, req.encrypt_key_id);
    io::OutputSink& out = enc ? static_cast<io::OutputSink&>(*enc) : *sink;
    // A phase line while the output is written and proved, rather than a reading line at 100 %.
    std::optional<report::Progress> phase;
    phase.emplace(req.progress, report::Progress::kUnsized, "writing");
    Written w = write(p, src, ws, out, name);
    phase.reset();
    for (auto& f : w.findings) rep.add(std::move(f));

    // Prove the result before calling it a success: the same checks as `verify`. In place, the
    // entries' bytes are the ones just scanned: their decode results stand, and the check covers
    // the new directory, end records and layout. A copy is decoded again.
    std::map<std::uint64_t, codec::DecodeResult> known;
    if (req.in_place)
      for (const auto& k : p.keep) known.emplace(k.entry->lfh_offset, *k.entry->decoded);
    std::string out_name = req.in_place ? name : io::classify_output(req.output).shown();
    phase.emplace(req.progress, report::Progress::kUnsized, "proving");
    Proof proof = prove(out.readback_path(), out_name, req.encrypt_key, req.in_place ? &known : nullptr, req.threads);
    phase.reset();
    nlohmann::json out_findings = nlohmann::json::array();
    for (const auto& f : proof.findings)
      out_findings.push_back({{"code", std::string(report::to_string(f.code))},
                              {"severity", report::to_string(f.severity)},
                              {"entry", f.entry ? nlohmann::json(report::printable_name(*f.entry)) : nlohmann::json()},
                              {"offset", f.offset ? nlohmann::json(*f.offset) : nlohmann::json()},
                              {"message", f.message}});
    if (proof.verdict != report::Verdict::ok || proof.entries != w.records.size()) {
      res.why_not = "the rebuilt archive did not pass verification; nothing was kept";
      out.rollback();
    } else {
      out.commit();
      res.written = true;
    }
    rep.entries.reserve(w.records.size());
    for (const auto& r : w.records) {
      report::EntryRow row;
      row.name = r.name;
      row.display_name = report::other_display_name(r.name, r.flags);
      row.method = zip::method_name(r.method);
      row.compressed_size = r.compressed_size;
      row.uncompressed_size = r.uncompressed_size;
      row.crc32 = r.crc32;
      row.offset = r.local_offset;
      row.status = report::EntryStatus::ok;
      rep.entries.push_back(row);
    }
    rep.extra["output"] = {{"path", out_name},
                           {"mode", out.mode()},
                           {"written", res.written},
                           {"verdict", report::to_string(proof.verdict)},
                           {"findings", out_findings}};
    rep.stats["bytes_salvaged"] = w.bytes_salvaged;
  }
  for (const auto& e : scan.entries)
    if (e.status != report::EntryStatus::ok) rep.entries.push_back(scan::to_row(e));
  nlohmann::json lost_json = nlohmann::json::array();
  for (auto& n : p.lost) lost_json.push_back(report::printable_name(n));
  rep.extra["repair"] = {{"entries_recovered", res.recovered_entries},
                         {"entries_lost", res.lost_entries},
                         {"lost", lost_json},
                         {"looks_finished", scan.directory_at.has_value() && end_found},
                         {"scan_stop", report::printable_name(scan.stop)}};
  if (!end_found) rep.add(scan::eocd_missing_finding(src.size(), scan.entries));
  rep.stats["entries_recovered"] = res.recovered_entries;
  rep.stats["entries_lost"] = res.lost_entries;
  rep.stats["seconds"] = seconds_since(t0);
  rep.verdict = !res.written ? report::Verdict::unreadable
                : res.lost_entries ? report::Verdict::damaged
                                   : report::Verdict::ok;
  return res;
}

}  // namespace zm::repair
