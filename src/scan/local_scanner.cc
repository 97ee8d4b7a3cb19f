#include "scan/local_scanner.h"

#include <fmt/format.h>

#include <emmintrin.h>

#include <algorithm>
#include <cstring>
#include <array>
#include <deque>
#include <memory>
#include <optional>
#include <set>
#include <utility>

#include "crypt/zip_crypto.h"
#include "io/worker_pool.h"
#include "scan/end_records.h"

namespace zm::scan {
using codec::DecodeResult;
using report::make_finding;
using Status = DecodeResult::Status;

bool plausible_local_header(const zip::LocalFileHeader& h, std::uint64_t offset, std::uint64_t file_size,
                            bool in_sequence) {
  // 4.4.3: "version needed" is at most 6.3 today; the high byte is the host and is 0 in practice.
  // No reader checks the local value (docs/readers.md, rule 19), so a header found right where
  // the previous entry ended is taken whatever it says; only a search for a header after damage
  // uses it to tell a header from "PK\3\4" inside data.
  if (!in_sequence && ((h.version_needed & 0xFF) > 63 || (h.version_needed >> 8) > 30)) return false;
  static constexpr std::uint16_t kKnown[] = {0, 1, 6, 8, 9, 12, 14, 18, 19, 20, 93, 95, 96, 97, 98, 99};
  bool known = false;
  for (auto m : kKnown) known |= h.method == m;
  if (!known) return false;
  if (h.name_len == 0) return false;
  if (offset + zip::kLocalHeaderLen + h.name_len + h.extra_len > file_size) return true;  // cut: judged later
  return true;
}

namespace {

bool is_record_sig(std::uint32_t s) {
  return s == zip::kLocalSig || s == zip::kCentralSig || s == zip::kEndSig || s == zip::kZip64EndSig;
}

struct StoredEnd {
  std::uint64_t data_end = 0;
  DataDescriptor descriptor;
  std::uint32_t crc = 0;
  bool crc_ok = true;
  // A "PK\7\8" lies inside the data, before the descriptor that ends it (Entry::stored_descriptor_sig_inside).
  bool signature_inside = false;
};

// Bit 3 with stored data (Python's streamed ZIP_STORED): the data has no end of its own, so the
// end is the first place where a descriptor follows whose compressed size equals the distance
// travelled and whose CRC equals the running CRC. A bare "PK\7\8" inside the data fails that
// test and is skipped. Descriptors without signature are tried just before the next record.
//
// Candidates are judged in ascending order of their end, so the running CRC only moves forward:
// a new signature at q adds ends no earlier than q - 20 (the longest descriptor), so everything
// before that can be judged first.
class StoredEndSearch {
 public:
  StoredEndSearch(io::ByteSource& src, std::uint64_t data_offset, bool zip64, std::atomic<std::uint64_t>* progress)
      : src_(src), data_offset_(data_offset), zip64_(zip64), progress_(progress), crc_pos_(data_offset) {}

  std::optional<StoredEnd> run() {
    auto r = search();
    if (r) r->signature_inside = first_descriptor_sig_ < r->data_end;
    return r;
  }

 private:
  std::optional<StoredEnd> search() {
    io::SequentialReader rd(src_, data_offset_);
    std::uint64_t p = data_offset_;
    // A stream learns its size only at its end, so the size is asked for each time.
    while (p + 4 <= src_.size()) {
      auto w = rd.peek(1 << 20);
      if (w.size() < 4) break;
      if (auto r = signatures_in(w, p)) return r;
      p += w.size() - 3;
      rd.seek(p);
      // Damaged data never gives a CRC match, and the search would run to the end of the
      // archive; from a stream, the descriptor whose sizes agreed would be gone by then. So the
      // search gives that one an eighth of the window (at most 16 MiB) to be outdone, then takes it.
      if (sized_only_ && p > sized_only_->data_end + std::min<std::uint64_t>(src_.window() / 8, 16u << 20))
        return sized_only_;
      if (auto r = catch_up(p)) return r;
    }
    // The last entry of an unfinished archive may end with an unsigned descriptor and nothing after.
    for (std::uint64_t len : {20u, 12u})
      if (src_.size() >= data_offset_ + len) pending_.insert({src_.size() - len, false});
    if (auto r = judge_before(~std::uint64_t(0))) return r;
    return sized_only_;
  }

  // The record and descriptor signatures in the window `w` read at `p`.
  std::optional<StoredEnd> signatures_in(std::span<const std::uint8_t> w, std::uint64_t p) {
    const std::uint8_t* base = w.data();
    const std::size_t limit = w.size() - 3;
    for (std::size_t i = 0; i < limit; ++i) {
      const void* hit = std::memchr(base + i, 'P', limit - i);
      if (!hit) break;
      i = std::size_t(static_cast<const std::uint8_t*>(hit) - base);
      if (base[i + 1] != 'K') continue;
      if (auto r = at_signature(zip::load_u32(base + i), p + i)) return r;
    }
    return std::nullopt;
  }

  // A signed descriptor may start at q; a record there may have an unsigned one just before it.
  std::optional<StoredEnd> at_signature(std::uint32_t s, std::uint64_t q) {
    if (s != zip::kDescriptorSig && !is_record_sig(s)) return std::nullopt;
    if (auto r = judge_before(q >= 20 ? q - 20 : 0)) return r;
    if (s == zip::kDescriptorSig) {
      pending_.insert({q, true});
      first_descriptor_sig_ = std::min(first_descriptor_sig_, q);
    }
    else
      for (std::uint64_t len : {20u, 12u})
        if (q >= data_offset_ + len) pending_.insert({q - len, false});
    return std::nullopt;
  }

  // Signatures still to come start at p or later, so their candidates end at p - 20 or later:
  // everything before can be judged now, and the CRC kept close behind (a stream cannot go back).
  std::optional<StoredEnd> catch_up(std::uint64_t p) {
    if (p < data_offset_ + 20) return std::nullopt;
    if (auto r = judge_before(p - 20)) return r;
    crc_up_to(pending_.empty() ? p - 20 : std::min(p - 20, pending_.begin()->first));
    return std::nullopt;
  }

  std::optional<StoredEnd> judge_before(std::uint64_t bound) {
    while (!pending_.empty() && pending_.begin()->first < bound) {
      auto [e, sig] = *pending_.begin();
      pending_.erase(pending_.begin());
      if (auto r = try_end(e, sig)) return r;
    }
    return std::nullopt;
  }

  // Does the data end at `e`, with a descriptor that is signed or not as `want_sig` says?
  std::optional<StoredEnd> try_end(std::uint64_t e, bool want_sig) {
    if (e < crc_pos_) return std::nullopt;
    crc_up_to(e);
    const std::uint64_t dist = e - data_offset_;
    if (auto d = match_descriptor(src_, e, crc_, dist, dist, zip64_); d && d->signature() == want_sig)
      return StoredEnd{e, *d, crc_, true};
    if (!want_sig) return std::nullopt;
    if (auto r = signed_by_crc(e)) return r;
    if (!sized_only_) {
      auto g = read_descriptor_guess(src_, e, zip64_);
      if (g && g->compressed_size == dist && g->uncompressed_size == dist) sized_only_ = StoredEnd{e, *g, crc_, false};
    }
    return std::nullopt;
  }

  // A signed descriptor whose CRC is the running CRC and after which a record starts ends the
  // data even when its size fields were damaged: a 32-bit CRC match at a signature is no
  // accident, and readers with a directory never look at those sizes (docs/readers.md).
  std::optional<StoredEnd> signed_by_crc(std::uint64_t e) {
    auto g = read_descriptor_guess(src_, e, zip64_);
    if (!g || g->crc32 != crc_ || !g->signature()) return std::nullopt;
    std::uint8_t next[4] = {};
    std::size_t n = src_.read_at(e + g->length, next);
    if (n == 0 || (n == 4 && is_record_sig(zip::load_u32(next)))) return StoredEnd{e, *g, crc_, true};
    return std::nullopt;
  }

  // Runs the CRC over the data up to `to`.
  void crc_up_to(std::uint64_t to) {
    while (crc_pos_ < to) {
      std::size_t n = std::size_t(std::min<std::uint64_t>(buf_.size(), to - crc_pos_));
      n = src_.read_at(crc_pos_, {buf_.data(), n});
      if (n == 0) return;
      crc_ = codec::crc32(crc_, {buf_.data(), n});
      crc_pos_ += n;
      if (progress_) *progress_ += n;
    }
  }

  io::ByteSource& src_;
  const std::uint64_t data_offset_;
  const bool zip64_;
  std::atomic<std::uint64_t>* progress_;
  io::PageBuffer buf_{1 << 20};
  std::uint64_t crc_pos_;  // the running CRC covers [data_offset_, crc_pos_)
  std::uint64_t first_descriptor_sig_ = ~std::uint64_t(0);
  std::uint32_t crc_ = 0;
  std::optional<StoredEnd> sized_only_;  // sizes agree but the CRC does not: damaged data
  std::set<std::pair<std::uint64_t, bool>> pending_;  // candidate ends not yet judged: (end, signed)
};

std::optional<StoredEnd> find_stored_end(io::ByteSource& src, std::uint64_t data_offset, bool zip64,
                                         std::atomic<std::uint64_t>* progress) {
  return StoredEndSearch(src, data_offset, zip64, progress).run();
}

// First offset of the 4-byte little-endian signature `sig` in [p, p+n), or n. SSE2 compares the
// first and the last byte of 16 positions at once; random compressed data rarely gets past that.
std::size_t find_signature(const std::uint8_t* p, std::size_t n, std::uint32_t sig) {
  std::size_t i = 0;
  if (n >= 19) {
    const __m128i first = _mm_set1_epi8(char(sig & 0xFF)), last = _mm_set1_epi8(char(sig >> 24));
    for (; i + 19 <= n; i += 16) {
      __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
      __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i + 3));
      unsigned mask = unsigned(_mm_movemask_epi8(_mm_and_si128(_mm_cmpeq_epi8(a, first), _mm_cmpeq_epi8(b, last))));
      while (mask) {
        unsigned bit = unsigned(__builtin_ctz(mask));
        if (zip::load_u32(p + i + bit) == sig) return i + bit;
        mask &= mask - 1;
      }
    }
  }
  for (; i + 4 <= n; ++i)
    if (zip::load_u32(p + i) == sig) return i;
  return n;
}

// A worker's view of an entry held in a stream's ring: one or two pieces (the ring wraps),
// read in place.
class HeldSource final : public io::ByteSource {
 public:
  explicit HeldSource(std::array<std::span<const std::uint8_t>, 2> parts) : parts_(parts) {}
  std::uint64_t size() const override { return parts_[0].size() + parts_[1].size(); }
  std::size_t read_some(std::uint64_t offset, std::span<std::uint8_t> buf) override {
    auto v = view(offset, buf.size());
    std::memcpy(buf.data(), v.data(), v.size());
    return v.size();
  }
  std::span<const std::uint8_t> view(std::uint64_t offset, std::size_t n) override {
    for (auto part : parts_) {
      if (offset < part.size()) return part.subspan(std::size_t(offset), std::min<std::uint64_t>(n, part.size() - offset));
      offset -= part.size();
    }
    return {};
  }

 private:
  std::array<std::span<const std::uint8_t>, 2> parts_;
};

// Below this, handing an entry to a worker (a lock, a wake-up) costs more than decoding it.
constexpr std::uint64_t kMinJob = 16u << 10;
// How far ahead in a file the walk searches for a bit-3 entry's descriptor before it decodes the
// entry itself instead (find_descriptor_candidate).
constexpr std::uint64_t kFileSearchLimit = 64u << 20;

// Decodes entries on the pool's workers while the walk goes on. From a file the workers read the
// bytes themselves; from a stream they decode them in place in the stream's ring, which holds
// them (the walker waits rather than overwrite them) until the worker is done.
class WalkWorkers {
 public:
  WalkWorkers(io::ByteSource& src, unsigned threads, std::uint64_t max_in_flight, std::atomic<std::uint64_t>* progress)
      : src_(src), stream_(dynamic_cast<io::StreamSource*>(&src)), progress_(progress),
        pool_(threads, max_in_flight) {
    workspaces_.resize(pool_.slots());
    // From a stream, an entry is handed to a worker only if the walker can still go back to its
    // start should the search fail (the search and the reader's look-ahead must fit the window);
    // larger ones are decoded inline, as the sequential walk does.
    if (stream_) max_held_ = src.window() / 4;
  }
  ~WalkWorkers() {
    try {
      pool_.close();  // the workers use the jobs and workspaces below
    } catch (...) {  // already unwinding from the walker's own error
    }
  }

  std::uint64_t max_job() const { return stream_ ? max_held_ : ~std::uint64_t(0); }
  // How far ahead the walker may search for a descriptor before it decodes inline instead.
  std::uint64_t search_limit() const { return stream_ ? max_held_ : kFileSearchLimit; }

  // Hands entry `index` (counted from the walk's start) to a worker. False when a stream ended
  // before the entry's bytes did (the caller decodes inline and reports the cut).
  bool submit(std::size_t index, const codec::DecodeRequest& req) {
    std::array<std::span<const std::uint8_t>, 2> held{};
    if (stream_ && req.limit) {
      // Every byte of the entry is read into the ring before a worker sees it.
      if (stream_->view(req.offset + req.limit - 1, 1).empty() || req.offset < stream_->earliest_readable())
        return false;
      stream_->hold(req.offset);
      held = stream_->held_bytes(req.offset, req.limit);
    }
    // A deque: the workers keep the addresses of the jobs queued before this one.
    Job& job = jobs_.emplace_back(Job{this, index, req, held, {}});
    pool_.submit({&WalkWorkers::decode, &job, req.limit});
    return true;
  }

  // Waits for every entry handed over so far and puts its decode result into `entries`, the
  // walk's entries from number `first` on; the workers stay. An I/O error met by a worker is
  // thrown here, on the walker's thread.
  void drain(std::vector<Entry>& entries, std::size_t first) {
    pool_.wait();
    hand_over(entries, first);
  }
  // The same, and the workers end.
  void finish(std::vector<Entry>& entries, std::size_t first) {
    pool_.close();
    hand_over(entries, first);
  }

 private:
  struct Job {
    WalkWorkers* owner;
    std::size_t index;
    codec::DecodeRequest req;
    std::array<std::span<const std::uint8_t>, 2> held;  // from a stream: the entry in its ring
    codec::DecodeResult result;
  };

  static void decode(void* job_ptr, unsigned worker) {
    Job& job = *static_cast<Job*>(job_ptr);
    WalkWorkers& self = *job.owner;
    auto& ws = self.workspaces_[worker];
    if (!ws) ws = std::make_unique<codec::Workspace>();
    job.req.progress = self.progress_;
    if (!self.stream_) {
      job.result = ws->decode(self.src_, job.req);
      return;
    }
    struct Release {  // the ring may move on past the entry however the decode ends
      io::StreamSource* stream;
      const codec::DecodeRequest& req;
      ~Release() {
        if (req.limit) stream->release(req.offset);
      }
    } release{self.stream_, job.req};
    codec::DecodeRequest in_ring = job.req;
    in_ring.offset = 0;
    HeldSource held(job.held);
    job.result = ws->decode(held, in_ring);
  }

  void hand_over(std::vector<Entry>& entries, std::size_t first) {
    for (auto& job : jobs_) entries[job.index - first].decoded = std::move(job.result);
    jobs_.clear();
  }

  io::ByteSource& src_;
  io::StreamSource* stream_;
  std::uint64_t max_held_ = 0;
  std::atomic<std::uint64_t>* progress_;
  std::deque<Job> jobs_;  // handed over since the last drain, in walk order
  std::vector<std::unique_ptr<codec::Workspace>> workspaces_;  // one per worker, made on first use
  io::WorkerPool pool_;
};

// Where a bit-3 entry probably ends without decoding it: the first signed descriptor whose
// compressed size equals the distance from the data start and that is followed by another
// record (or the end of the file). Decoding then confirms it; a false match only costs the
// entry (it is reported damaged), never the walk.
std::optional<DataDescriptor> find_descriptor_candidate(io::ByteSource& src, std::uint64_t data_offset, bool zip64,
                                                        std::uint64_t limit) {
  io::SequentialReader rd(src, data_offset, std::size_t(std::min<std::uint64_t>(1 << 20, limit + 3)));
  std::uint64_t p = data_offset;
  while (p - data_offset < limit) {
    // Never read further ahead than the limit allows: from a stream, the walker must still be
    // able to go back to the entry's start when no descriptor turns up.
    auto w = rd.peek(std::size_t(std::min<std::uint64_t>(1 << 20, limit - (p - data_offset) + 3)));
    if (w.size() < 4) return std::nullopt;
    const std::uint8_t* base = w.data();
    std::size_t len = w.size();
    std::size_t i = 0;
    while (i + 4 <= len) {
      i += find_signature(base + i, len - i, zip::kDescriptorSig);
      if (i + 4 > len) break;
      std::uint64_t q = p + i;
      std::uint8_t b[28];
      std::size_t n = src.read_at(q, b);
      for (bool wide : {zip64, !zip64}) {
        unsigned dlen = wide ? 24 : 16;
        if (n < dlen) continue;
        std::uint64_t comp = wide ? zip::load_u64(b + 8) : zip::load_u32(b + 8);
        if (comp != q - data_offset) continue;
        bool followed = n >= dlen + 4 ? is_record_sig(zip::load_u32(b + dlen)) : n == dlen;
        if (!followed) continue;
        DataDescriptor d;
        d.offset = q;
        d.crc32 = zip::load_u32(b + 4);
        d.compressed_size = comp;
        d.uncompressed_size = wide ? zip::load_u64(b + 16) : zip::load_u32(b + 12);
        d.length = dlen;
        return d;
      }
      ++i;
    }
    p += len - 3;
    rd.seek(p);
  }
  return std::nullopt;
}

}  // namespace

report::Finding eocd_missing_finding(std::uint64_t size, const std::vector<Entry>& walked, std::size_t walked_before,
                                     const std::optional<LastWhole>& earlier) {
  std::optional<LastWhole> last = earlier;
  for (std::size_t i = 0; i < walked.size(); ++i)
    if (walked_whole(walked[i])) last = LastWhole{walked[i].name, walked_before + i + 1, walked[i].end_offset};
  std::string msg = "no central directory or end record after the entries: the archive was cut short or never finished";
  if (last)
    msg += fmt::format("; the last whole entry is '{}' (entry {}, ending at offset {})", report::printable_name(last->name),
                       last->number, last->end);
  else if (!walked.empty() || walked_before)
    msg += "; no entry is whole";
  // Without an end record every reader refuses the archive (7-Zip extracts what it walks, with an
  // error).
  return make_finding(report::Code::eocd_missing, std::nullopt, size, msg, report::refusing(report::kAllReaders));
}

namespace {
// A local header that the end of the file cuts (4.3.7): its known method, and the part of its name
// that is there free of control bytes. "PK\3\4" inside data with a long name length would
// otherwise pass for one, and the walk would end there.
bool cut_header_plausible(io::ByteSource& src, std::uint64_t q) {
  std::uint8_t fixed[zip::kLocalHeaderLen];
  const std::size_t n = src.read_at(q, fixed);
  if (n < 10) return n > 4;
  static constexpr std::uint16_t kKnown[] = {0, 1, 6, 8, 9, 12, 14, 18, 19, 20, 93, 95, 96, 97, 98, 99};
  const std::uint16_t method = zip::local_method(fixed);
  if (std::find(std::begin(kKnown), std::end(kKnown), method) == std::end(kKnown)) return false;
  if (n < zip::kLocalHeaderLen) return true;
  const auto name = src.read_vec(q + zip::kLocalHeaderLen, zip::local_name_len(fixed));
  return std::none_of(name.begin(), name.end(), [](std::uint8_t c) { return c < 0x20; });
}
}  // namespace

bool holds_signature(io::ByteSource& src, std::uint64_t from, std::uint64_t len, std::uint32_t sig) {
  io::SequentialReader rd(src, from);
  for (std::uint64_t p = from, end = from + len; p + 4 <= end;) {
    auto w = rd.peek(std::size_t(std::min<std::uint64_t>(1 << 20, end - p)));
    if (w.size() < 4) return false;
    if (find_signature(w.data(), w.size(), sig) < w.size()) return true;
    p += w.size() - 3;
    rd.seek(p);
  }
  return false;
}

std::uint64_t find_next_record(io::ByteSource& src, std::uint64_t from, std::uint64_t to, bool headers_only) {
  io::SequentialReader rd(src, from);
  std::uint64_t p = from;
  while (p + 4 <= to) {
    auto w = rd.peek(1 << 20);
    if (w.size() < 4) break;
    std::size_t limit = std::min<std::uint64_t>(w.size() - 3, to - p - 3);
    for (std::size_t i = 0; i < limit; ++i) {
      if (w[i] != 'P' || w[i + 1] != 'K') continue;
      std::uint32_t s = zip::load_u32(&w[i]);
      std::uint64_t q = p + i;
      if (s == zip::kLocalSig) {
        bool cut = false;
        auto h = read_local_header(src, q, nullptr, &cut);
        if (h && plausible_local_header(*h, q, src.size())) return q;
        if (cut && cut_header_plausible(src, q)) return q;  // cut by the end of the file: the walk reports it
      } else if (!headers_only && (s == zip::kCentralSig || s == zip::kEndSig || s == zip::kZip64EndSig)) {
        return q;
      }
    }
    p += limit;
    rd.seek(p);
  }
  return to;
}

namespace {

// A bit-3 entry's data decoded up to the descriptor that probably ends it
// (find_descriptor_candidate), by a worker or by the walk itself.
codec::DecodeRequest candidate_request(const Entry& e, const DataDescriptor& cand) {
  codec::DecodeRequest sreq{e.data_offset, cand.offset - e.data_offset, e.method};
  sreq.lzma_eos = e.flags & 2;
  sreq.expected_uncompressed = cand.uncompressed_size;
  // No stop at the descriptor's uncompressed size: it is a claim to check, not a bound. A pipe
  // meets the directory's record only later, and a file's verify decodes against that record;
  // stopping early here would call damaged what the directory and 7-Zip read whole (seed 17,
  // mutant 10695: dd.usize 0 on a 20 KB PPMd entry). The compressed distance bounds it.
  sreq.max_output = 0;
  return sreq;
}

// A catalogue entry of what a local header claims, before its data is looked at.
Entry entry_of_header(zip::LocalFileHeader& lfh, std::uint64_t pos) {
  Entry e;
  e.lfh = local_claim(lfh);
  e.name = std::move(lfh.name);
  e.version_needed = lfh.version_needed;
  e.version_made_by = lfh.version_needed;  // no directory: the local header is all there is
  e.flags = lfh.flags;
  e.method = lfh.method;
  e.mod_time = lfh.mod_time;
  e.mod_date = lfh.mod_date;
  e.crc32 = e.lfh->crc32;
  e.compressed_size = e.lfh->compressed_size;
  e.uncompressed_size = e.lfh->uncompressed_size;
  e.lfh_offset = pos;
  e.data_offset = pos + lfh.header_len();
  if (!lfh.extra.empty()) e.extras = std::make_shared<const Entry::Extras>(Entry::Extras{{}, {}, std::move(lfh.extra)});
  return e;
}

// One walk over the local headers: where it is, what it has found, and the workers decoding
// beside it. run() is the loop; each step handles one kind of record, and each way of finding
// where an entry's data ends (docs/design.md, "The walk") has its own.
struct Walk {
  Walk(io::ByteSource& in, codec::Workspace& w, const ScanOptions& o)
      : input(in), cached(in, 1 << 20, false), src(in.seekable() ? static_cast<io::ByteSource&>(cached) : in), ws(w),
        opt(o) {}

  enum class Step { next, stop };  // go on at `pos`, or end the walk

  ScanResult run() {
    if (!find_first_header()) return std::move(r);
    // Workers need a source they can read on their own: a file, or a stream's ring.
    if (opt.threads > 1 && (input.seekable() || dynamic_cast<io::StreamSource*>(&input)))
      workers.emplace(input, opt.threads, opt.max_in_flight, opt.progress);
    while (pos < size())
      if (step() == Step::stop) break;
    if (workers) workers->finish(r.entries, r.entries_before);
    if (r.stop.empty()) r.stop = pos >= size() ? "end of file after the last entry" : "walk ended";
    return std::move(r);
  }

  // A stream learns its size only at its end, so the size is asked for each time.
  std::uint64_t size() const { return src.size(); }

  // A header right at the start is taken as the walk takes one where an entry ended; a search
  // (past a prefix) needs the stricter test. Bytes skipped are a prefix.
  bool find_first_header() {
    bool cut = false;
    auto h = read_local_header(src, opt.start, nullptr, &cut);
    pos = (h && plausible_local_header(*h, opt.start, size(), true)) || cut ? opt.start
                                                                             : find_next_record(src, opt.start, size(), true);
    if (pos >= size()) {
      r.stop = "no local file header found";
      return false;
    }
    r.found_any_header = true;
    r.archive_start = pos;
    if (pos > opt.start) {
      r.prefix_head.resize(std::size_t(std::min<std::uint64_t>(pos - opt.start, 4096)));
      r.prefix_head.resize(src.read_at(opt.start, r.prefix_head));
      r.findings.push_back(make_finding(report::Code::prefix_bytes, std::nullopt, opt.start,
                                        fmt::format("{} bytes come before the first local header "
                                                    "(a self-extractor stub or other prefix)",
                                                    pos - opt.start)));
    }
    return true;
  }

  // The record at `pos`: a local header, the directory, or something that belongs to no entry.
  Step step() {
    settle_if_due();
    std::uint8_t sigb[4] = {};
    std::size_t n = src.read_at(pos, sigb);
    if (n == 0) return Step::stop;  // the end of the file, right after an entry
    std::uint32_t sig = n == 4 ? zip::load_u32(sigb) : 0;
    if (sig == zip::kCentralSig || sig == zip::kEndSig || sig == zip::kZip64EndSig) {
      if (!r.directory_at) r.directory_at = pos;
      r.stop = fmt::format("central directory or end record at offset {}", pos);
      // Two archives joined (cat a.zip b.zip): the second one's entries follow the first one's
      // directory. A repair looks for them; a scan reports where the first directory is.
      if (!opt.beyond_directory) return Step::stop;
      const std::uint64_t next = find_next_record(src, pos + 4, size(), true);
      if (next >= size()) return Step::stop;
      pos = next;
      return Step::next;
    }
    if (sig != zip::kLocalSig) {
      if (n < 4 && n > 0 && std::memcmp(sigb, "PK", std::min<std::size_t>(n, 2)) == 0) {
        r.stop = fmt::format("the file ends inside a record signature at offset {}", pos);
        r.damaged.push_back({pos, size(), "cut record"});
        return Step::stop;
      }
      // The entry before claimed to end here: nothing after it confirms that.
      if (!r.entries.empty() && r.entries.back().end_offset == pos) {
        r.entries.back().next_record_follows = false;
        if (look_back(r.entries.back())) return Step::next;
      }
      pos = resync(pos, "no record signature where one should start");
      return Step::next;
    }
    std::string why;
    auto lfh = read_local_header(src, pos, &why);
    if (!lfh) return header_cut(why);
    if (!plausible_local_header(*lfh, pos, size(), true)) {
      pos = resync(pos, "a local header signature with impossible fields");
      return Step::next;
    }
    Entry e = entry_of_header(*lfh, pos);
    return walk_entry(e, r.entries_before + r.entries.size());
  }

  // Hands the entries the walk is done with to opt.settle, so that what it holds stays bounded.
  void settle_if_due() {
    if (!opt.settle || r.entries.size() < 2) return;
    // By count, or by the extra fields held: 16,384 local headers with 64 KiB of them each would
    // be a gigabyte.
    if (r.entries.size() <= std::max<std::size_t>(opt.settle_every, 1) && extra_bytes_ < kSettleExtraBytes) return;
    extra_bytes_ = 0;
    if (workers) workers->drain(r.entries, r.entries_before);
    // The last entry stays: the walk may yet learn that no record follows it.
    std::vector<Entry> done(std::make_move_iterator(r.entries.begin()), std::make_move_iterator(r.entries.end() - 1));
    r.entries.erase(r.entries.begin(), r.entries.end() - 1);
    r.entries_before += done.size();
    opt.settle(done);
  }

  // Skips to the next record after damage; the bytes skipped are a damaged stretch.
  std::uint64_t resync(std::uint64_t from, const std::string& why) {
    std::uint64_t next = find_next_record(src, from, size());
    r.damaged.push_back({from, next, why});
    r.findings.push_back(make_finding(report::Code::damaged_stretch, std::nullopt, from,
                                      fmt::format("{} bytes from offset {} to {} belong to no readable entry ({})",
                                                  next - from, from, next, why),
                                      report::refusing(report::kAllReaders)));
    return next;
  }

  // An entry whose extent is in doubt and after whose claimed end no record starts: bytes were
  // deleted or inserted inside its data or header, so its sizes (or the end its stream found)
  // are not where the next entry starts. The next entry is searched for from the damaged entry's
  // own data on, before any size is trusted: the first local header there whose data decodes to
  // its CRC, else the first that is plausible. The damaged entry then ends where it starts.
  bool look_back(Entry& prev) {
    if (workers) workers->drain(r.entries, r.entries_before);
    if (!extent_doubtful(prev)) return false;
    // From just after its signature: its own name and extra lengths may be what was damaged.
    auto next = next_entry_within(std::max(prev.lfh_offset + 4, src.earliest_readable()), pos, false);
    if (!next) return false;
    prev.end_offset = *next;
    prev.next_record_follows = true;
    r.end_of_entries = *next;
    pos = *next;
    return true;
  }

  // Where an entry claimed to end no record starts. Its extent is in doubt when its data did not
  // decode to its CRC, or when its header is malformed: an extra block whose fields do not fill
  // its length (4.5.1) is a length field edited or read from shifted bytes, which moves the data's
  // start, and an empty entry's zero bytes then verify wherever they start (seed 2026, case 387:
  // 200 bytes deleted across an empty entry's extra length, which then took 28 KB of the next
  // entries as its extra block).
  static bool extent_doubtful(const Entry& e) {
    const auto& d = e.decoded;
    const bool verified = d && d->status == Status::ok && d->crc == e.crc32 && d->produced == e.uncompressed_size;
    // Non-empty data that decoded to its CRC pins where it starts, a malformed extra block or not.
    if (e.lfh && e.lfh->extra_malformed && (e.uncompressed_size == 0 || !verified)) return true;
    return d && !verified;
  }

  // The first local header in [from, to) whose entry checks out (confirmed_header). Only those:
  // a stored entry may hold "PK\3\4" and a plausible header (an archive inside the archive, or
  // a file of ZIP signatures), and a walk that took one would report entries that never were.
  std::optional<std::uint64_t> next_entry_within(std::uint64_t from, std::uint64_t to, bool strict) {
    // A header that starts just before `to` has its signature's last bytes at or after it.
    const std::uint64_t end = std::min(size(), to + 3);
    for (std::uint64_t q = from; (q = find_next_record(src, q, end, true)) < to; ++q)
      // From a pipe, decoding a candidate to its end could move the window past it.
      if (!input.seekable() || confirmed_header(q, strict)) return q;
    return std::nullopt;
  }

  // An entry whose data runs to the end of the file by its sizes or its stream (a size field or
  // the data damaged), while whole entries follow inside it: the file is not cut there. The
  // entry (not decoded to its CRC) ends at the first of them, and the walk goes on there.
  bool damaged_not_cut(Entry& e) {
    if (!input.seekable()) return false;
    auto next = next_entry_within(e.lfh_offset + 4, size(), true);
    std::string why = "the data does not end before the next entry";
    if (!next) {
      // An archive repaired in place: the entry was cut short, and the directory and end records
      // appended after its bytes do not list it. Its data stops where that directory starts.
      next = directory_inside(e);
      if (!next) return false;
      why = fmt::format("the data runs into the central directory at offset {} (an entry cut short before a "
                        "directory was appended after it, as an in-place repair leaves it, or a damaged size)",
                        *next);
    }
    DecodeResult d = e.decoded.value_or(DecodeResult{});
    d.status = Status::corrupt;
    d.error = why;
    e.decoded = d;
    e.end_offset = *next;
    r.end_of_entries = *next;
    pos = *next;
    r.entries.push_back(std::move(e));
    return true;
  }

  // Where the directory that the end records describe starts, when that is inside entry `e`.
  std::optional<std::uint64_t> directory_inside(const Entry& e) {
    if (!end_records) end_records = locate_end_records(src);
    const auto& end = *end_records;
    if (!end || end->disks || end->cd_start <= e.data_offset || end->cd_start >= size()) return std::nullopt;
    std::uint8_t sig[4] = {};
    if (src.read_at(end->cd_start, sig) != 4) return std::nullopt;
    const std::uint32_t s = zip::load_u32(sig);
    if (s != zip::kCentralSig && s != zip::kZip64EndSig && s != zip::kEndSig) return std::nullopt;
    return end->cd_start;
  }

  // A local header at `q` whose entry checks out: its data decodes to its CRC and sizes (and a
  // bit-3 entry's descriptor agrees), or, unless `strict`, it cannot be decoded here (a method or
  // encryption the walk does not decode, or data cut by the end of the file: the walk reports it).
  bool confirmed_header(std::uint64_t q, bool strict) {
    bool cut = false;
    auto h = read_local_header(src, q, nullptr, &cut);
    if (cut) return !strict;
    if (!h || !plausible_local_header(*h, q, size())) return false;
    Entry c = entry_of_header(*h, q);
    if (c.encrypted() || !codec::method_supported(c.method)) return !strict;
    if (!c.has_descriptor_flag()) {
      if (c.data_offset + c.compressed_size > size()) return !strict;
      auto d = ws.decode(src, sized_request(c));
      return d.status == Status::ok && d.crc == c.crc32 && d.produced == c.uncompressed_size;
    }
    if (!codec::method_self_terminating(c.method)) {
      auto end = find_stored_end(src, c.data_offset, c.lfh->zip64, nullptr);
      return end && end->crc_ok;
    }
    codec::DecodeRequest req{c.data_offset, size() - c.data_offset, c.method};
    req.lzma_eos = c.flags & 2;
    auto d = ws.decode(src, req);
    if (d.status == Status::truncated) return !strict;
    return d.status == Status::ok &&
           match_descriptor(src, c.data_offset + d.consumed, d.crc, d.consumed, d.produced, c.lfh->zip64).has_value();
  }

  // The file ends inside a local header. Still an entry that was lost: keep what its header
  // shows of the name.
  Step header_cut(const std::string& why) {
    // A name or extra length damaged (a byte inserted inside the header) can make a header run
    // past the end of the file while whole entries follow: then it is damage, not a cut.
    if (input.seekable())
      if (auto next = next_entry_within(pos + 4, size(), true)) {
        r.damaged.push_back({pos, *next, "a local header whose name or extra field runs past the end of the file"});
        r.findings.push_back(make_finding(report::Code::damaged_stretch, std::nullopt, pos,
                                          fmt::format("{} bytes from offset {} to {} belong to no readable entry (a "
                                                      "local header whose name or extra field runs past the end of "
                                                      "the file, and whole entries after it)",
                                                      *next - pos, pos, *next),
                                          report::refusing(report::kAllReaders)));
        pos = *next;
        return Step::next;
      }
    Entry cut;
    cut.lfh_offset = pos;
    cut.status = report::EntryStatus::truncated;
    if (size() - pos > zip::kLocalHeaderLen) {
      std::uint8_t fixed[zip::kLocalHeaderLen];
      src.read_at(pos, fixed);
      auto nb = src.read_vec(pos + zip::kLocalHeaderLen, zip::local_name_len(fixed));
      cut.name.assign(nb.begin(), nb.end());
      cut.method = zip::local_method(fixed);
    }
    r.cut_entry = r.entries_before + r.entries.size();
    const std::size_t number = *r.cut_entry + 1;
    r.entries.push_back(std::move(cut));
    r.findings.push_back(make_finding(report::Code::entry_truncated, std::nullopt, pos,
                                      fmt::format("entry {}: {}", number, why), report::refusing(report::kAllReaders)));
    r.stop = fmt::format("the file ends inside the local header of entry {} at offset {}", number, pos);
    r.damaged.push_back({pos, size(), "cut local header"});
    return Step::stop;
  }

  // Entry `index` (counted from the walk's start): where its data ends, by the way its flags,
  // method and encryption allow.
  Step walk_entry(Entry& e, std::size_t index) {
    if (skip_unwanted(e)) return Step::next;
    // An encrypted entry is decoded when a password was given, except stored data with bit 3,
    // whose end a walk finds by the CRC of the bytes (here ciphertext).
    // The method under the encryption (WinZip AES names it in its extra field).
    const std::uint16_t method = zipcrypt::scheme_of(crypt_fields(e)).method;
    if (e.encrypted() && zipcrypt::decodable(crypt_fields(e)) && e.has_descriptor_flag() &&
        (!opt.password || !codec::method_self_terminating(method))) {
      if (encrypted_to_descriptor(e)) return Step::next;
    }
    const bool locked = e.encrypted() && (!opt.password || (e.has_descriptor_flag() &&
                                                                    !codec::method_self_terminating(method)));
    if (!zipcrypt::decodable(crypt_fields(e)) || locked) {
      if (e.encrypted() && zipcrypt::decodable(crypt_fields(e)) && !opt.password) e.crypt = CryptOutcome::no_password;
      undecoded(e);
      return Step::next;
    }
    if (!e.has_descriptor_flag()) return by_sizes(e, index);
    if (!codec::method_self_terminating(method)) return stored_to_descriptor(e, index);
    return self_terminating(e, index);
  }

  // The data's claimed extent lies inside the file. A ZIP64 size may be anything up to 2^64 - 1.
  bool fits(const Entry& e) const { return e.data_offset <= size() && e.compressed_size <= size() - e.data_offset; }

  // An entry no pattern selected is not decoded when its header gives its sizes (bit 3 clear) and
  // a record signature, or the end of the file, is where they say it ends. Otherwise the walk
  // needs its data to find the end (a descriptor, or sizes that damage made wrong) and decodes it
  // as any other. A pipe cannot come back to decode what it skipped, so there only entries well
  // inside its window are skipped.
  bool skip_unwanted(Entry& e) {
    if (!opt.wanted || opt.wanted(e.name) || e.has_descriptor_flag()) return false;
    if (!src.seekable() && e.compressed_size > src.window() / 4) return false;
    if (!fits(e)) return false;
    const std::uint64_t end = e.data_offset + e.compressed_size;
    std::uint8_t sig[4] = {};
    const std::size_t n = src.read_at(end, sig);
    if (n == 4 ? !is_record_sig(zip::load_u32(sig)) : n != 0 || end != size()) return false;
    e.end_offset = end;
    e.data_skipped = true;
    if (opt.progress) *opt.progress += e.compressed_size;
    keep(e);
    return true;
  }

  // Encrypted data with bit 3 that is not decoded (no password) or is stored (Info-ZIP -P,
  // bsdtar): the CRC of ciphertext finds nothing, so the end is a signed descriptor whose
  // compressed size is the distance to it (else its PK\7\8 would read as bytes of no entry).
  bool encrypted_to_descriptor(Entry& e) {
    const std::uint64_t reach = src.seekable() ? size() - e.data_offset : src.window() / 2;
    auto cand = find_descriptor_candidate(src, e.data_offset, e.lfh->zip64, reach);
    if (!cand) return false;
    codec::DecodeRequest req{e.data_offset, cand->offset - e.data_offset, e.method};
    req.expected_uncompressed = cand->uncompressed_size;
    req.max_output = 0;  // the descriptor's size is a claim to check (see candidate_request)
    req.progress = opt.progress;
    if (opt.password) e.decoded = decode_data(ws, src, req, e, opt.password);
    else e.crypt = CryptOutcome::no_password;
    end_at(e, *cand);
    return true;
  }

  // The data cannot be decoded; its end is known only from the sizes in the header, or with bit 3
  // from the next record signature.
  void undecoded(Entry& e) {
    if (!e.has_descriptor_flag() && fits(e))
      e.end_offset = e.data_offset + e.compressed_size;
    else
      e.end_offset = find_next_record(src, e.data_offset, size());
    keep(e);
  }

  // Sizes in the header (bit 3 clear): checked by decoding exactly that many bytes.
  Step by_sizes(Entry& e, std::size_t index) {
    auto req = sized_request(e);
    req.progress = opt.progress;
    // Past the end of the file, it ends there (a ZIP64 size near 2^64 would wrap to an earlier
    // offset: the walk went back and round, and a worker was handed a job it counted as ~2^64
    // bytes in flight).
    e.end_offset = fits(e) ? e.data_offset + e.compressed_size : std::max(size(), e.data_offset) + 1;
    if (workers && !e.encrypted() && e.compressed_size >= kMinJob && e.compressed_size <= workers->max_job() &&
        e.end_offset <= size() && workers->submit(index, req))
      return keep(e);
    auto d = decode_data(ws, src, req, e, opt.password);
    e.decoded = d;
    if ((d.status == Status::truncated || (d.status != Status::ok && e.end_offset > size())) && damaged_not_cut(e))
      return Step::next;
    if (d.status == Status::truncated) {
      std::uint64_t present = size() - e.data_offset;
      return cut_inside(e, index, e.method == zip::kStored ? present : d.produced,
                        fmt::format("{} of {} compressed bytes present", present, e.compressed_size));
    }
    return keep(e);
  }

  // Bit 3 with stored data: find_stored_end.
  Step stored_to_descriptor(Entry& e, std::size_t index) {
    auto end = find_stored_end(src, e.data_offset, e.lfh->zip64, opt.progress);
    if (!end) {
      if (damaged_not_cut(e)) return Step::next;
      return cut_inside(e, index, size() - e.data_offset, "no data descriptor follows the stored data");
    }
    e.descriptor = end->descriptor;
    e.crc32 = end->descriptor.crc32;
    e.compressed_size = e.uncompressed_size = end->data_end - e.data_offset;
    e.end_offset = end->data_end + end->descriptor.length;
    e.stored_descriptor_sig_inside = end->signature_inside;
    DecodeResult d;
    d.consumed = d.produced = e.compressed_size;
    d.crc = end->crc;
    e.decoded = d;
    return keep(e);
  }

  // Bit 3 with a self-terminating codec: handed to a worker up to the descriptor that probably
  // ends it, or decoded here to the end of the stream, after which the descriptor layout that
  // agrees with what was counted is taken.
  Step self_terminating(Entry& e, std::size_t index) {
    if (workers && !e.encrypted() && to_worker_up_to_candidate(e, index)) return Step::next;
    codec::DecodeRequest req{e.data_offset, size() - e.data_offset, e.method};
    req.lzma_eos = e.flags & 2;
    req.expected_uncompressed = e.uncompressed_size;
    req.progress = opt.progress;
    auto d = decode_data(ws, src, req, e, opt.password);
    e.decoded = d;
    if ((d.status == Status::truncated || d.status == Status::overrun) && damaged_not_cut(e)) return Step::next;
    if (d.status == Status::truncated || d.status == Status::overrun)
      return cut_inside(e, index, d.produced, fmt::format("the compressed stream is cut after {} bytes", d.consumed));
    if (d.status != Status::ok && input.seekable() && !e.encrypted() && damaged_up_to_candidate(e)) return Step::next;
    // Encrypted with bit 3 and the password failed (its check byte, or the 1 in 256 that passes
    // the check and then decodes to nothing): the end is the signed descriptor, as without a
    // password, so a wrong password is one finding and not a damaged stretch per entry.
    if (d.status != Status::ok && e.encrypted() && password_failed(e)) return Step::next;
    if (d.status != Status::ok) {
      const std::uint64_t data_offset = e.data_offset;
      // The header itself may be what was damaged (its name and extra lengths), with the next
      // entry inside what they claim.
      auto inside = next_entry_within(std::max(e.lfh_offset + 4, src.earliest_readable()), data_offset + 1, false);
      r.entries.push_back(std::move(e));
      // The next header may hide anywhere after the damaged entry's start; a stream can only
      // look back over what it still holds.
      pos = inside ? *inside
                   : resync(std::max(data_offset + 1, src.earliest_readable()), fmt::format("damaged data of entry {}", index + 1));
      return Step::next;
    }
    return descriptor_after(e, index, d);
  }

  bool password_failed(Entry& e) {
    const std::uint64_t reach = src.seekable() ? size() - e.data_offset : src.window() / 2;
    auto cand = find_descriptor_candidate(src, e.data_offset, e.lfh->zip64, reach);
    if (!cand) return false;
    end_at(e, *cand);
    return true;
  }

  bool to_worker_up_to_candidate(Entry& e, std::size_t index) {
    auto cand = find_descriptor_candidate(src, e.data_offset, e.lfh->zip64, workers->search_limit());
    if (!cand) return false;
    auto sreq = candidate_request(e, *cand);
    if (sreq.limit < kMinJob || sreq.limit > workers->max_job() || !workers->submit(index, sreq)) return false;
    end_at(e, *cand);
    return true;
  }

  // Damaged data that a worker would have been given up to a descriptor (an entry of kMinJob
  // bytes or more): the walk ends it there too, so that a scan says the same on one thread as on
  // two (the bytes are the entry's, not a damaged stretch).
  bool damaged_up_to_candidate(Entry& e) {
    auto cand = find_descriptor_candidate(src, e.data_offset, e.lfh->zip64, kFileSearchLimit);
    if (!cand || cand->offset - e.data_offset < kMinJob) return false;
    auto sreq = candidate_request(e, *cand);
    sreq.progress = opt.progress;
    e.decoded = ws.decode(src, sreq);
    end_at(e, *cand);
    return true;
  }

  // The descriptor after data decoded to its end (4.3.9): the layout that agrees with what was
  // counted, else the one the writer most likely used.
  Step descriptor_after(Entry& e, std::size_t index, const DecodeResult& d) {
    const bool zip64 = e.lfh->zip64;
    std::uint64_t data_end = e.data_offset + d.consumed;
    auto desc = match_descriptor(src, data_end, d.crc, d.consumed, d.produced, zip64);
    // A wrong password that passed the check by chance decodes garbage, which now and then ends
    // as a stream (about 1 scan in 20 of 400 ZipCrypto entries): no descriptor agrees with it
    // there, and the end is the signed descriptor, as when the check fails. Under the right
    // password it is damaged data or a damaged descriptor, and that descriptor is still the
    // likeliest end; the CRC the judge compares is the decoded one either way.
    if (!desc && e.encrypted() && password_failed(e)) return Step::next;
    e.compressed_size = d.consumed;
    e.uncompressed_size = d.produced;
    if (!desc) {
      // A descriptor there whose compressed size is what the stream took is this entry's, its
      // data damaged; one that says otherwise is another stream's.
      auto guess = read_descriptor_guess(src, data_end, zip64);
      if (guess && guess->compressed_size != d.consumed && ends_at_whole_entry_inside(e, data_end)) return Step::next;
      desc = guess;
    }
    if (!desc) return cut_inside(e, index, std::nullopt, "the file ends inside its data descriptor");
    e.descriptor = desc;
    e.crc32 = desc->crc32;
    e.end_offset = data_end + desc->length;
    return keep(e);
  }

  // A stream that decoded but whose descriptor's compressed size is not what it took may have run
  // on through bytes that are not its own: a download resumed at the wrong offset repeats a range,
  // and the repeated local headers decode as Deflate data (fuzz-repair seed 31, case 1003:
  // Info-ZIP's records.jsonl took the next three entries' copies). A whole entry inside what it took ends it
  // there, unread; only one whose data decodes to its CRC counts (an archive stored inside an
  // entry holds headers too).
  bool ends_at_whole_entry_inside(Entry& e, std::uint64_t data_end) {
    if (!input.seekable()) return false;
    auto inside = next_entry_within(e.data_offset, data_end, true);
    if (!inside) return false;
    e.compressed_size = *inside - e.data_offset;
    e.end_offset = *inside;
    e.decoded->status = Status::overrun;
    e.decoded->consumed = e.compressed_size;
    keep(e);
    return true;
  }

  // The entry ends where the descriptor `cand` ends.
  void end_at(Entry& e, const DataDescriptor& cand) {
    e.descriptor = cand;
    e.crc32 = cand.crc32;
    e.compressed_size = cand.compressed_size;
    e.uncompressed_size = cand.uncompressed_size;
    e.end_offset = cand.offset + cand.length;
    keep(e);
  }

  // The entry's extent is known: the walk goes on after it.
  Step keep(Entry& e) {
    extra_bytes_ += e.lfh_extra().size();
    r.end_of_entries = e.end_offset;
    pos = e.end_offset;
    r.entries.push_back(std::move(e));
    return Step::next;
  }

  // The walk ends inside this entry: the judge reports it (entry_truncated), the walk says where.
  Step cut_inside(Entry& e, std::size_t index, std::optional<std::uint64_t> intact, const std::string& what) {
    if (intact) e.cut_intact = *intact;
    else e.descriptor_cut = true;
    r.cut_entry = index;
    r.cut_intact_bytes = intact.value_or(e.compressed_size);
    r.stop = fmt::format("end of file inside entry {} ({}: {}) at offset {}", index + 1, report::printable_name(e.name),
                         what, size());
    r.damaged.push_back({e.lfh_offset, size(), "cut entry"});
    r.entries.push_back(std::move(e));
    return Step::stop;
  }

  io::ByteSource& input;
  // The walk reads headers, descriptors and small entries through a read cache (a file's
  // 200,000 tiny entries would otherwise cost several system calls each); a stream keeps its
  // own window. Workers read `input` themselves.
  io::CachedSource cached;
  io::ByteSource& src;
  codec::Workspace& ws;
  const ScanOptions& opt;
  ScanResult r;
  std::uint64_t pos = 0;  // where the next record should start
  std::optional<WalkWorkers> workers;  // with ScanOptions::threads above 1
  static constexpr std::uint64_t kSettleExtraBytes = 4u << 20;
  std::uint64_t extra_bytes_ = 0;  // local extra fields held since the last settling
  std::optional<std::optional<EndRecords>> end_records;  // located when a cut entry needs them
};

}  // namespace

ScanResult scan_local(io::ByteSource& input, codec::Workspace& ws, const ScanOptions& opt) {
  return Walk(input, ws, opt).run();
}

}  // namespace zm::scan
