#include "repair/repair.h"

#include <fmt/format.h>

#include <chrono>
#include <map>
#include <set>

#include "check/sysreptor_profile.h"
#include "check/verifier.h"
#include "io/output.h"
#include "report/progress.h"
#include "scan/central_directory.h"
#include "scan/end_records.h"

namespace zm::repair {
using report::make_finding;
using scan::Entry;

namespace {
constexpr std::uint64_t kMax32 = zip::kMax32;

bool needs64(std::uint64_t v) { return v >= kMax32; }

std::string zip64_field(const std::vector<std::uint64_t>& values) {
  std::string f;
  zip::put16(f, zip::kZip64ExtraId);
  zip::put16(f, std::uint16_t(values.size() * 8));
  for (auto v : values) zip::put64(f, v);
  return f;
}
}  // namespace

std::string local_header_bytes(const EntryRecord& e) {
  // 4.5.3: a local ZIP64 field, when present, holds both sizes.
  bool z = needs64(e.compressed_size) || needs64(e.uncompressed_size);
  std::string extra = e.extra;
  if (z) extra += zip64_field({e.uncompressed_size, e.compressed_size});
  std::string o;
  zip::put32(o, zip::kLocalSig);
  zip::put16(o, z ? std::max<std::uint16_t>(e.version_needed, 45) : e.version_needed);
  zip::put16(o, e.flags & ~zip::kFlagDescriptor);
  zip::put16(o, e.method);
  zip::put16(o, e.mod_time);
  zip::put16(o, e.mod_date);
  zip::put32(o, e.crc32);
  zip::put32(o, z ? kMax32 : std::uint32_t(e.compressed_size));
  zip::put32(o, z ? kMax32 : std::uint32_t(e.uncompressed_size));
  zip::put16(o, std::uint16_t(e.name.size()));
  zip::put16(o, std::uint16_t(extra.size()));
  o += e.name;
  o += extra;
  return o;
}

std::string central_record_bytes(const EntryRecord& e) {
  std::vector<std::uint64_t> z;
  if (needs64(e.uncompressed_size)) z.push_back(e.uncompressed_size);
  if (needs64(e.compressed_size)) z.push_back(e.compressed_size);
  if (needs64(e.local_offset)) z.push_back(e.local_offset);
  std::string extra = e.extra;
  if (!z.empty()) extra += zip64_field(z);
  std::string o;
  zip::put32(o, zip::kCentralSig);
  zip::put16(o, e.version_made_by);
  zip::put16(o, z.empty() ? e.version_needed : std::max<std::uint16_t>(e.version_needed, 45));
  zip::put16(o, e.flags);
  zip::put16(o, e.method);
  zip::put16(o, e.mod_time);
  zip::put16(o, e.mod_date);
  zip::put32(o, e.crc32);
  zip::put32(o, needs64(e.compressed_size) ? kMax32 : std::uint32_t(e.compressed_size));
  zip::put32(o, needs64(e.uncompressed_size) ? kMax32 : std::uint32_t(e.uncompressed_size));
  zip::put16(o, std::uint16_t(e.name.size()));
  zip::put16(o, std::uint16_t(extra.size()));
  zip::put16(o, std::uint16_t(e.comment.size()));
  zip::put16(o, 0);  // disk
  zip::put16(o, e.internal_attr);
  zip::put32(o, e.external_attr);
  zip::put32(o, needs64(e.local_offset) ? kMax32 : std::uint32_t(e.local_offset));
  o += e.name;
  o += extra;
  o += e.comment;
  return o;
}

std::string end_records_bytes(std::uint64_t entries, std::uint64_t cd_offset, std::uint64_t cd_size) {
  std::string o;
  bool z = entries >= zip::kMax16 || needs64(cd_offset) || needs64(cd_size);
  if (z) {
    std::uint64_t zip64_end_at = cd_offset + cd_size;
    zip::put32(o, zip::kZip64EndSig);
    zip::put64(o, zip::kZip64EndLen - 12);  // 4.3.14.1: size excludes the leading 12 bytes
    zip::put16(o, 45);
    zip::put16(o, 45);
    zip::put32(o, 0);
    zip::put32(o, 0);
    zip::put64(o, entries);
    zip::put64(o, entries);
    zip::put64(o, cd_size);
    zip::put64(o, cd_offset);
    zip::put32(o, zip::kZip64LocatorSig);
    zip::put32(o, 0);
    zip::put64(o, zip64_end_at);
    zip::put32(o, 1);  // total disks: 1, not OneDrive's 0
  }
  zip::put32(o, zip::kEndSig);
  zip::put16(o, 0);
  zip::put16(o, 0);
  std::uint16_t n16 = entries >= zip::kMax16 ? zip::kMax16 : std::uint16_t(entries);
  zip::put16(o, n16);
  zip::put16(o, n16);
  zip::put32(o, needs64(cd_size) ? kMax32 : std::uint32_t(cd_size));
  zip::put32(o, needs64(cd_offset) ? kMax32 : std::uint32_t(cd_offset));
  zip::put16(o, 0);
  return o;
}

report::Report scan_report(const scan::ScanResult& s, const std::string& path, std::uint64_t size) {
  report::Report r;
  r.command = "scan";
  r.archive_path = path;
  r.archive_size = size;
  r.findings = s.findings;
  std::uint64_t ok = 0;
  r.entries.reserve(s.entries.size());
  for (const auto& e : s.entries) {
    r.entries.push_back(scan::to_row(e));
    ok += e.status == report::EntryStatus::ok;
  }
  if (!s.directory_at) r.add(scan::eocd_missing_finding(size, s.entries));
  nlohmann::json damaged = nlohmann::json::array();
  for (const auto& d : s.damaged) damaged.push_back({{"from", d.from}, {"to", d.to}, {"why", d.why}});
  nlohmann::json scan = {{"archive_start", s.archive_start},
                         {"end_of_entries", s.end_of_entries},
                         {"directory_at", s.directory_at ? nlohmann::json(*s.directory_at) : nlohmann::json(nullptr)},
                         {"stop", report::printable_name(s.stop)},
                         {"damaged", damaged}};
  if (s.cut_entry) {
    scan["cut_entry"] = {{"index", *s.cut_entry + 1},
                         {"name", report::printable_name(s.entries[*s.cut_entry].name)},
                         {"offset", s.entries[*s.cut_entry].lfh_offset},
                         {"intact_bytes", s.cut_intact_bytes}};
  }
  r.extra["scan"] = scan;
  r.stats = {{"entries", s.entries.size()}, {"entries_ok", ok}};
  r.decide_verdict();
  return r;
}

namespace {

// What the directory says about entries the scan found, when a readable directory exists.
std::map<std::uint64_t, Entry> directory_evidence(io::ByteSource& src) {
  std::map<std::uint64_t, Entry> by_offset;
  auto end = scan::locate_end_records(src);
  if (!end) return by_offset;
  auto cd = scan::read_central_directory(src, *end);
  for (auto& e : cd.entries) by_offset.emplace(e.lfh_offset, std::move(e));
  return by_offset;
}

EntryRecord record_for(const Entry& e, const Entry* cd) {
  EntryRecord r;
  r.name = e.name;
  r.flags = e.flags;
  r.method = e.method;
  r.crc32 = e.decoded ? e.decoded->crc : e.crc32;
  r.compressed_size = e.compressed_size;
  r.uncompressed_size = e.uncompressed_size;
  r.version_needed = e.lfh_read ? e.version_needed : 20;
  if (r.version_needed > 63) r.version_needed = 45;
  r.extra = zip::strip_extra({reinterpret_cast<const std::uint8_t*>(e.lfh_extra().data()), e.lfh_extra().size()},
                             zip::kZip64ExtraId);
  r.mod_time = e.mod_time;
  r.mod_date = e.mod_date;
  if (cd) {
    // The directory is the only place with the host, permissions and comment.
    r.version_made_by = cd->version_made_by;
    r.internal_attr = cd->internal_attr;
    r.external_attr = cd->external_attr;
    r.comment = cd->comment();
    r.extra = zip::strip_extra({reinterpret_cast<const std::uint8_t*>(cd->cd_extra().data()), cd->cd_extra().size()},
                               zip::kZip64ExtraId);
  } else {
    // No directory: a Unix host with ordinary modes. An MS-DOS host would make unzip convert the
    // central name from CP437 but not the local one, and report UTF-8 names as mismatching.
    r.version_made_by = (3 << 8) | 20;
    r.external_attr = e.is_directory() ? (040755u << 16) | 0x10 : (0100644u << 16);
  }
  return r;
}

}  // namespace

RepairResult repair_archive(const RepairRequest& req) {
  auto t0 = std::chrono::steady_clock::now();
  RepairResult res;
  report::Report& rep = res.report;
  rep.command = "repair";
  rep.archive_path = req.input;

  std::unique_ptr<io::FileSource> own;
  if (!req.source) own = std::make_unique<io::FileSource>(req.input);
  io::ByteSource& src = req.source ? *req.source : *own;
  if (req.source && req.in_place)
    throw check::CannotProceed(req.input + ": an encrypted backup cannot be repaired in place; use -o OUT "
                               "(with --encrypt to keep it encrypted)");
  rep.archive_size = src.size();
  if (src.size() == 0) throw check::CannotProceed(req.input + ": the file is empty (0 bytes); nothing to repair");
  if (req.in_place && req.salvage_partial)
    throw check::CannotProceed("--salvage-partial writes new data and works in copy mode (-o) only");

  codec::Workspace ws;
  report::Progress progress(req.progress, src.size());
  auto scan = scan::scan_local(src, ws, {&progress.counter(), 0, req.threads ? req.threads : check::default_threads()});
  progress.finish();
  if (!scan.found_any_header)
    throw check::CannotProceed(req.input + ": not a ZIP archive (no local file header found); nothing to repair");
  for (auto& f : scan.findings) rep.add(f);
  if (req.in_place && scan.directory_at) {
    // A whole archive stays as it is: appending a second directory would only leave the first
    // one behind as a gap. The scan's decode results stand in for decoding again.
    std::map<std::uint64_t, codec::DecodeResult> known;
    for (const auto& e : scan.entries)
      if (e.decoded) known.emplace(e.lfh_offset, *e.decoded);
    auto v = check::verify_archive(src, req.input, {req.threads, false, &known});
    if (v.report.verdict == report::Verdict::ok) {
      res.written = true;
      res.recovered_entries = v.entries.size();
      rep.entries = std::move(v.report.entries);
      rep.extra["repair"] = {{"entries_recovered", v.entries.size()}, {"entries_lost", 0},
                             {"lost", nlohmann::json::array()}, {"looks_finished", true},
                             {"scan_stop", report::printable_name(scan.stop)}};
      rep.extra["output"] = {{"path", req.input}, {"mode", "in-place"}, {"written", false},
                             {"verdict", "ok"}, {"findings", nlohmann::json::array()}};
      rep.stats["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      rep.verdict = report::Verdict::ok;
      return res;
    }
  }
  auto directory = directory_evidence(src);
  if (req.profile_sysreptor) check::check_sysreptor_profile(src, scan.entries, rep, true);

  std::vector<const Entry*> kept;
  std::vector<const Entry*> partials;
  std::vector<std::string> lost;
  std::set<std::uint64_t> found_offsets;
  for (const auto& e : scan.entries) {
    found_offsets.insert(e.lfh_offset);
    if (e.status == report::EntryStatus::ok) {
      kept.push_back(&e);
      auto it = directory.find(e.lfh_offset);
      if (it != directory.end() && it->second.name == e.name &&
          (it->second.crc32 != e.decoded->crc || it->second.compressed_size != e.compressed_size ||
           it->second.uncompressed_size != e.uncompressed_size))
        rep.add(make_finding(report::Code::cd_lfh_mismatch, e.name, e.lfh_offset,
                             "the old central directory disagrees with the entry's verified data; the data wins"));
    } else {
      lost.push_back(e.name);
      // Salvage needs a whole local header (the name and where the data starts) and a decoder.
      bool salvageable = req.salvage_partial && e.lfh_read && !e.name.empty() && !e.encrypted() &&
                         codec::method_supported(e.method) && e.data_offset < src.size();
      if (salvageable && (e.method == zip::kStored || (e.decoded && e.decoded->produced > 0))) partials.push_back(&e);
    }
  }
  for (const auto& [off, e] : directory) {
    if (!found_offsets.count(off)) {
      lost.push_back(e.name);
      rep.add(make_finding(report::Code::entry_truncated, e.name, off,
                           "listed in the old central directory, but its local header was not found there"));
    }
  }
  res.lost_entries = lost.size();
  res.recovered_entries = kept.size();

  // Duplicate names would make the output ambiguous for a restore: keep the first.
  {
    std::set<std::string> names;
    std::vector<const Entry*> unique;
    for (auto* e : kept) {
      if (names.insert(e->name).second) {
        unique.push_back(e);
      } else {
        rep.add(make_finding(report::Code::duplicate_name, e->name, e->lfh_offset,
                             "a second entry of this name is left out of the repaired directory"));
        lost.push_back(e->name);
      }
    }
    kept.swap(unique);
    res.lost_entries = lost.size();
    res.recovered_entries = kept.size();
  }

  if (kept.empty() && partials.empty()) {
    res.why_not = "no entry survived whole";
  } else {
    std::uint64_t salvaged = 0;
    std::vector<EntryRecord> records;
    records.reserve(kept.size() + partials.size());
    auto cd_for = [&](const Entry& e) -> const Entry* {
      auto it = directory.find(e.lfh_offset);
      return it != directory.end() && it->second.name == e.name ? &it->second : nullptr;
    };
    std::string verify_path;
    auto finish = [&](auto& writer, std::uint64_t base) {
      std::string cd;
      for (const auto& r : records) cd += central_record_bytes(r);
      std::uint64_t cd_offset = base;
      writer.write(cd);
      writer.write(end_records_bytes(records.size(), cd_offset, cd.size()));
    };
    std::unique_ptr<io::InPlaceAppender> appender;
    std::unique_ptr<io::AtomicOutputFile> out;
    if (req.in_place) {
      appender = std::make_unique<io::InPlaceAppender>(req.input);
      for (auto* e : kept) {
        auto r = record_for(*e, cd_for(*e));
        r.local_offset = e->lfh_offset;
        // The original local header stays, so the directory must carry its flags (bit 3 too).
        r.flags = e->flags;
        records.push_back(std::move(r));
        salvaged += e->uncompressed_size;
      }
      finish(*appender, appender->original_size());
      verify_path = req.input;
    } else {
      out = std::make_unique<io::AtomicOutputFile>(req.output);
      std::unique_ptr<crypt::EncryptingWriter> enc;
      if (req.encrypt_key) enc = std::make_unique<crypt::EncryptingWriter>(*out, *req.encrypt_key, req.encrypt_key_id);
      struct Put {
        io::AtomicOutputFile& out;
        crypt::EncryptingWriter* enc;
        void write(std::string_view s) { enc ? enc->write(s) : out.write(s); }
      } put{*out, enc.get()};
      std::vector<std::uint8_t> buf(1 << 20);
      std::uint64_t pos = 0;
      for (auto* e : kept) {
        auto r = record_for(*e, cd_for(*e));
        r.flags &= ~zip::kFlagDescriptor;
        r.local_offset = pos;
        std::string h = local_header_bytes(r);
        put.write(h);
        pos += h.size();
        for (std::uint64_t done = 0; done < e->compressed_size;) {
          std::size_t n = std::size_t(std::min<std::uint64_t>(buf.size(), e->compressed_size - done));
          if (src.read_at(e->data_offset + done, {buf.data(), n}) != n)
            throw io::IoError(req.input + ": the file changed while it was being repaired");
          put.write({reinterpret_cast<const char*>(buf.data()), n});
          done += n;
        }
        pos += e->compressed_size;
        salvaged += e->uncompressed_size;
        records.push_back(std::move(r));
      }
      for (auto* e : partials) {
        // The intact start of a cut or damaged entry, stored under NAME.partial: decoded once to
        // learn its CRC and length, then again straight into the output (bounded memory).
        std::uint64_t limit = (e->end_offset > e->data_offset ? e->end_offset : src.size()) - e->data_offset;
        if (e->method == zip::kStored && e->status == report::EntryStatus::truncated) limit = src.size() - e->data_offset;
        codec::DecodeRequest dr{e->data_offset, limit, e->method};
        dr.lzma_eos = e->flags & 2;
        dr.expected_uncompressed = e->uncompressed_size;
        auto first = ws.decode(src, dr);
        if (first.produced == 0) continue;
        EntryRecord r;
        r.name = e->name + ".partial";
        r.method = zip::kStored;
        r.mod_time = e->mod_time;
        r.mod_date = e->mod_date;
        r.flags = e->flags & zip::kFlagUtf8;
        r.crc32 = first.crc;
        r.compressed_size = r.uncompressed_size = first.produced;
        r.local_offset = pos;
        std::string h = local_header_bytes(r);
        put.write(h);
        pos += h.size();
        std::uint64_t written = 0;
        dr.sink = [&](std::span<const std::uint8_t> chunk) {
          std::size_t n = std::size_t(std::min<std::uint64_t>(chunk.size(), first.produced - written));
          put.write({reinterpret_cast<const char*>(chunk.data()), n});
          written += n;
        };
        ws.decode(src, dr);
        if (written != first.produced) throw io::IoError(req.input + ": the file changed while it was being repaired");
        pos += written;
        salvaged += written;
        rep.add(make_finding(report::Code::entry_salvaged, r.name, e->lfh_offset,
                             fmt::format("the intact first {} bytes of '{}' are kept as '{}'", written,
                                         report::printable_name(e->name), report::printable_name(r.name))));
        records.push_back(std::move(r));
      }
      finish(put, pos);
      if (enc) enc->finish();
      verify_path = out->temp_path();
    }

    // Prove the result before calling it a success: the same checks as `verify`.
    io::FileSource check_file(verify_path);
    std::unique_ptr<crypt::DecryptingSource> check_plain;
    if (req.encrypt_key) {
      // The encrypted output is proven the way a reader will meet it: tag first, then the ZIP.
      auto h = crypt::read_header(check_file, verify_path);
      if (!crypt::tag_matches(check_file, h, *req.encrypt_key))
        throw io::IoError(req.output + ": the encrypted output does not authenticate; nothing was kept");
      check_plain = std::make_unique<crypt::DecryptingSource>(check_file, h, *req.encrypt_key, true);
    }
    io::ByteSource& check_src = check_plain ? static_cast<io::ByteSource&>(*check_plain) : check_file;
    // In place, the entries' bytes are the ones just scanned: their decode results stand, and
    // the check covers the new directory, end records and layout. A copy is decoded again.
    std::map<std::uint64_t, codec::DecodeResult> known;
    if (req.in_place)
      for (auto* e : kept) known.emplace(e->lfh_offset, *e->decoded);
    auto v = check::verify_archive(check_src, req.in_place ? req.input : req.output,
                                   {req.threads, false, req.in_place ? &known : nullptr, false});
    nlohmann::json out_findings = nlohmann::json::array();
    for (const auto& f : v.report.findings)
      out_findings.push_back({{"code", f.code}, {"severity", report::to_string(f.severity)},
                              {"entry", f.entry ? nlohmann::json(report::printable_name(*f.entry)) : nlohmann::json()},
                              {"offset", f.offset ? nlohmann::json(*f.offset) : nlohmann::json()},
                              {"message", f.message}});
    bool output_ok = v.report.verdict == report::Verdict::ok && v.entries.size() == records.size();
    if (!output_ok) {
      res.why_not = "the rebuilt archive did not pass verification; nothing was kept";
      if (appender) appender->rollback();
    } else {
      if (appender) appender->commit();
      if (out) out->commit();
      res.written = true;
    }
    rep.entries.reserve(records.size());
    for (const auto& r : records) {
      report::EntryRow row;
      row.name = r.name;
      row.method = zip::method_name(r.method);
      row.compressed_size = r.compressed_size;
      row.uncompressed_size = r.uncompressed_size;
      row.crc32 = r.crc32;
      row.offset = r.local_offset;
      row.status = report::EntryStatus::ok;
      rep.entries.push_back(row);
    }
    rep.extra["output"] = {{"path", req.in_place ? req.input : req.output},
                           {"mode", req.in_place ? "in-place" : "copy"},
                           {"written", res.written},
                           {"verdict", report::to_string(v.report.verdict)},
                           {"findings", out_findings}};
    rep.stats["bytes_salvaged"] = salvaged;
  }
  for (const auto& e : scan.entries)
    if (e.status != report::EntryStatus::ok) {
      auto row = scan::to_row(e);
      rep.entries.push_back(row);
    }
  nlohmann::json lost_json = nlohmann::json::array();
  for (auto& n : lost) lost_json.push_back(report::printable_name(n));
  rep.extra["repair"] = {{"entries_recovered", res.recovered_entries},
                         {"entries_lost", res.lost_entries},
                         {"lost", lost_json},
                         {"looks_finished", scan.directory_at.has_value()},
                         {"scan_stop", report::printable_name(scan.stop)}};
  if (!scan.directory_at) rep.add(scan::eocd_missing_finding(src.size(), scan.entries));
  rep.stats["entries_recovered"] = res.recovered_entries;
  rep.stats["entries_lost"] = res.lost_entries;
  rep.stats["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  rep.verdict = !res.written ? report::Verdict::unreadable
                : res.lost_entries ? report::Verdict::damaged
                                   : report::Verdict::ok;
  return res;
}

}  // namespace zm::repair
