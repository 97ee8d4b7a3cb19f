// verify from a pipe: the archive is read once, front to back. Entries are decoded as they pass
// (the local scanner) and what the walk saw of each waits in a spill (memory, then an unlinked
// temporary file); the directory's records are copied to the spill as they pass, and once the end
// records say where the directory is, the one directory reader (scan::DirectoryReader) reads it,
// from the stream's window or from that copy, making the same findings about it as for a file.
// Its records are then judged a batch at a time by the file's own loop (judge_directory), each
// against the walk's witnesses, so that the findings match what verify says of the same bytes in
// a file and memory does not grow with the entry count (the man page, MEMORY).
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
  auto req = scan::sized_request(e);
  if (decoded_whole(e)) req.max_output = 0;
  e.decoded = scan::decode_data(ws, src, req, e, password);
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

// The one pass over the stream: the walk decodes entries as they pass and, unless the caller
// wants them, settles them into the spill; whether they are judged as the walk's report or as
// witnesses of the directory's claims is known only when the stream ends. The directory's records
// that follow the walk are copied to the spill as they pass (sp.region), and the rest of the
// stream is read to learn its length. `copied`: how many whole records.
scan::ScanResult walk_stream(io::StreamSource& src, Spilled& sp, const VerifyOptions& opt, unsigned threads,
                             std::size_t* copied) {
  const std::size_t batch_size = std::max<std::size_t>(opt.batch, 1);
  scan::ScanOptions so{nullptr, 0, threads};
  so.max_in_flight = opt.max_in_flight;
  if (!opt.keep_entries) {
    so.settle = [&](std::vector<Entry>& done) { for (const auto& e : done) sp.keep(e); };
    so.settle_every = batch_size;
  }
  so.password = opt.password;
  codec::Workspace ws;
  auto scan = scan::scan_local(src, ws, so);
  const std::uint64_t dir_at = sp.directory.tell();
  std::uint64_t cd_start = 0, cd_end = 0;
  if (scan.directory_at) {
    cd_start = *scan.directory_at;
    *copied = scan::copy_directory_records(src, cd_start, sp.directory, &cd_end);
  }
  src.drain();
  sp.region.emplace(sp.directory, dir_at, cd_start, cd_end - cd_start, src.size());
  return scan;
}

// No readable directory (a cut backup through a pipe): the walk is the report, as verify makes it
// for a file. The entries the walk settled are read back in the walk's order and judged as a
// file's verify judges a walk it settled (WalkTally).
void judge_stream_walk(Verification& v, io::StreamSource& src, const std::shared_ptr<Spilled>& sp, scan::ScanResult& scan,
                       const std::optional<scan::EndRecords>& end, const VerifyOptions& opt, unsigned threads,
                       std::chrono::steady_clock::time_point t0) {
  const std::size_t batch_size = std::max<std::size_t>(opt.batch, 1);
  sp->seal();
  std::shared_ptr<WalkTally> tally;
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
  judge_walk(scan, src.size(), tally.get());
  finish_walk(v, scan, end, src.size(), tally, "stream", opt.rows, threads, t0);
  v.from_directory = false;
}

// The walk's own findings (its prefix, its damaged stretches) are not repeated when there is a
// directory: the layout judge says what the bytes between entries are, as it does for a file,
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
};

// One thread's filling of directory entries with what the walk witnessed at their local header
// offsets, read back from the spill through the thread's own caches. A stream the walk has ended
// no longer changes, so its window is read from any thread.
class WalkWitnesses {
 public:
  WalkWitnesses(io::StreamSource& src, Spilled& sp, const std::string* password)
      : src_(src), sp_(sp), rd_(sp.walked), password_(password) {}
  void fill(Entry& e);

 private:
  std::size_t position_of(std::uint64_t offset);
  void take(Entry& e, const Stored& w, const std::string& walk_name, std::string error);
  io::StreamSource& src_;
  Spilled& sp_;
  Spilled::Reader rd_;
  const std::string* password_;
  codec::Workspace crypt_ws_;
  std::size_t hint_ = 0;
};

void WalkWitnesses::fill(Entry& e) {
  const std::size_t p = position_of(e.lfh_offset);
  if (p == sp_.count() || sp_.offset(p) != e.lfh_offset) {
    if (!window_witness(src_, e, password_))
      e.lfh_problem = e.lfh_offset >= src_.size() ? scan::LocalProblem::past_end : scan::LocalProblem::absent;
    return;
  }
  for (std::size_t r = p; r < sp_.count() && sp_.offset(r) == e.lfh_offset; ++r) sp_.reference(r);
  std::string walk_name, error;
  const Stored w = sp_.witness(rd_, p, walk_name, &error);
  if (!w.has_lfh) {
    e.lfh_problem = scan::LocalProblem::cut;  // the stream ended inside that header
    return;
  }
  take(e, w, walk_name, std::move(error));
}

// The directory mostly lists entries in the order the walk met them: the one after the last found
// is tried before halving through the index.
std::size_t WalkWitnesses::position_of(std::uint64_t offset) {
  std::size_t p = hint_;
  if (!(p < sp_.count() && sp_.offset(p) == offset && (p == 0 || sp_.offset(p - 1) < offset)))
    p = sp_.first_at(offset);
  hint_ = p + 1;
  return p;
}

// The walk's witnesses of this entry join the directory's claims, and the one judge weighs them
// all, as it does for a file.
void WalkWitnesses::take(Entry& e, const Stored& w, const std::string& walk_name, std::string error) {
  e.lfh = w.lfh;
  e.lfh->name_differs = walk_name != e.name;
  e.data_offset = w.data_offset;
  e.end_offset = w.end_offset;
  if (w.lfh.unicode_path) scan::keep_local_extra_if_judged(e, sp_.walked.lfh_extra(rd_, w));
  // A header that is not the entry's own (another method, bit 3 differs) gives it no extent, as
  // for a file (window_witness): where its walked data ends would otherwise be judged against the
  // directory, and a pipe would find an overlap that a file does not.
  if (!local_header_is_its_own(e)) {
    e.end_offset = e.data_offset;
    return;
  }
  if (w.has_decoded) e.decoded = codec::DecodeResult{w.decode_status, w.consumed, w.produced, w.crc, std::move(error)};
  e.crypt = w.crypt;
  if (w.has_descriptor) e.descriptor = w.descriptor;
  e.descriptor_cut = w.descriptor_cut;
  e.stored_descriptor_sig_inside = w.stored_descriptor_sig_inside;
  if (w.has_cut_intact) e.cut_intact = w.cut_intact;
  // The walk saw no scheme it knows in the local header (its AES field damaged, say) where the
  // directory's record names one: without a password a file's verify asks for one without
  // reading the data, and so does this.
  if (!e.decoded && e.crypt == scan::CryptOutcome::not_tried && e.encrypted() &&
      zipcrypt::decodable(scan::crypt_fields(e)) && !password_)
    e.decoded = scan::decode_data(crypt_ws_, src_, scan::sized_request(e), e, password_);
}

// Directory records judged at a time: nothing is decoded then (the walk did that), so a batch need
// not keep threads busy, and a smaller one holds fewer entries beside the spill's index.
std::size_t records_at_a_time(const VerifyOptions& opt) {
  return std::min<std::size_t>(std::max<std::size_t>(opt.batch, 1), 4096);
}

// The directory as the pipe starts on it: its reader, where it reads the records, and its first batch.
struct StreamDirectory {
  io::ByteSource* records = nullptr;
  std::size_t expected = 0;  // records it can hold, at most (for reserving)
  std::optional<scan::DirectoryReader> reader;
  std::vector<Entry> batch;
  std::vector<std::uint64_t> at;  // where each record of `batch` starts
  std::size_t head = 0;           // the end records' findings, first in the report
};

// The end records' findings, then the directory's first records, read by the reader a file's
// directory is read by: from the stream's window while it still holds the whole directory (all but
// the largest), else from the copy made as the records passed. False when the directory is not
// readable (its findings are then the report's).
bool open_directory(io::StreamSource& src, Spilled& sp, scan::EndRecords& end, std::size_t copied,
                    const VerifyOptions& opt, report::Report& rep, StreamDirectory& dir) {
  for (auto& f : judge_end_records(end)) rep.add(f);
  dir.head = rep.findings.size();
  const bool in_window = end.cd_start >= src.earliest_readable();
  dir.records = in_window ? static_cast<io::ByteSource*>(&src) : &*sp.region;
  dir.expected = std::size_t(std::min<std::uint64_t>(end.entries, end.cd_size / zip::kCentralHeaderLen));
  if (!in_window) dir.expected = std::min(dir.expected, copied);
  dir.reader.emplace(*dir.records, src, end);
  dir.reader->next(records_at_a_time(opt), dir.batch, &dir.at);
  if (dir.reader->readable()) return true;
  for (auto& f : dir.reader->findings) rep.add(f);
  return false;
}

// With a readable directory: judge_directory, as for a file, each record against the walk's
// witnesses read back from the spill.
void judge_stream_directory(Verification& v, io::StreamSource& src, const std::shared_ptr<Spilled>& sp,
                            scan::ScanResult& scan, const scan::EndRecords& end, StreamDirectory& dir,
                            const VerifyOptions& opt, unsigned threads, std::chrono::steady_clock::time_point t0) {
  report::Report& rep = v.report;
  // The walk's last entries join the others in the spill.
  for (const auto& e : scan.entries) sp->keep(e);
  std::vector<Entry>().swap(scan.entries);
  // The walk's entries were many small blocks of the heap (their names): given back before the
  // directory's arrays are made, so that the two phases' peaks do not add up.
  ::malloc_trim(0);
  // The walk's entries are looked up by offset, by halving: the walk only goes forward, so they
  // are nearly always in that order already.
  sp->seal();
  WalkProbe probe(*sp, scan.prefix_head);
  DirectoryPass pass{*dir.records,
                     end.shift,
                     end,
                     dir.expected,
                     [&](std::vector<Entry>& out, std::vector<std::uint64_t>& at) {
                       return dir.reader->next(records_at_a_time(opt), out, &at);
                     },
                     src.size(),
                     [&]() -> FillWitnesses {
                       auto w = std::make_shared<WalkWitnesses>(src, *sp, opt.password);
                       return [w](Entry& e) { w->fill(e); };
                     },
                     [&] {
                       // As a file's verify: the directory's own findings before the entries'.
                       rep.findings.insert(rep.findings.begin() + std::ptrdiff_t(dir.head),
                                           std::make_move_iterator(dir.reader->findings.begin()),
                                           std::make_move_iterator(dir.reader->findings.end()));
                     },
                     probe,
                     "stream",
                     sp};
  judge_directory(v, pass, dir.batch, dir.at, opt, threads, t0);
  v.from_directory = true;
}

}  // namespace

Verification verify_stream(io::StreamSource& src, const std::string& path, const VerifyOptions& opt) {
  auto t0 = std::chrono::steady_clock::now();
  Verification v;
  report::Report& rep = v.report;
  rep.command = "verify";
  rep.archive_path = path;
  const unsigned threads = opt.threads ? opt.threads : default_threads();
  auto sp = std::make_shared<Spilled>(path, opt.spill_in_memory);
  std::size_t copied = 0;
  auto scan = walk_stream(src, *sp, opt, threads, &copied);
  rep.archive_size = src.size();
  if (src.size() == 0) throw io::Failure(io::Fail::empty, path + ": the stream is empty (0 bytes); it is not a ZIP archive");
  // The end records sit in the last 64 KiB, which the stream's window still holds.
  auto end = scan::locate_end_records(src);
  if (!scan.found_any_header && !end)
    throw io::Failure(io::Fail::not_a_zip, path + ": not a ZIP archive (no end record and no local file header anywhere)");
  StreamDirectory dir;
  if (end && open_directory(src, *sp, *end, copied, opt, rep, dir))
    judge_stream_directory(v, src, sp, scan, *end, dir, opt, threads, t0);
  else
    judge_stream_walk(v, src, sp, scan, end, opt, threads, t0);
  if (opt.select) note_checked_in_full(v, *opt.select);
  return v;
}

}  // namespace zm::check
