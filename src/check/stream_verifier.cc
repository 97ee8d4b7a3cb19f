// verify from a pipe: the archive is read once, front to back. Entries are decoded as they pass
// (the local scanner) and what the walk saw of each waits in a spill (memory, then an unlinked
// temporary file); the central directory that arrives at the end is then judged a batch at a
// time by the file's own loop (judge_directory), each record against the walk's witnesses, so
// that the findings match what verify says of the same bytes in a file and memory does not grow
// with the entry count (issue 13).
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
#include "report/progress.h"
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

// What the walk witnessed of each entry and the directory's records, which a pipe cannot read
// again, wait here until the directory is judged, so that memory does not grow with the entry
// count (issue 13): in memory up to VerifyOptions::spill_in_memory (4 MiB: most archives), then in an unlinked temporary file in
// TMPDIR (else /tmp), written through a buffer of 256 KiB and read back through
// io::CachedSource. Where no such file can be made, the bytes stay in memory, as every entry
// did before.
class Spill final : public io::ByteSource {
 public:
  explicit Spill(std::size_t in_memory) : in_memory_(in_memory) {}
  ~Spill() override {
    if (fd_ >= 0) ::close(fd_);
  }
  Spill(const Spill&) = delete;
  Spill& operator=(const Spill&) = delete;
  // Where the next bytes put will be.
  std::uint64_t tell() const { return fd_ < 0 ? mem_.size() : written_ + buf_.size(); }
  void put(const void* p, std::size_t n) {
    auto b = static_cast<const std::uint8_t*>(p);
    if (fd_ < 0) {
      mem_.insert(mem_.end(), b, b + n);
      if (mem_.size() >= in_memory_ && !no_file_) to_file();
      return;
    }
    buf_.insert(buf_.end(), b, b + n);
    if (buf_.size() >= kBuffer) flush();
  }
  void flush() {
    if (fd_ < 0 || buf_.empty()) return;
    write_all(buf_.data(), buf_.size());
    buf_.clear();
  }
  std::uint64_t size() const override { return tell(); }
  // From any thread once the writing is done.
  std::size_t read_some(std::uint64_t offset, std::span<std::uint8_t> buf) override {
    if (fd_ < 0) {
      if (offset >= mem_.size()) return 0;
      const std::size_t n = std::size_t(std::min<std::uint64_t>(buf.size(), mem_.size() - offset));
      std::memcpy(buf.data(), mem_.data() + offset, n);
      return n;
    }
    flush();
    if (offset >= written_ || buf.empty()) return 0;
    for (;;) {
      ssize_t n = ::pread(fd_, buf.data(), std::size_t(std::min<std::uint64_t>(buf.size(), written_ - offset)), off_t(offset));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw io::IoError(fmt::format("cannot read the temporary file in {}: {}", dir_, std::strerror(errno)));
      return std::size_t(n);
    }
  }

 private:
  static constexpr std::size_t kBuffer = 256u << 10;
  void to_file() {
    const char* env = std::getenv("TMPDIR");
    dir_ = env && *env ? env : "/tmp";
    fd_ = ::open(dir_.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd_ < 0) {  // a file system without O_TMPFILE
      std::string name = dir_ + "/zipmedic-XXXXXX";
      fd_ = ::mkostemp(name.data(), O_CLOEXEC);
      if (fd_ >= 0) ::unlink(name.c_str());
    }
    if (fd_ < 0) {
      no_file_ = true;
      return;
    }
    write_all(mem_.data(), mem_.size());
    std::vector<std::uint8_t>().swap(mem_);
    buf_.reserve(kBuffer);
  }
  void write_all(const std::uint8_t* p, std::size_t len) {
    std::size_t done = 0;
    while (done < len) {
      ssize_t n = ::pwrite(fd_, p + done, len - done, off_t(written_ + done));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0)
        throw io::IoError(fmt::format("cannot write the temporary file in {} (set TMPDIR to a directory with room): {}",
                                      dir_, n < 0 ? std::strerror(errno) : "no progress"));
      done += std::size_t(n);
    }
    written_ += len;
  }
  std::size_t in_memory_;
  std::string dir_;
  int fd_ = -1;
  bool no_file_ = false;
  std::uint64_t written_ = 0;
  std::vector<std::uint8_t> mem_, buf_;
};

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

// One walked entry in the spill: every field of scan::Entry in a record of one size; its name,
// the decoder's message and the extra fields and comment are kept apart.
struct Stored {
  std::uint64_t compressed_size = 0, uncompressed_size = 0, lfh_offset = 0, data_offset = 0, end_offset = 0;
  std::uint64_t cut_intact = 0, consumed = 0, produced = 0;
  std::uint64_t text_at = 0;  // name, message, directory extra, comment, local extra
  scan::LocalClaim lfh;
  scan::DataDescriptor descriptor;
  std::uint32_t crc32 = 0, external_attr = 0, disk_start = 0, crc = 0;
  std::uint32_t name_len = 0, error_len = 0, cd_extra_len = 0, comment_len = 0, lfh_extra_len = 0;
  std::uint16_t version_made_by = 0, version_needed = 0, flags = 0, method = 0, mod_time = 0, mod_date = 0;
  std::uint16_t internal_attr = 0;
  codec::DecodeResult::Status decode_status = codec::DecodeResult::Status::ok;
  scan::CryptOutcome crypt = scan::CryptOutcome::not_tried;
  scan::LocalProblem lfh_problem = scan::LocalProblem::none;
  report::EntryStatus status = report::EntryStatus::unchecked;
  std::uint8_t cd_extra_refused_by = 0;
  bool cd_zip64 = false, in_directory = false, cd_extra_malformed = false, has_extras = false;
  bool has_lfh = false, has_descriptor = false, descriptor_cut = false, has_decoded = false, has_cut_intact = false;
  bool next_record_follows = true, extent_known = true, claims_from_directory = false;
};
static_assert(std::is_trivially_copyable_v<Stored>);
// A field added to scan::Entry must be added to Stored, Spilled::keep() and Spilled::entry() too.
static_assert(sizeof(scan::Entry) == 328, "scan::Entry changed: keep Stored in step with it");

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
  explicit Spilled(std::size_t in_memory) : witnesses(in_memory), text(in_memory) {}
  Spill witnesses;  // one Stored record per walked entry, in walk order
  Spill text;       // names and messages, then the directory's records
  std::optional<SpilledRegion> region;

  void keep(const Entry& e) {
    Stored w{};
    w.compressed_size = e.compressed_size;
    w.uncompressed_size = e.uncompressed_size;
    w.lfh_offset = e.lfh_offset;
    w.data_offset = e.data_offset;
    w.end_offset = e.end_offset;
    w.has_cut_intact = e.cut_intact.has_value();
    if (e.cut_intact) w.cut_intact = *e.cut_intact;
    w.has_decoded = e.decoded.has_value();
    if (e.decoded) {
      w.decode_status = e.decoded->status;
      w.consumed = e.decoded->consumed;
      w.produced = e.decoded->produced;
      w.crc = e.decoded->crc;
      w.error_len = std::uint32_t(e.decoded->error.size());
    }
    w.has_lfh = e.lfh.has_value();
    if (e.lfh) w.lfh = *e.lfh;
    w.has_descriptor = e.descriptor.has_value();
    if (e.descriptor) w.descriptor = *e.descriptor;
    w.crc32 = e.crc32;
    w.external_attr = e.external_attr;
    w.disk_start = e.disk_start;
    w.version_made_by = e.version_made_by;
    w.version_needed = e.version_needed;
    w.flags = e.flags;
    w.method = e.method;
    w.mod_time = e.mod_time;
    w.mod_date = e.mod_date;
    w.internal_attr = e.internal_attr;
    w.crypt = e.crypt;
    w.lfh_problem = e.lfh_problem;
    w.status = e.status;
    w.cd_extra_refused_by = e.cd_extra_refused_by;
    w.cd_zip64 = e.cd_zip64;
    w.in_directory = e.in_directory;
    w.cd_extra_malformed = e.cd_extra_malformed;
    w.descriptor_cut = e.descriptor_cut;
    w.next_record_follows = e.next_record_follows;
    w.extent_known = e.extent_known;
    w.claims_from_directory = e.claims_from_directory;
    w.has_extras = e.extras != nullptr;
    w.name_len = std::uint32_t(e.name.size());
    w.cd_extra_len = std::uint32_t(e.cd_extra().size());
    w.comment_len = std::uint32_t(e.comment().size());
    w.lfh_extra_len = std::uint32_t(e.lfh_extra().size());
    w.text_at = text.tell();
    witnesses.put(&w, sizeof w);
    text.put(e.name.data(), e.name.size());
    if (e.decoded) text.put(e.decoded->error.data(), e.decoded->error.size());
    text.put(e.cd_extra().data(), e.cd_extra().size());
    text.put(e.comment().data(), e.comment().size());
    text.put(e.lfh_extra().data(), e.lfh_extra().size());
    offsets_.push_back(e.lfh_offset);
  }
  // Walked entry i (in walk order) as the walk made it.
  Entry entry(std::size_t i) {
    Entry e;
    std::string error;
    const Stored w = stored(i, e.name, &error);
    std::string extras[3];
    std::uint64_t at = w.text_at + w.name_len + w.error_len;
    const std::uint32_t lens[3] = {w.cd_extra_len, w.comment_len, w.lfh_extra_len};
    for (int k = 0; k < 3; ++k) {
      extras[k] = read_text(at, lens[k]);
      at += lens[k];
    }
    if (w.has_extras)
      e.extras = std::make_shared<const Entry::Extras>(Entry::Extras{std::move(extras[0]), std::move(extras[1]), std::move(extras[2])});
    e.compressed_size = w.compressed_size;
    e.uncompressed_size = w.uncompressed_size;
    e.lfh_offset = w.lfh_offset;
    e.data_offset = w.data_offset;
    e.end_offset = w.end_offset;
    if (w.has_cut_intact) e.cut_intact = w.cut_intact;
    if (w.has_decoded) e.decoded = codec::DecodeResult{w.decode_status, w.consumed, w.produced, w.crc, std::move(error)};
    if (w.has_lfh) e.lfh = w.lfh;
    if (w.has_descriptor) e.descriptor = w.descriptor;
    e.crc32 = w.crc32;
    e.external_attr = w.external_attr;
    e.disk_start = w.disk_start;
    e.version_made_by = w.version_made_by;
    e.version_needed = w.version_needed;
    e.flags = w.flags;
    e.method = w.method;
    e.mod_time = w.mod_time;
    e.mod_date = w.mod_date;
    e.internal_attr = w.internal_attr;
    e.crypt = w.crypt;
    e.lfh_problem = w.lfh_problem;
    e.status = w.status;
    e.cd_extra_refused_by = w.cd_extra_refused_by;
    e.cd_zip64 = w.cd_zip64;
    e.in_directory = w.in_directory;
    e.cd_extra_malformed = w.cd_extra_malformed;
    e.descriptor_cut = w.descriptor_cut;
    e.next_record_follows = w.next_record_follows;
    e.extent_known = w.extent_known;
    e.claims_from_directory = w.claims_from_directory;
    return e;
  }
  // The walk is over: the index is sorted (the walk goes forward, so it nearly always is).
  void seal() {
    witnesses.flush();
    text.flush();
    if (!back_) back_ = std::make_unique<Reader>(*this);
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
  // The walked entry at position p of the index: its record, name and message.
  // A thread's own read caches of the spill.
  struct Reader {
    explicit Reader(Spilled& s) : records(s.witnesses, 64u << 10), text(s.text, 64u << 10) {}
    io::CachedSource records, text;
  };
  Stored witness(Reader& rd, std::size_t p, std::string& name, std::string* error) {
    return stored(rd, order_.empty() ? p : order_[p], name, error);
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

  Stored stored(std::size_t i, std::string& name, std::string* error) { return stored(*back_, i, name, error); }
  Stored stored(Reader& rd, std::size_t i, std::string& name, std::string* error) {
    Stored w;
    if (rd.records.read_at(i * sizeof w, {reinterpret_cast<std::uint8_t*>(&w), sizeof w}) < sizeof w)
      throw io::IoError(fmt::format("the temporary file ends inside walked entry {}", i + 1));
    name = read_text(rd, w.text_at, w.name_len);
    if (error) *error = read_text(rd, w.text_at + w.name_len, w.error_len);
    return w;
  }
  std::string read_text(std::uint64_t at, std::uint32_t len) { return read_text(*back_, at, len); }
  std::string read_text(Reader& rd, std::uint64_t at, std::uint32_t len) {
    std::string out(len, '\0');
    if (len && rd.text.read_at(at, {reinterpret_cast<std::uint8_t*>(out.data()), len}) < len)
      throw io::IoError(fmt::format("the temporary file ends inside the text at {}", at));
    return out;
  }
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
  auto sp = std::make_shared<Spilled>(opt.spill_in_memory);
  auto keep_witnesses = [&](const std::vector<Entry>& es) {
    for (const auto& e : es) sp->keep(e);
  };
  scan::ScanOptions so{nullptr, 0, threads};
  if (!opt.keep_entries) {
    so.settle = [&](std::vector<Entry>& done) { keep_witnesses(done); };
    so.settle_every = batch_size;
  }
  codec::Workspace ws;
  auto scan = scan::scan_local(src, ws, so);
  std::uint64_t cd_start = 0, cd_end = 0, dir_at = 0;
  std::size_t forward_count = 0;
  report::Report forward;  // what reading the records as they passed found, if that is used
  if (scan.directory_at) {
    cd_start = *scan.directory_at;
    dir_at = sp->text.tell();
    forward_count = spill_directory_forward(src, cd_start, &cd_end, sp->text, forward);
  }
  src.drain();
  rep.archive_size = src.size();
  if (src.size() == 0) throw CannotProceed(path + ": the stream is empty (0 bytes); it is not a ZIP archive");
  // The end records sit in the last 64 KiB, which the stream's window still holds.
  auto end = scan::locate_end_records(src);
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
  SpilledRegion& region = sp->region.emplace(sp->text, dir_at, cd_start, cd_end - cd_start, src.size());
  std::optional<ForwardRecords> forward_records;
  if (same_reader) {
    for (auto& f : end->findings) rep.add(f);
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
      for (auto& f : end->findings) rep.add(f);
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
    auto rd = std::make_shared<Spilled::Reader>(*sp);
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
        if (!window_witness(src, e))
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
      if (!local_header_is_its_own(e)) return;
      if (w.has_decoded) e.decoded = codec::DecodeResult{w.decode_status, w.consumed, w.produced, w.crc, std::move(error)};
      e.crypt = w.crypt;
      if (w.has_descriptor) e.descriptor = w.descriptor;
      e.descriptor_cut = w.descriptor_cut;
      if (w.has_cut_intact) e.cut_intact = w.cut_intact;
      // The walk saw no scheme it knows in the local header (its AES field damaged, say) where
      // the directory's record names one: without a password a file's verify asks for one
      // without reading the data, and so does this.
      if (!e.decoded && e.crypt == scan::CryptOutcome::not_tried && e.encrypted() && zipcrypt::decodable(e) &&
          !zipcrypt::password())
        e.decoded = zipcrypt::decode(*crypt_ws, src, scan::sized_request(e), e);
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
