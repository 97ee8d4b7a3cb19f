// verify from a pipe: the archive is read once, front to back. Entries are decoded as they pass
// (the local scanner), the central directory is parsed when it arrives, and the two are then
// cross-checked so that the findings match what verify says of the same bytes in a file.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include "check/verifier.h"
#include "crypt/zip_crypto.h"
#include "report/progress.h"
#include "crypt/zip_crypto.h"
#include "scan/central_directory.h"
#include "scan/end_records.h"
#include "scan/local_scanner.h"

namespace zm::check {
using report::make_finding;
using scan::Entry;

namespace {

// A local header the directory points to that the walk did not take, while the stream's window
// still holds it: the walk's search after a prefix skips headers whose "version needed" is above
// 6.3 (to tell a header from "PK\3\4" inside the prefix), though no reader checks that value. The
// header and its data are then read from the window as a file's verify reads them, so that a pipe
// and a file agree. False when there is no header there either.
bool window_witness(io::ByteSource& src, Entry& e) {
  if (e.lfh_offset < src.earliest_readable() || e.lfh_offset >= src.size()) return false;
  auto lfh = scan::read_local_header(src, e.lfh_offset, nullptr, nullptr);
  if (!lfh) return false;
  e.lfh = scan::local_claim(*lfh);
  e.lfh->name_differs = lfh->name != e.name;
  e.data_offset = e.lfh_offset + lfh->header_len();
  e.end_offset = e.data_offset;
  if (!local_header_is_its_own(e) || !zipcrypt::decodable(e)) return true;
  codec::Workspace ws;
  e.decoded = zipcrypt::decode(ws, src, scan::sized_request(e), e);
  if (e.has_descriptor_flag() && e.decoded->status == codec::DecodeResult::Status::ok) {
    e.descriptor = scan::match_descriptor(src, e.data_offset + e.compressed_size, e.decoded->crc,
                                          e.decoded->consumed, e.decoded->produced, e.lfh_zip64());
    if (!e.descriptor)
      e.descriptor = scan::read_descriptor_guess(src, e.data_offset + e.compressed_size, e.lfh_zip64());
    e.descriptor_cut = !e.descriptor;
  }
  return true;
}

// Directory records from `at` onwards, for as long as they follow one another (4.3.12).
std::vector<Entry> read_directory_forward(io::ByteSource& src, std::uint64_t at, std::uint64_t* end_at,
                                          report::Report& rep) {
  std::vector<Entry> out;
  io::SequentialReader rd(src, at);
  for (;;) {
    auto fixed = rd.peek(zip::kCentralHeaderLen);
    if (fixed.size() < zip::kCentralHeaderLen || zip::load_u32(fixed.data()) != zip::kCentralSig) break;
    std::size_t len = zip::kCentralHeaderLen + (fixed[28] | fixed[29] << 8) + (fixed[30] | fixed[31] << 8) +
                      (fixed[32] | fixed[33] << 8);
    auto rec = rd.peek(len);
    if (rec.size() < len) break;
    zip::Cursor c(rec);
    auto h = zip::parse_central(c);
    bool zip64_missing = false;
    Entry e = scan::entry_from_record(std::move(h), &zip64_missing);
    if (zip64_missing)
      rep.add(make_finding(report::Code::zip64_inconsistent, e.name, rd.pos(),
                           "a size or offset is 0xFFFFFFFF but the ZIP64 extra field lacks the value"));
    out.push_back(std::move(e));
    rd.skip(len);
  }
  *end_at = rd.pos();
  return out;
}

}  // namespace

Verification verify_stream(io::StreamSource& src, const std::string& path, const VerifyOptions& opt) {
  auto t0 = std::chrono::steady_clock::now();
  Verification v;
  report::Report& rep = v.report;
  rep.command = "verify";
  rep.archive_path = path;

  codec::Workspace ws;
  auto scan = scan::scan_local(src, ws, {nullptr, 0, opt.threads ? opt.threads : default_threads()});
  std::vector<Entry> directory;
  std::uint64_t cd_start = 0, cd_end = 0;
  report::Report forward;  // what reading the records as they passed found, if that is used
  if (scan.directory_at) {
    cd_start = *scan.directory_at;
    directory = read_directory_forward(src, cd_start, &cd_end, forward);
  }
  src.drain();
  rep.archive_size = src.size();
  if (src.size() == 0) throw CannotProceed(path + ": the stream is empty (0 bytes); it is not a ZIP archive");
  // The end records sit in the last 64 KiB, which the stream's window still holds.
  auto end = scan::locate_end_records(src);
  if (!scan.found_any_header && !end)
    throw CannotProceed(path + ": not a ZIP archive (no end record and no local file header anywhere)");

  // While the window still holds the whole directory (all but the largest), it is read by the very
  // reader a file's directory is read by, with the same checks; only a directory the window has
  // lost is read as it passed.
  const bool same_reader = end && end->cd_start >= src.earliest_readable();
  std::uint64_t shift = 0;
  bool have_directory = false;
  if (same_reader) {
    for (auto& f : end->findings) rep.add(f);
    auto cd = scan::read_central_directory(src, *end);
    for (auto& f : cd.findings) rep.add(f);
    have_directory = cd.readable;
    directory = std::move(cd.entries);  // their offsets already count any prefix
    if (!have_directory) directory.clear();
  } else {
    for (auto& f : forward.findings) rep.add(f);
    have_directory = !directory.empty() || (end && end->entries == 0 && end->cd_size == 0);
    if (end) shift = cd_start >= end->cd_offset ? cd_start - end->cd_offset : 0;
  }
  if (!same_reader) {
    if (!end) {
      rep.add(scan::eocd_missing_finding(src.size(), scan.entries));
    } else {
      for (auto& f : end->findings) rep.add(f);
      if (!have_directory)
        rep.add(make_finding(report::Code::cd_unreadable, std::nullopt, end->cd_start,
                             "central directory record 1 is not where the directory says (no PK\\1\\2 signature)"));
      else if (directory.size() != end->entries)
        rep.add(make_finding(report::Code::eocd_inconsistent, std::nullopt, end->eocd_offset,
                             fmt::format("the end record counts {} entries but the directory holds {}", end->entries,
                                         directory.size())));
    }
  }

  std::vector<Entry> entries;
  if (!have_directory || !end) {
    // No directory to check against: the walk is the report, as verify does for a file.
    judge_walk(scan, src.size());
    for (auto& f : scan.findings) rep.add(f);
    entries = std::move(scan.entries);
    if (same_reader && end && entries.empty())  // as a file's verify says it
      rep.add(make_finding(report::Code::cd_unreadable, std::nullopt, end->cd_start, "the central directory could not be read"));
  } else {
    // The walk only goes forward, so its entries are in offset order: looked up by halving, not
    // through a map of a million nodes.
    std::vector<const Entry*> walked;
    walked.reserve(scan.entries.size());
    for (const auto& s : scan.entries) walked.push_back(&s);
    auto by_offset = [](const Entry* a, const Entry* b) { return a->lfh_offset < b->lfh_offset; };
    if (!std::is_sorted(walked.begin(), walked.end(), by_offset)) std::stable_sort(walked.begin(), walked.end(), by_offset);
    auto walked_at = [&](std::uint64_t at) -> const Entry* {
      auto it = std::lower_bound(walked.begin(), walked.end(), at, [](const Entry* a, std::uint64_t o) { return a->lfh_offset < o; });
      return it != walked.end() && (*it)->lfh_offset == at ? *it : nullptr;
    };
    std::vector<std::uint64_t> referenced;
    referenced.reserve(directory.size());
    for (auto& e : directory) {
      e.lfh_offset += shift;
      referenced.push_back(e.lfh_offset);
      const Entry* w = walked_at(e.lfh_offset);
      if (!w) {
        if (!window_witness(src, e))
          e.lfh_problem = e.lfh_offset >= src.size() ? scan::LocalProblem::past_end : scan::LocalProblem::absent;
      } else if (!w->lfh) {
        e.lfh_problem = scan::LocalProblem::cut;  // the stream ended inside that header
      } else {
        // The walk's witnesses of this entry join the directory's claims, and the one judge
        // weighs them all, as it does for a file.
        const Entry& s = *w;
        e.lfh = s.lfh;
        e.lfh->name_differs = s.name != e.name;
        e.data_offset = s.data_offset;
        e.end_offset = s.end_offset;
        if (local_header_is_its_own(e)) {
          e.decoded = s.decoded;
          e.crypt = s.crypt;
          e.descriptor = s.descriptor;
          e.descriptor_cut = s.descriptor_cut;
          e.cut_intact = s.cut_intact;
          // The walk saw no scheme it knows in the local header (its AES field damaged, say) where
          // the directory's record names one: without a password a file's verify asks for one
          // without reading the data, and so does this.
          if (!e.decoded && e.crypt == scan::CryptOutcome::not_tried && e.encrypted() && zipcrypt::decodable(e) &&
              !zipcrypt::password())
            e.decoded = zipcrypt::decode(ws, src, scan::sized_request(e), e);
        }
      }
      judge_entry(e, src.size(), rep.findings);
      settle_extent(e);
    }
    // The walk's own findings (its prefix, its damaged stretches) are not repeated: with a
    // directory, the layout judge says what the bytes between entries are, as it does for a file,
    // asking the walk what it met there.
    std::sort(referenced.begin(), referenced.end());
    struct WalkProbe final : LayoutProbe {
      const scan::ScanResult& walk;
      const std::vector<const Entry*>& walked;
      const std::vector<std::uint64_t>& referenced;
      WalkProbe(const scan::ScanResult& w, const std::vector<const Entry*>& in_order, const std::vector<std::uint64_t>& r)
          : walk(w), walked(in_order), referenced(r) {}
      std::vector<FoundHeader> headers_in(std::uint64_t from, std::uint64_t to) override {
        std::vector<FoundHeader> out;
        auto it = std::lower_bound(walked.begin(), walked.end(), from,
                                   [](const Entry* a, std::uint64_t o) { return a->lfh_offset < o; });
        for (; it != walked.end() && (*it)->lfh_offset < to; ++it)
          if (!std::binary_search(referenced.begin(), referenced.end(), (*it)->lfh_offset))
            out.push_back({(*it)->lfh_offset, (*it)->name});
        return out;
      }
      std::vector<std::uint8_t> prefix_head(std::uint64_t) override { return walk.prefix_head; }
    } probe(scan, walked, referenced);
    judge_layout(directory, *end, end->cd_start + end->cd_size, probe, rep.findings);
    entries = std::move(directory);
  }
  const unsigned threads = opt.threads ? opt.threads : default_threads();
  finish_verification(v, std::move(entries), "stream", threads, t0);
  v.from_directory = have_directory;
  return v;
}

}  // namespace zm::check
