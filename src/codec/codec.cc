#include "codec/codec.h"

#include <archive.h>
#include <bzlib.h>
#include <isa-l/crc.h>
#include <isa-l/igzip_lib.h>
#include <lzma.h>
#include <zlib.h>
#include <zstd.h>

#include <cstring>

#include "zip/records.h"

namespace zm::codec {
namespace {
constexpr std::size_t kInBuf = 256 << 10;
constexpr std::size_t kOutBuf = 256 << 10;
// Deflate streams up to this size are decoded in one call (inflate_whole).
constexpr std::size_t kSmallDeflate = 16 << 10;
using Status = DecodeResult::Status;

// How a method's messages name its stream ("the file ends inside the zstd frame").
struct Words {
  const char* stream;
  // bzip2's and LZMA's messages give neither the compressed size nor the cap; restore prints
  // these texts, so they stay as they were.
  bool sizes = true;
};

// What every decoder shares: the entry's compressed bytes taken piece by piece within `limit`,
// the output counted, CRC'd, handed to the sink and held to `max_output`, and the result: a
// stream that does not end is truncated when the file ran out first and an overrun when the
// entry's compressed size did.
class Feed {
 public:
  Feed(io::ByteSource& src, const DecodeRequest& req, io::PageBuffer& buf) : src_(src), req_(req), buf_(buf) {}

  const DecodeRequest& request() const { return req_; }
  io::ByteSource& source() { return src_; }
  std::uint64_t fed() const { return fed_; }
  // The source or the entry's limit ran out: pull() gives nothing more.
  bool ended() const { return ended_; }
  std::uint64_t produced() const { return r_.produced; }
  bool capped() const { return req_.max_output && r_.produced > req_.max_output; }

  // The next piece of compressed input, up to a buffer's worth; empty once ended().
  std::span<const std::uint8_t> pull() {
    if (ended_) return {};
    auto p = piece(fed_, std::size_t(std::min<std::uint64_t>(buf_.size(), req_.limit - fed_)), ended_);
    took(p.size());
    return p;
  }
  // `want` bytes from `from` on without taking them; `ended` is set when the source has fewer.
  std::span<const std::uint8_t> piece(std::uint64_t from, std::size_t want, bool& ended) {
    if (want == 0) {
      ended = true;
      return {};
    }
    // Only a whole piece is lent: a view may be shorter than asked (a read cache or a ring ends
    // there), and a decoder fed pieces of varying length reports a failure at a different point
    // (zstd: "after 4039 bytes" from a file, "after 6836" through a pipe). Same bytes, same words.
    if (auto v = src_.view(req_.offset + from, want); v.size() == want) return v;
    std::size_t n = src_.read_at(req_.offset + from, {buf_.data(), want});
    if (n < want) ended = true;
    return {buf_.data(), n};
  }
  // Input read other than through pull() (a header) counts as fed.
  void took(std::size_t n) {
    fed_ += n;
    if (req_.progress) *req_.progress += n;
  }

  // Hands decoded bytes on; false once the output passes the cap.
  bool push(std::span<const std::uint8_t> out) {
    if (!out.empty()) r_.crc = crc32(r_.crc, out);
    return emit(out);
  }
  // The same for a decoder that computes the CRC itself, while the output is in cache.
  bool push(std::span<const std::uint8_t> out, std::uint32_t crc) {
    r_.crc = crc;
    return emit(out);
  }

  DecodeResult ok(std::uint64_t consumed) { return finish(consumed, Status::ok, {}); }
  DecodeResult failed(Status st, std::string why, std::uint64_t consumed = 0) {
    return finish(consumed, st, std::move(why));
  }
  DecodeResult corrupt(std::uint64_t consumed, std::string why) {
    return finish(consumed, Status::corrupt, std::move(why));
  }
  DecodeResult over_cap(std::uint64_t consumed, const Words& w) {
    return finish(consumed, Status::overrun,
                  w.sizes ? "decoded output exceeds " + std::to_string(req_.max_output) + " bytes"
                          : "decoded output exceeds the expected size");
  }
  // The stream has no end in what there is.
  DecodeResult cut(std::uint64_t consumed, const Words& w) {
    if (fed_ < req_.limit) return finish(consumed, Status::truncated, std::string("the file ends inside the ") + w.stream);
    return finish(consumed, Status::overrun,
                  std::string("the ") + w.stream + " does not end within its " +
                      (w.sizes ? std::to_string(req_.limit) + " compressed bytes" : "compressed size"));
  }

 private:
  bool emit(std::span<const std::uint8_t> out) {
    if (!out.empty()) {
      r_.produced += out.size();
      if (req_.sink) req_.sink(out);
    }
    return !capped();
  }
  DecodeResult finish(std::uint64_t consumed, Status st, std::string why) {
    r_.consumed = consumed;
    r_.status = st;
    r_.error = std::move(why);
    return std::move(r_);
  }

  io::ByteSource& src_;
  const DecodeRequest& req_;
  io::PageBuffer& buf_;
  std::uint64_t fed_ = 0;
  bool ended_ = false;
  DecodeResult r_;
};

// What a decoder's step did, and how much input it has taken: at `end`, the exact length of the
// stream. `capped`: the decoder stopped itself when Feed::push said the output passed the cap.
enum class Then { more, end, corrupt, cut, capped };
struct Step {
  Then then;
  std::uint64_t consumed;
};

// The one feed loop. A decoder supplies
//   static constexpr Words kWords;
//   std::optional<DecodeResult> start(Feed&);   set up; Feed::failed() when it cannot
//   Step step(Feed&);    decode some input, pulling a piece when it has none left, pushing the
//                        output it made (end, corruption and cuts it knows are its to say)
//   std::string rejected(std::uint64_t produced) const;   why, after Then::corrupt
// and ends its library's state in its destructor.
template <class Decoder>
DecodeResult run(Feed& f, Decoder& d) {
  if (auto refused = d.start(f)) return std::move(*refused);
  for (;;) {
    const std::uint64_t before = f.produced();
    const Step s = d.step(f);
    switch (s.then) {
      case Then::end: return f.ok(s.consumed);
      case Then::corrupt: return f.corrupt(s.consumed, d.rejected(f.produced()));
      case Then::cut: return f.cut(s.consumed, Decoder::kWords);
      case Then::capped: return f.over_cap(s.consumed, Decoder::kWords);
      case Then::more: break;
    }
    if (f.capped()) return f.over_cap(s.consumed, Decoder::kWords);
    // All input taken, none left to pull and no output made: the stream has no end here.
    if (s.consumed == f.fed() && f.ended() && f.produced() == before) return f.cut(s.consumed, Decoder::kWords);
  }
}

// Stored data is its own output: copied in buffer-sized pieces, with no decoder to stop it and
// no cap (its size is the compressed size).
DecodeResult copy_stored(Feed& f) {
  while (f.fed() < f.request().limit) {
    f.push(f.pull());
    if (f.ended()) return f.failed(Status::truncated, "the file ends inside the stored data", f.fed());
  }
  return f.ok(f.fed());
}

// A small entry in one piece goes through zlib, the decoder most readers use: ISA-L copies a
// table of some 20 KiB for every fixed-Huffman block, which is how small files are written, and a
// million tiny entries spent a fifth of their time in that copy. zlib's rejection is not final:
// the stream is decoded again by ISA-L, which says where and why it fails.
std::optional<DecodeResult> inflate_whole(Feed& f, z_stream& z, bool& z_ready, io::PageBuffer& out) {
  const std::uint64_t limit = f.request().limit;
  if (limit > kSmallDeflate) return std::nullopt;
  bool ended = false;
  auto whole = f.piece(0, std::size_t(limit), ended);
  if (whole.size() != limit) return std::nullopt;
  if (!z_ready) {
    if (inflateInit2(&z, -15) != Z_OK) throw std::bad_alloc();
    z_ready = true;
  } else {
    inflateReset(&z);
  }
  z.next_in = const_cast<Bytef*>(whole.data());
  z.avail_in = uInt(whole.size());
  z.next_out = out.data();
  z.avail_out = uInt(out.size());
  if (inflate(&z, Z_FINISH) != Z_STREAM_END) return std::nullopt;
  const std::size_t got = out.size() - z.avail_out;
  if (f.request().max_output && got > f.request().max_output) return std::nullopt;
  f.push({out.data(), got});
  f.took(whole.size());
  return f.ok(whole.size() - z.avail_in);
}

// Deflate on ISA-L, with the gzip CRC-32 (the same polynomial as ZIP's) computed inside the
// decoder while the output is still in cache; no gzip header or trailer is read.
struct IsalInflate {
  static constexpr Words kWords{"deflate stream"};
  inflate_state& st;
  io::PageBuffer& out;
  int ret = 0;

  std::optional<DecodeResult> start(Feed&) {
    isal_inflate_init(&st);
    st.crc_flag = ISAL_GZIP_NO_HDR;
    return std::nullopt;
  }
  Step step(Feed& f) {
    if (st.avail_in == 0 && !f.ended()) {
      auto in = f.pull();
      st.next_in = const_cast<std::uint8_t*>(in.data());  // ISA-L only reads through next_in
      st.avail_in = std::uint32_t(in.size());
    }
    st.next_out = out.data();
    st.avail_out = std::uint32_t(out.size());
    ret = isal_inflate(&st);
    f.push({out.data(), out.size() - st.avail_out}, st.crc);
    const std::uint64_t consumed = f.fed() - st.avail_in;
    if (ret < 0) return {Then::corrupt, consumed};
    // ISA-L keeps up to 8 bytes of look-ahead in its bit buffer; whole bytes left there were
    // never part of the stream, so they are given back to find the exact end of the data.
    if (st.block_state == ISAL_BLOCK_FINISH) return {Then::end, consumed - std::uint64_t(st.read_in_length / 8)};
    return {Then::more, consumed};
  }
  std::string rejected(std::uint64_t produced) const {
    return (ret == ISAL_INVALID_BLOCK     ? std::string("invalid deflate block")
            : ret == ISAL_INVALID_SYMBOL  ? std::string("invalid deflate symbol")
            : ret == ISAL_INVALID_LOOKBACK ? std::string("invalid deflate back-reference distance")
                                           : "deflate stream rejected (code " + std::to_string(ret) + ")") +
           " after " + std::to_string(produced) + " bytes of output";
  }
};

struct Bunzip2 {
  static constexpr Words kWords{"bzip2 stream", false};
  io::PageBuffer& out;
  bz_stream bz{};
  bool open = false;
  int ret = BZ_OK;

  ~Bunzip2() {
    if (open) BZ2_bzDecompressEnd(&bz);
  }
  std::optional<DecodeResult> start(Feed& f) {
    open = BZ2_bzDecompressInit(&bz, 0, 0) == BZ_OK;
    if (!open) return f.failed(Status::corrupt, "bzip2 decoder could not start");
    return std::nullopt;
  }
  Step step(Feed& f) {
    if (bz.avail_in == 0 && !f.ended()) {
      auto in = f.pull();
      bz.next_in = reinterpret_cast<char*>(const_cast<std::uint8_t*>(in.data()));  // bzlib only reads it
      bz.avail_in = unsigned(in.size());
    }
    bz.next_out = reinterpret_cast<char*>(out.data());
    bz.avail_out = unsigned(out.size());
    ret = BZ2_bzDecompress(&bz);
    f.push({out.data(), out.size() - bz.avail_out});
    const std::uint64_t consumed = f.fed() - bz.avail_in;
    if (ret == BZ_STREAM_END) return {Then::end, consumed};
    if (ret != BZ_OK) return {Then::corrupt, consumed};
    return {Then::more, consumed};
  }
  std::string rejected(std::uint64_t) const { return "bzip2 stream rejected (code " + std::to_string(ret) + ")"; }
};

// liblzma's step, shared by LZMA (method 14) and xz (method 95), which differ in how they start
// and what they say.
struct Liblzma {
  io::PageBuffer& out;
  lzma_stream ls = LZMA_STREAM_INIT;
  bool open = false;
  lzma_ret ret = LZMA_OK;

  explicit Liblzma(io::PageBuffer& o) : out(o) {}
  ~Liblzma() {
    if (open) lzma_end(&ls);
  }
  Step step(Feed& f) {
    if (ls.avail_in == 0 && !f.ended()) {
      auto in = f.pull();
      ls.next_in = in.data();
      ls.avail_in = in.size();
    }
    ls.next_out = out.data();
    ls.avail_out = out.size();
    ret = lzma_code(&ls, f.ended() && ls.avail_in == 0 ? LZMA_FINISH : LZMA_RUN);
    f.push({out.data(), out.size() - ls.avail_out});
    const std::uint64_t consumed = f.fed() - ls.avail_in;
    if (ret == LZMA_STREAM_END) return {Then::end, consumed};
    // liblzma's "no progress possible": the input ran out before the stream's end.
    if (ret == LZMA_BUF_ERROR) return {Then::cut, consumed};
    if (ret != LZMA_OK) return {Then::corrupt, consumed};
    return {Then::more, consumed};
  }
};

struct LzmaAlone : Liblzma {
  static constexpr Words kWords{"LZMA stream", false};
  std::uint8_t alone[13];
  using Liblzma::Liblzma;

  // 4.4.5/5.8: ZIP's LZMA data starts with version (2 bytes), properties size (2 bytes) and the
  // 5-byte properties. liblzma's .lzma ("alone") decoder takes properties + 8-byte size, so that
  // header is rebuilt and the raw stream follows it.
  std::optional<DecodeResult> start(Feed& f) {
    const DecodeRequest& req = f.request();
    std::uint8_t head[9];
    if (req.limit < 9 || f.source().read_at(req.offset, head) < 9)
      return f.failed(Status::truncated, "the file ends inside the LZMA header");
    if ((head[2] | head[3] << 8) != 5) return f.failed(Status::corrupt, "LZMA properties size is not 5");
    std::memcpy(alone, head + 4, 5);
    std::uint64_t size = req.lzma_eos ? ~std::uint64_t(0) : req.expected_uncompressed;
    for (int i = 0; i < 8; ++i) alone[5 + i] = std::uint8_t(size >> (8 * i));
    open = lzma_alone_decoder(&ls, UINT64_MAX) == LZMA_OK;
    if (!open) return f.failed(Status::corrupt, "LZMA decoder could not start");
    ls.next_in = alone;
    ls.avail_in = sizeof alone;
    ls.next_out = out.data();
    ls.avail_out = out.size();
    lzma_code(&ls, LZMA_RUN);
    f.took(9);
    return std::nullopt;
  }
  std::string rejected(std::uint64_t) const { return "LZMA stream rejected (code " + std::to_string(int(ret)) + ")"; }
};

// One .xz stream per entry (APPNOTE 4.4.5 method 95), so no LZMA_CONCATENATED: the decoder stops
// after the stream footer and total input up to there is the entry's exact size. The stream's
// own check (CRC-32, CRC-64 or SHA-256) is verified by liblzma as well.
struct XzStream : Liblzma {
  static constexpr Words kWords{"xz stream"};
  using Liblzma::Liblzma;

  std::optional<DecodeResult> start(Feed& f) {
    open = lzma_stream_decoder(&ls, UINT64_MAX, 0) == LZMA_OK;
    if (!open) return f.failed(Status::corrupt, "xz decoder could not start");
    return std::nullopt;
  }
  std::string rejected(std::uint64_t produced) const {
    return (ret == LZMA_FORMAT_ERROR    ? std::string("the data is not an xz stream")
            : ret == LZMA_DATA_ERROR    ? std::string("xz stream data is corrupt")
            : ret == LZMA_OPTIONS_ERROR ? std::string("xz stream uses options liblzma does not know")
                                        : "xz stream rejected (code " + std::to_string(int(ret)) + ")") +
           " after " + std::to_string(produced) + " bytes of output";
  }
};

// One frame per entry: 7-Zip-zstd, WinZip and libarchive write the whole entry as a single frame,
// so the entry ends where the frame does (ZSTD_decompressStream returns 0 there and reads nothing
// after it). A second frame or skippable frame after the first is left over data, reported as a
// size mismatch, not decoded.
struct ZstdFrame {
  static constexpr Words kWords{"zstd frame"};
  ZSTD_DCtx* dc;
  io::PageBuffer& out;
  ZSTD_inBuffer in{nullptr, 0, 0};
  std::size_t ret = 0;

  std::optional<DecodeResult> start(Feed&) {
    ZSTD_DCtx_reset(dc, ZSTD_reset_session_and_parameters);
    // Every window the format allows on a 64-bit system (zstd --long=31 writes 2 GiB ones), not
    // zstd's default 128 MiB: a whole archive written with a larger window is not damaged. The
    // buffer is min(window, content size), and its pages are only touched as output is written.
    ZSTD_DCtx_setParameter(dc, ZSTD_d_windowLogMax, 31);
    return std::nullopt;
  }
  Step step(Feed& f) {
    if (in.pos == in.size && !f.ended()) {
      auto piece = f.pull();
      in = {piece.data(), piece.size(), 0};
    }
    ZSTD_outBuffer o{out.data(), out.size(), 0};
    ret = ZSTD_decompressStream(dc, &o, &in);
    f.push({out.data(), o.pos});
    const std::uint64_t consumed = f.fed() - (in.size - in.pos);
    if (ZSTD_isError(ret)) return {Then::corrupt, consumed};
    if (ret == 0) return {Then::end, consumed};  // the frame ended and all its output was flushed
    return {Then::more, consumed};
  }
  std::string rejected(std::uint64_t produced) const {
    return std::string("zstd stream rejected: ") + ZSTD_getErrorName(ret) + " after " + std::to_string(produced) +
           " bytes of output";
  }
};

// Our own Deflate64 decoder pulls its input and pushes its output itself (deflate64.h), so one
// step decodes the whole stream.
struct Deflate64Stream {
  static constexpr Words kWords{"deflate64 stream"};
  Inflate64& d;

  std::optional<DecodeResult> start(Feed&) { return std::nullopt; }
  Step step(Feed& f) {
    switch (d.run([&f] { return f.pull(); }, [&f](std::span<const std::uint8_t> out) { return f.push(out); })) {
      case Inflate64::Status::ok: return {Then::end, d.consumed()};
      case Inflate64::Status::stopped: return {Then::capped, d.consumed()};
      case Inflate64::Status::corrupt: return {Then::corrupt, d.consumed()};
      case Inflate64::Status::truncated: break;
    }
    return {Then::cut, f.fed()};
  }
  std::string rejected(std::uint64_t) const { return d.error(); }
};

// PPMd variant I rev. 1 (APPNOTE 4.4.5 method 98, 5.10) as 7-Zip writes it. Debian has no PPMd
// library of its own; libarchive's ZIP reader decodes it, so the entry is handed to a streaming
// libarchive reader behind a made-up local header with no sizes that matter. libarchive stops at
// the model's end marker (7-Zip always writes one) and reads the range coder's bytes one at a
// time, so its read position after the entry is the exact end of the stream; the header has bit
// 3 clear, so nothing after the data (a descriptor) is read. libarchive pulls its input through
// read(), so a step is one block of its output.
class PpmdReader {
 public:
  static constexpr Words kWords{"PPMd stream"};

  std::optional<DecodeResult> start(Feed& f) {
    feed_ = &f;
    make_header(f.request().expected_uncompressed);
    archive_read_support_format_zip_streamable(a_.get());
    // Sizes and CRC are zipmedic's to check; libarchive would only warn about the made-up ones.
    archive_read_set_options(a_.get(), "zip:ignorecrc32");
    struct archive_entry* entry = nullptr;
    if (archive_read_open(a_.get(), this, nullptr, &PpmdReader::read, nullptr) != ARCHIVE_OK ||
        archive_read_next_header(a_.get(), &entry) < ARCHIVE_WARN) {
      const char* why = archive_error_string(a_.get());
      return f.failed(Status::corrupt, std::string("PPMd decoder could not start: ") + (why ? why : ""));
    }
    start_ = archive_filter_bytes(a_.get(), 0);
    return std::nullopt;
  }

  Step step(Feed& f) {
    const void* buf = nullptr;
    std::size_t n = 0;
    la_int64_t at = 0;
    int ret;
    // An empty block comes before ARCHIVE_EOF when the end marker made no output; it is not a stall.
    do ret = archive_read_data_block(a_.get(), &buf, &n, &at);
    while (ret == ARCHIVE_OK && n == 0);
    if (ret == ARCHIVE_OK || ret == ARCHIVE_WARN) f.push({static_cast<const std::uint8_t*>(buf), n});
    const std::int64_t pos = archive_filter_bytes(a_.get(), 0);
    const std::uint64_t consumed = pos > start_ ? std::uint64_t(pos - start_) : 0;
    if (ret == ARCHIVE_EOF || (ret == ARCHIVE_WARN && n == 0)) {
      // libarchive ends an entry on any failed PPMd decode, also one that ran into the padding.
      return consumed > f.fed() ? Step{Then::cut, f.fed()} : Step{Then::end, consumed};
    }
    if (ret < ARCHIVE_WARN) {
      const char* why = archive_error_string(a_.get());
      why_ = why ? why : "libarchive gave no reason";
      const bool cut = (why && std::strstr(why, "Truncated")) || consumed > f.fed();
      return {cut ? Then::cut : Then::corrupt, std::min(consumed, f.fed())};
    }
    return {Then::more, consumed};
  }

  std::string rejected(std::uint64_t produced) const {
    return "PPMd stream rejected: " + why_ + " after " + std::to_string(produced) + " bytes of output";
  }

 private:
  void make_header(std::uint64_t expected) {
    const std::uint8_t lfh[] = {'P', 'K', 3, 4, 63, 0, 0, 0, zip::kPpmd, 0};
    std::memcpy(header_, lfh, sizeof lfh);
    // libarchive decodes nothing for an entry whose sizes are zero, so large made-up sizes stand
    // in; it stops at the end marker, not at them.
    const std::uint32_t csize = 0xFFFFFFFE;
    const std::uint32_t usize = std::uint32_t(std::min<std::uint64_t>(std::max<std::uint64_t>(expected, 1), 0xFFFFFFFE));
    for (int i = 0; i < 4; ++i) {
      header_[18 + i] = std::uint8_t(csize >> (8 * i));
      header_[22 + i] = std::uint8_t(usize >> (8 * i));
    }
    header_[26] = 1;  // name length: the name is "x"
    header_[30] = 'x';
  }

  // What libarchive reads: the made-up local header, then the entry's bytes, then zeros: a
  // decoder that reads any of those ran out of data.
  static la_ssize_t read(struct archive*, void* self, const void** buf) {
    static constexpr std::uint8_t kPad[16] = {};
    auto* r = static_cast<PpmdReader*>(self);
    if (!r->header_sent_) {
      r->header_sent_ = true;
      *buf = r->header_;
      return sizeof r->header_;
    }
    Feed& f = *r->feed_;
    if (f.ended() || f.fed() == f.request().limit) {
      if (r->padded_) return 0;
      r->padded_ = true;
      *buf = kPad;
      return sizeof kPad;
    }
    auto in = f.pull();
    *buf = in.data();
    return la_ssize_t(in.size());
  }

  Feed* feed_ = nullptr;
  std::uint8_t header_[31] = {};
  bool header_sent_ = false;
  bool padded_ = false;
  std::int64_t start_ = 0;
  std::string why_;
  std::unique_ptr<struct archive, int (*)(struct archive*)> a_{archive_read_new(), archive_read_free};
};

}  // namespace

std::uint32_t crc32(std::uint32_t crc, std::span<const std::uint8_t> data) {
  return crc32_gzip_refl(crc, data.data(), data.size());
}

bool method_supported(std::uint16_t m) {
  return m == zip::kStored || method_self_terminating(m);
}
bool method_self_terminating(std::uint16_t m) {
  return m == zip::kDeflate || m == zip::kDeflate64 || m == zip::kBzip2 || m == zip::kLzma || m == zip::kZstd ||
         m == zip::kXz || m == zip::kPpmd;
}

struct Workspace::Inflate {
  inflate_state st;
  z_stream z{};
  bool z_ready = false;
  ~Inflate() {
    if (z_ready) inflateEnd(&z);
  }
};

struct Workspace::Zstd {
  ZSTD_DCtx* dctx = ZSTD_createDCtx();
  ~Zstd() { ZSTD_freeDCtx(dctx); }
};

Workspace::Workspace() : in_(kInBuf), out_(kOutBuf), inflate_(std::make_unique<Inflate>()) {}
Workspace::~Workspace() = default;

// Each method is a decoder for the feed loop (`run`); stored data is only copied.
DecodeResult Workspace::decode(io::ByteSource& src, const DecodeRequest& req) {
  Feed f(src, req, in_);
  switch (req.method) {
    case zip::kStored: return copy_stored(f);
    case zip::kDeflate: {
      if (auto whole = inflate_whole(f, inflate_->z, inflate_->z_ready, out_)) return std::move(*whole);
      IsalInflate d{inflate_->st, out_};
      return run(f, d);
    }
    case zip::kBzip2: {
      Bunzip2 d{out_};
      return run(f, d);
    }
    case zip::kLzma: {
      LzmaAlone d(out_);
      return run(f, d);
    }
    case zip::kXz: {
      XzStream d(out_);
      return run(f, d);
    }
    case zip::kZstd: {
      if (!zstd_) zstd_ = std::make_unique<Zstd>();
      ZstdFrame d{zstd_->dctx, out_};
      return run(f, d);
    }
    case zip::kDeflate64: {
      if (!inflate64_) inflate64_ = std::make_unique<Inflate64>();
      Deflate64Stream d{*inflate64_};
      return run(f, d);
    }
    case zip::kPpmd: {
      PpmdReader d;
      return run(f, d);
    }
    default:
      return f.failed(Status::unsupported, "compression method " + zip::method_name(req.method) + " is not supported");
  }
}

}  // namespace zm::codec
