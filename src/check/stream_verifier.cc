// verify from a pipe: the archive is read once, front to back. Entries are decoded as they pass
// (the local scanner) and what the walk saw of each waits in a spill (memory, then an unlinked
// temporary file); the central directory that arrives at the end is then judged a batch at a
// time by the file's own loop (judge_directory), each record against the walk's witnesses, so
// that the findings match what verify says of the same bytes in a file and memory does not grow
// with the entry count (the man page, MEMORY).
#include <fmt/format.h>

#include <fcntl.h>
#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <type_traits>

#include "check/verifier.h"
#include "check/verify_pass.h"
#include "crypt/zip_crypto.h"
#include "io/spill.h"
#include "report/progress.h"
#include "scan/central_directory.h"
#include "scan/end_records.h"
#include "scan/entry_spill.h"
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
bool window_witness(io::ByteSource& src, Entry& e, const std::string* password) {
  if (e.lfh_offset < src.earliest_readable() || e.lfh_offset >= src.size()) return false;
  auto lfh = scan::read_local_header(src, e.lfh_offset, nullptr, nullptr);
  if (!lfh) return false;
  e.lfh = scan::local_claim(*lfh);
  e.lfh->name_differs = lfh->name != e.name;
  e.data_offset = e.lfh_offset + lfh->header_len();
  e.end_offset = e.data_offset;
  scan::keep_local_extra_if_judged(e, lfh->extra);
  if (!local_header_is_its_own(e) || !zipcrypt::decodable(scan::crypt_fields(e))) return true;
  codec::Workspace ws;
  e.decoded = scan::decode_data(ws, src, scan::sized_request(e), e, password);
  if (e.has_descriptor_flag() && e.decoded->status == codec::DecodeResult::Status::ok) {
    e.descriptor = scan::match_descriptor(src, e.data_offset + e.compressed_size, e.decoded->crc,
                                          e.decoded->consumed, e.decoded->produced, e.lfh_zip64());
    if (!e.descriptor)
      e.descriptor = scan::read_descriptor_guess(src, e.data_offset + e.compressed_size, e.lfh_zip64());
    e.descriptor_cut = !e.descriptor;
  }
  return true;
}

// What the walk witnessed of each entry and the directory's records, which a pipe cannot read
// again, wait in spills (io::Spill: in memory up to VerifyOptions::spill_in_memory, 4 MiB, then
// an unlinked temporary file in TMPDIR) until the directory is judged, so that memory does not
// grow with the entry count (the man page, MEMORY).
using io::Spill;

// Bytes [origin, origin + len) of the stream, kept in the spill from `at`: the directory's
// records, for the directory's batches, the names it is asked for and the report's rows.
class SpilledRegion final : public io::ByteSource {
 public:
  SpilledRegion(Spill& spill, std::uint64_t at, std::uint64_t origin, std::uint64_t len, std::uint64_t size)
      : spill_(spill), at_(at), origin_(origin), len_(len), size_(size) {}
  std::uint64_t size() const override { return size_; }
  std::size_t read_some(std::uint64_t offset, std::span<std::uint8_t> buf) override {
    if (offset < origin_ || offset >= origin_ + len_) return 0;
    const std::uint64_t n = std::min<std::uint64_t>(buf.size(), origin_ + len_ - offset);
    return spill_.read_some(at_ + offset - origin_, buf.first(std::size_t(n)));
  }

 private:
  Spill& spill_;
  std::uint64_t at_, origin_, len_, size_;
};

using Stored = scan::EntrySpill::Stored;

// Directory records from `at` onwards, for as long as they follow one another (4.3.12), copied to
// the spill as they pass; returns how many. `end_at`: where they ended.
std::size_t spill_directory_forward(io::ByteSource& src, std::uint64_t at, std::uint64_t* end_at, Spill& spill,
                                    report::Report& rep) {
  std::size_t count = 0;
  io::SequentialReader rd(src, at);
  for (;;) {
    auto fixed = rd.peek(zip::kCentralHeaderLen);
    if (fixed.size() < zip::kCentralHeaderLen || zip::load_u32(fixed.data()) != zip::kCentralSig) break;
    std::size_t len = zip::kCentralHeaderLen + (fixed[28] | fixed[29] << 8) + (fixed[30] | fixed[31] << 8) +
                      (fixed[32] | fixed[33] << 8);
    auto rec = rd.peek(len);
    if (rec.size() < len) break;
    // Only a record with an all-ones size, offset or disk defers to a ZIP64 field that may lack
    // the value (4.5.3): the others are parsed when the directory is judged, not twice.
    if (zip::load_u32(rec.data() + 20) == zip::kMax32 || zip::load_u32(rec.data() + 24) == zip::kMax32 ||
        zip::load_u32(rec.data() + 42) == zip::kMax32 || (rec[34] | rec[35] << 8) == zip::kMax16) {
      zip::Cursor c(rec);
      auto h = zip::parse_central(c);
      bool zip64_missing = false;
      Entry e = scan::entry_from_record(std::move(h), &zip64_missing);
      if (zip64_missing)
        rep.add(make_finding(report::Code::zip64_inconsistent, e.name, rd.pos(),
                             "a size or offset is 0xFFFFFFFF but the ZIP64 extra field lacks the value"));
    }
    spill.put(rec.data(), len);
    ++count;
    rd.skip(len);
  }
  *end_at = rd.pos();
  return count;
}

// The spilled records again, a batch at a time, with the prefix shift added.
class ForwardRecords {
 public:
  ForwardRecords(io::ByteSource& region, std::uint64_t from, std::uint64_t to, std::uint64_t shift)
      : rd_(region, from), to_(to), shift_(shift) {}
  bool next(std::size_t max, std::vector<Entry>& out, std::vector<std::uint64_t>& at) {
    out.clear();
    at.clear();
    while (out.size() < max && rd_.pos() < to_) {
      auto fixed = rd_.peek(zip::kCentralHeaderLen);
      std::size_t len = zip::kCentralHeaderLen + (fixed[28] | fixed[29] << 8) + (fixed[30] | fixed[31] << 8) +
                        (fixed[32] | fixed[33] << 8);
      auto rec = rd_.peek(len);
      zip::Cursor c(rec);
      Entry e = scan::entry_from_record(zip::parse_central(c), nullptr);
      e.lfh_offset += shift_;
      at.push_back(rd_.pos());
      out.push_back(std::move(e));
      rd_.skip(len);
    }
    return !out.empty();
  }

 private:
  io::SequentialReader rd_;
  std::uint64_t to_, shift_;
};

// The walk's witnesses in the spill, and an index of them by local header offset (8 bytes an
// entry, and a bit for whether a directory record points to it). Shared with the report's
// rows and the tally's names, which are read back when the report is written.
class Spilled {
 public:
  Spilled(const std::string& owner, std::size_t in_memory) : walked(owner, in_memory), directory(owner, in_memory) {}
  scan::EntrySpill walked;  // every walked entry, in walk order
  Spill directory;          // the directory's records as they passed
  std::optional<SpilledRegion> region;

  void keep(const Entry& e) {
    walked.append(e);
    offsets_.push_back(e.lfh_offset);
  }
  // Walked entry i (in walk order) as the walk made it.
  Entry entry(std::size_t i) { return walked.entry(*back_, i); }
  // The walk is over: the index is sorted (the walk goes forward, so it nearly always is).
  void seal() {
    walked.seal();
    directory.flush();
    if (!back_) back_ = std::make_unique<Reader>(walked);
    referenced_ = std::make_unique<std::atomic<std::uint64_t>[]>(offsets_.size() / 64 + 1);
    if (std::is_sorted(offsets_.begin(), offsets_.end()) || !order_.empty()) return;
    order_.resize(offsets_.size());
    for (std::uint32_t i = 0; i < order_.size(); ++i) order_[i] = i;
    std::stable_sort(order_.begin(), order_.end(), [&](std::uint32_t a, std::uint32_t b) { return offsets_[a] < offsets_[b]; });
    std::vector<std::uint64_t> sorted(offsets_.size());
    for (std::size_t i = 0; i < order_.size(); ++i) sorted[i] = offsets_[order_[i]];
    offsets_.swap(sorted);
  }
  std::size_t count() const { return offsets_.size(); }
  std::uint64_t offset(std::size_t p) const { return offsets_[p]; }
  bool referenced(std::size_t p) const { return referenced_[p / 64].load(std::memory_order_relaxed) >> (p % 64) & 1; }
  // Threads examining directory records may mark the same entry.
  void reference(std::size_t p) { referenced_[p / 64].fetch_or(std::uint64_t(1) << (p % 64), std::memory_order_relaxed); }
  // The first position in the index at or after `offset`.
  std::size_t first_at(std::uint64_t offset) const {
    return std::size_t(std::lower_bound(offsets_.begin(), offsets_.end(), offset,
                                        [](std::uint64_t a, std::uint64_t o) { return a < o; }) -
                       offsets_.begin());
  }
  // A thread's own read caches of the spill.
  using Reader = scan::EntrySpill::Reader;
  // The walked entry at position p of the index: its record, name and message.
  Stored witness(Reader& rd, std::size_t p, std::string& name, std::string* error) {
    return walked.stored(rd, order_.empty() ? p : order_[p], name, error);
  }
  std::string name(std::size_t p) {
    std::string n;
    witness(*back_, p, n, nullptr);
    return n;
  }
  std::string name_of_offset(std::uint64_t offset) {
    const std::size_t p = first_at(offset);
    return p < count() && this->offset(p) == offset ? name(p) : std::string();
  }

 private:
  // A bit per position: some directory record points to that entry (marked from any thread).
  std::unique_ptr<std::atomic<std::uint64_t>[]> referenced_;
  std::vector<std::uint64_t> offsets_;
  std::vector<std::uint32_t> order_;  // walk order of each position, when the walk went back
  std::unique_ptr<Reader> back_;  // the calling thread's

};

}  // namespace

Verification verify_stream(io::StreamSource& src, const std::string& path, const VerifyOptions& opt) {
  auto t0 = std::chrono::steady_clock::now();
  Verification v;
  report::Report& rep = v.report;
  rep.command = "verify";
  rep.archive_path = path;
  const unsigned threads = opt.threads ? opt.threads : default_threads();
  const std::size_t batch_size = std::max<std::size_t>(opt.batch, 1);
  // Directory records judged at a time: nothing is decoded then (the walk did that), so a batch
  // need not keep threads busy, and a smaller one holds fewer entries beside the spill's index.
  const std::size_t records_at_a_time = std::min<std::size_t>(batch_size, 4096);

  // Unless the caller wants the entries, the walk settles them as it goes and they wait in the
  // spill: whether they are judged as the walk's report or as witnesses of the directory's
  // claims is known only when the stream ends.
  auto sp = std::make_shared<Spilled>(path, opt.spill_in_memory);
  auto keep_witnesses = [&](const std::vector<Entry>& es) {
    for (const auto& e : es) sp->keep(e);
  };
  scan::ScanOptions so{nullptr, 0, threads};
  so.max_in_flight = opt.max_in_flight;
  if (!opt.keep_entries) {
    so.settle = [&](std::vector<Entry>& done) { keep_witnesses(done); };
    so.settle_every = batch_size;
  }
  so.password = opt.password;
  codec::Workspace ws;
  auto scan = scan::scan_local(src, ws, so);
  std::uint64_t cd_start = 0, cd_end = 0, dir_at = 0;
  std::size_t forward_count = 0;
  report::Report forward;  // what reading the records as they passed found, if that is used
  if (scan.directory_at) {
    cd_start = *scan.directory_at;
    dir_at = sp->directory.tell();
    forward_count = spill_directory_forward(src, cd_start, &cd_end, sp->directory, forward);
  }
  src.drain();
  rep.archive_size = src.size();
  if (src.size() == 0) throw CannotProceed(path + ": the stream is empty (0 bytes); it is not a ZIP archive");
  // The end records sit in the last 64 KiB, which the stream's window still holds.
  auto end = scan::locate_end_records(src);
  std::vector<report::Finding> end_findings;
  if (end) end_findings = judge_end_records(*end);
  if (!scan.found_any_header && !end)
    throw CannotProceed(path + ": not a ZIP archive (no end record and no local file header anywhere)");

  // No directory came (a cut backup through a pipe): the walk is judged, its settled entries read
  // back in the walk's order and judged as verify of a file judges a walk it settled (WalkTally).
  std::shared_ptr<WalkTally> tally;
  bool walk_judged = false;
  auto judge_the_walk = [&] {
    if (walk_judged) return;
    walk_judged = true;
    sp->seal();
    if (!opt.keep_entries) {
      tally = std::make_shared<WalkTally>(src, true);
      tally->names_from = [sp](std::uint64_t offset) { return sp->name_of_offset(offset); };
      std::vector<Entry> settled;
      for (std::size_t i = 0; i < sp->count();) {
        settled.clear();
        for (; i < sp->count() && settled.size() < batch_size; ++i) settled.push_back(sp->entry(i));
        tally->add(settled);
      }
    }
    judge_walk(scan, src.size(), tally ? std::move(tally->judged) : std::vector<report::Finding>{});
  };

  // While the window still holds the whole directory (all but the largest), it is read by the very
  // reader a file's directory is read by, with the same checks; only a directory the window has
  // lost is read as it passed.
  const bool same_reader = end && end->cd_start >= src.earliest_readable();
  std::uint64_t shift = 0;
  bool have_directory = false;
  std::optional<scan::DirectoryReader> directory;
  std::vector<Entry> batch;
  std::vector<std::uint64_t> records;
  SpilledRegion& region = sp->region.emplace(sp->directory, dir_at, cd_start, cd_end - cd_start, src.size());
  std::optional<ForwardRecords> forward_records;
  if (same_reader) {
    for (auto& f : end_findings) rep.add(f);
    directory.emplace(src, *end);
    directory->next(records_at_a_time, batch, &records);
    have_directory = directory->readable();  // their offsets already count any prefix
    shift = end->shift;
    if (!have_directory) {
      for (auto& f : directory->findings) rep.add(f);
      batch.clear();
    }
  } else {
    for (auto& f : forward.findings) rep.add(f);
    have_directory = forward_count > 0 || (end && end->entries == 0 && end->cd_size == 0);
    if (end) shift = cd_start >= end->cd_offset ? cd_start - end->cd_offset : 0;
    if (!end) {
      // Named by the last entry judged whole, as a file's verify names it.
      judge_the_walk();
      rep.add(scan::eocd_missing_finding(src.size(), scan.entries, tally ? tally->count() : 0,
                                         tally ? tally->last_whole() : std::nullopt));
    } else {
      for (auto& f : end_findings) rep.add(f);
      if (!have_directory)
        rep.add(make_finding(report::Code::cd_unreadable, std::nullopt, end->cd_start,
                             "central directory record 1 is not where the directory says (no PK\\1\\2 signature)"));
      else if (forward_count != end->entries)
        rep.add(make_finding(report::Code::eocd_inconsistent, std::nullopt, end->eocd_offset,
                             fmt::format("the end record counts {} entries but the directory holds {}", end->entries,
                                         forward_count)));
    }
    forward_records.emplace(region, cd_start, cd_end, shift);
    forward_records->next(records_at_a_time, batch, records);
  }

  if (!have_directory || !end) {
    // No directory to check against: the walk is the report, as verify does for a file.
    judge_the_walk();
    for (auto& f : scan.findings) rep.add(f);
    const std::size_t before = tally ? tally->count() : 0;
    if (same_reader && end && scan.entries.empty() && !before)  // as a file's verify says it
      rep.add(make_finding(report::Code::cd_unreadable, std::nullopt, end->cd_start, "the central directory could not be read"));
    if (!tally)
      finish_verification(v, std::move(scan.entries), "stream", threads, t0);
    else
      finish_walk_tally(v, scan, tally, "stream", threads, t0);
    v.from_directory = false;
    return v;
  }

  // The directory is judged against the walk's witnesses, read back from the spill: the walk's
  // last entries join them there.
  keep_witnesses(scan.entries);
  std::vector<Entry>().swap(scan.entries);
  // The walk's entries were many small blocks of the heap (their names): given back before the
  // directory's arrays are made, so that the two phases' peaks do not add up.
  ::malloc_trim(0);
  // The walk's entries are looked up by offset, by halving: the walk only goes forward, so they
  // are nearly always in that order already.
  sp->seal();

  // The walk's own findings (its prefix, its damaged stretches) are not repeated: with a
  // directory, the layout judge says what the bytes between entries are, as it does for a file,
  // asking the walk what it met there.
  struct WalkProbe final : LayoutProbe {
    Spilled& walked;
    const std::vector<std::uint8_t>& prefix;
    WalkProbe(Spilled& w, const std::vector<std::uint8_t>& p) : walked(w), prefix(p) {}
    std::vector<FoundHeader> headers_in(std::uint64_t from, std::uint64_t to) override {
      std::vector<FoundHeader> out;
      for (std::size_t p = walked.first_at(from); p < walked.count() && walked.offset(p) < to; ++p)
        if (!walked.referenced(p)) out.push_back({walked.offset(p), walked.name(p)});
      return out;
    }
    std::vector<std::uint8_t> prefix_head(std::uint64_t) override { return prefix; }
  } probe(*sp, scan.prefix_head);

  // Each thread reads the spill through its own caches; a stream the walk has ended no longer
  // changes, so its window is read from any thread.
  auto witnesses_for_thread = [&]() -> FillWitnesses {
    auto rd = std::make_shared<Spilled::Reader>(sp->walked);
    auto crypt_ws = std::make_shared<codec::Workspace>();
    // The directory mostly lists entries in the order the walk met them: the one after the last
    // found is tried before halving through the index.
    auto hint = std::make_shared<std::size_t>(0);
    return [&, rd, crypt_ws, hint](Entry& e) {
      std::size_t p = *hint;
      if (!(p < sp->count() && sp->offset(p) == e.lfh_offset && (p == 0 || sp->offset(p - 1) < e.lfh_offset)))
        p = sp->first_at(e.lfh_offset);
      *hint = p + 1;
      if (p == sp->count() || sp->offset(p) != e.lfh_offset) {
        if (!window_witness(src, e, opt.password))
          e.lfh_problem = e.lfh_offset >= src.size() ? scan::LocalProblem::past_end : scan::LocalProblem::absent;
        return;
      }
      for (std::size_t r = p; r < sp->count() && sp->offset(r) == e.lfh_offset; ++r) sp->reference(r);
      std::string walk_name, error;
      const Stored w = sp->witness(*rd, p, walk_name, &error);
      if (!w.has_lfh) {
        e.lfh_problem = scan::LocalProblem::cut;  // the stream ended inside that header
        return;
      }
      // The walk's witnesses of this entry join the directory's claims, and the one judge
      // weighs them all, as it does for a file.
      e.lfh = w.lfh;
      e.lfh->name_differs = walk_name != e.name;
      e.data_offset = w.data_offset;
      e.end_offset = w.end_offset;
      if (w.lfh.unicode_path) scan::keep_local_extra_if_judged(e, sp->walked.lfh_extra(*rd, w));
      if (!local_header_is_its_own(e)) return;
      if (w.has_decoded) e.decoded = codec::DecodeResult{w.decode_status, w.consumed, w.produced, w.crc, std::move(error)};
      e.crypt = w.crypt;
      if (w.has_descriptor) e.descriptor = w.descriptor;
      e.descriptor_cut = w.descriptor_cut;
      if (w.has_cut_intact) e.cut_intact = w.cut_intact;
      // The walk saw no scheme it knows in the local header (its AES field damaged, say) where
      // the directory's record names one: without a password a file's verify asks for one
      // without reading the data, and so does this.
      if (!e.decoded && e.crypt == scan::CryptOutcome::not_tried && e.encrypted() &&
          zipcrypt::decodable(scan::crypt_fields(e)) && !opt.password)
        e.decoded = scan::decode_data(*crypt_ws, src, scan::sized_request(e), e, opt.password);
    };
  };
  const std::size_t head = rep.findings.size();
  DirectoryPass pass{same_reader ? static_cast<io::ByteSource&>(src) : static_cast<io::ByteSource&>(region),
                     shift,
                     *end,
                     same_reader ? std::size_t(std::min<std::uint64_t>(end->entries, end->cd_size / zip::kCentralHeaderLen))
                                 : forward_count,
                     [&](std::vector<Entry>& out, std::vector<std::uint64_t>& at) {
                       return same_reader ? directory->next(records_at_a_time, out, &at)
                                          : forward_records->next(records_at_a_time, out, at);
                     },
                     src.size(),
                     witnesses_for_thread,
                     [&] {
                       // As a file's verify: the directory's own findings before the entries'.
                       if (same_reader)
                         rep.findings.insert(rep.findings.begin() + std::ptrdiff_t(head),
                                             std::make_move_iterator(directory->findings.begin()),
                                             std::make_move_iterator(directory->findings.end()));
                     },
                     probe,
                     "stream",
                     sp};
  judge_directory(v, pass, batch, records, opt, threads, t0);
  v.from_directory = true;
  return v;
}

}  // namespace zm::check
