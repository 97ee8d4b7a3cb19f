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
// Deflate streams up to this size are decoded in one call (Workspace::deflate).
constexpr std::size_t kSmallDeflate = 16 << 10;
using Status = DecodeResult::Status;

void emit(const DecodeRequest& req, DecodeResult& r, const std::uint8_t* p, std::size_t n, bool crc_done = false) {
  if (n == 0) return;
  if (!crc_done) r.crc = crc32(r.crc, {p, n});
  r.produced += n;
  if (req.sink) req.sink({p, n});
}
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

DecodeResult Workspace::decode(io::ByteSource& src, const DecodeRequest& req) {
  switch (req.method) {
    case zip::kStored: return stored(src, req);
    case zip::kDeflate: return deflate(src, req);
    case zip::kBzip2: return bzip2(src, req);
    case zip::kLzma: return lzma(src, req);
    case zip::kDeflate64: return deflate64(src, req);
    case zip::kZstd: return zstd(src, req);
    case zip::kXz: return xz(src, req);
    case zip::kPpmd: return ppmd(src, req);
    default: {
      DecodeResult r;
      r.status = Status::unsupported;
      r.error = "compression method " + zip::method_name(req.method) + " is not supported";
      return r;
    }
  }
}

std::span<const std::uint8_t> Workspace::input(io::ByteSource& src, std::uint64_t offset, std::size_t want,
                                               bool& ended) {
  if (want == 0) {
    ended = true;
    return {};
  }
  // Only a whole piece is lent: a view may be shorter than asked (a read cache or a ring ends
  // there), and a decoder fed pieces of varying length reports a failure at a different point
  // (zstd: "after 4039 bytes" from a file, "after 6836" through a pipe). Same bytes, same words.
  if (auto v = src.view(offset, want); v.size() == want) return v;
  std::size_t n = src.read_at(offset, {in_.data(), want});
  if (n < want) ended = true;
  return {in_.data(), n};
}

DecodeResult Workspace::stored(io::ByteSource& src, const DecodeRequest& req) {
  DecodeResult r;
  bool ended = false;
  while (r.consumed < req.limit) {
    std::size_t want = std::min<std::uint64_t>(in_.size(), req.limit - r.consumed);
    auto chunk = input(src, req.offset + r.consumed, want, ended);
    std::size_t n = chunk.size();
    emit(req, r, chunk.data(), n);
    r.consumed += n;
    if (req.progress) *req.progress += n;
    if (ended) {
      r.status = Status::truncated;
      r.error = "the file ends inside the stored data";
      return r;
    }
  }
  return r;
}

DecodeResult Workspace::deflate(io::ByteSource& src, const DecodeRequest& req) {
  DecodeResult r;
  inflate_state& st = inflate_->st;
  if (req.limit <= kSmallDeflate) {
    // A small entry in one piece goes through zlib, the decoder most readers use: ISA-L copies a
    // table of some 20 KiB for every fixed-Huffman block, which is how small files are written,
    // and a million tiny entries spent a fifth of their time in that copy. zlib's rejection is
    // not final: the stream is decoded again below, which says where and why it fails.
    bool ended = false;
    auto chunk = input(src, req.offset, std::size_t(req.limit), ended);
    if (chunk.size() == req.limit) {
      z_stream& z = inflate_->z;
      if (!inflate_->z_ready) {
        if (inflateInit2(&z, -15) != Z_OK) throw std::bad_alloc();
        inflate_->z_ready = true;
      } else {
        inflateReset(&z);
      }
      z.next_in = const_cast<Bytef*>(chunk.data());
      z.avail_in = uInt(chunk.size());
      z.next_out = out_.data();
      z.avail_out = uInt(out_.size());
      if (inflate(&z, Z_FINISH) == Z_STREAM_END) {
        const std::size_t got = out_.size() - z.avail_out;
        if (!req.max_output || got <= req.max_output) {
          emit(req, r, out_.data(), got);
          r.consumed = chunk.size() - z.avail_in;
          if (req.progress) *req.progress += chunk.size();
          return r;
        }
      }
    }
  }
  isal_inflate_init(&st);
  // Raw deflate with the gzip CRC-32 (the same polynomial as ZIP's) computed inside the decoder
  // while the output is still in cache; no gzip header or trailer is read.
  st.crc_flag = ISAL_GZIP_NO_HDR;
  std::uint64_t fed = 0;
  bool source_ended = false;
  for (;;) {
    if (st.avail_in == 0 && !source_ended) {
      std::size_t want = std::min<std::uint64_t>(in_.size(), req.limit - fed);
      auto chunk = input(src, req.offset + fed, want, source_ended);
      std::size_t n = chunk.size();
      st.next_in = const_cast<std::uint8_t*>(chunk.data());  // ISA-L only reads through next_in
      st.avail_in = std::uint32_t(n);
      fed += n;
      if (req.progress) *req.progress += n;
    }
    st.next_out = out_.data();
    st.avail_out = std::uint32_t(out_.size());
    int ret = isal_inflate(&st);
    std::size_t got = out_.size() - st.avail_out;
    emit(req, r, out_.data(), got, true);
    r.crc = st.crc;
    if (ret < 0) {
      r.status = Status::corrupt;
      r.consumed = fed - st.avail_in;
      r.error = ret == ISAL_INVALID_BLOCK ? "invalid deflate block"
                : ret == ISAL_INVALID_SYMBOL ? "invalid deflate symbol"
                : ret == ISAL_INVALID_LOOKBACK ? "invalid deflate back-reference distance"
                : "deflate stream rejected (code " + std::to_string(ret) + ")";
      r.error += " after " + std::to_string(r.produced) + " bytes of output";
      return r;
    }
    if (st.block_state == ISAL_BLOCK_FINISH) {
      // ISA-L keeps up to 8 bytes of look-ahead in its bit buffer; whole bytes left there were
      // never part of the stream, so they are given back to find the exact end of the data.
      r.consumed = fed - st.avail_in - std::uint64_t(st.read_in_length / 8);
      return r;
    }
    if (req.max_output && r.produced > req.max_output) {
      r.status = Status::overrun;
      r.consumed = fed - st.avail_in;
      r.error = "decoded output exceeds " + std::to_string(req.max_output) + " bytes";
      return r;
    }
    if (st.avail_in == 0 && source_ended && got == 0) {
      // No input left and the decoder could not make progress: the stream has no end here.
      r.consumed = fed;
      if (fed < req.limit) {
        r.status = Status::truncated;
        r.error = "the file ends inside the deflate stream";
      } else {
        r.status = Status::overrun;
        r.error = "the deflate stream does not end within its " + std::to_string(req.limit) + " compressed bytes";
      }
      return r;
    }
  }
}

DecodeResult Workspace::bzip2(io::ByteSource& src, const DecodeRequest& req) {
  DecodeResult r;
  bz_stream bz{};
  if (BZ2_bzDecompressInit(&bz, 0, 0) != BZ_OK) {
    r.status = Status::corrupt;
    r.error = "bzip2 decoder could not start";
    return r;
  }
  std::uint64_t fed = 0;
  bool source_ended = false;
  for (;;) {
    if (bz.avail_in == 0 && !source_ended) {
      std::size_t want = std::min<std::uint64_t>(in_.size(), req.limit - fed);
      auto chunk = input(src, req.offset + fed, want, source_ended);
      std::size_t n = chunk.size();
      bz.next_in = reinterpret_cast<char*>(const_cast<std::uint8_t*>(chunk.data()));  // bzlib only reads it
      bz.avail_in = unsigned(n);
      fed += n;
      if (req.progress) *req.progress += n;
    }
    bz.next_out = reinterpret_cast<char*>(out_.data());
    bz.avail_out = unsigned(out_.size());
    int ret = BZ2_bzDecompress(&bz);
    std::size_t got = out_.size() - bz.avail_out;
    emit(req, r, out_.data(), got);
    r.consumed = fed - bz.avail_in;
    if (ret == BZ_STREAM_END) break;
    if (ret != BZ_OK) {
      r.status = Status::corrupt;
      r.error = "bzip2 stream rejected (code " + std::to_string(ret) + ")";
      break;
    }
    if (req.max_output && r.produced > req.max_output) {
      r.status = Status::overrun;
      r.error = "decoded output exceeds the expected size";
      break;
    }
    if (bz.avail_in == 0 && source_ended && got == 0) {
      r.status = fed < req.limit ? Status::truncated : Status::overrun;
      r.error = fed < req.limit ? "the file ends inside the bzip2 stream" : "the bzip2 stream does not end within its compressed size";
      break;
    }
  }
  BZ2_bzDecompressEnd(&bz);
  return r;
}

DecodeResult Workspace::lzma(io::ByteSource& src, const DecodeRequest& req) {
  // 4.4.5/5.8: ZIP's LZMA data starts with version (2 bytes), properties size (2 bytes) and the
  // 5-byte properties. liblzma's .lzma ("alone") decoder takes properties + 8-byte size, so
  // that header is rebuilt and the raw stream follows it.
  DecodeResult r;
  std::uint8_t head[9];
  if (req.limit < 9 || src.read_at(req.offset, head) < 9) {
    r.status = Status::truncated;
    r.error = "the file ends inside the LZMA header";
    return r;
  }
  if ((head[2] | head[3] << 8) != 5) {
    r.status = Status::corrupt;
    r.error = "LZMA properties size is not 5";
    return r;
  }
  std::uint8_t alone[13];
  std::memcpy(alone, head + 4, 5);
  std::uint64_t size = req.lzma_eos ? ~std::uint64_t(0) : req.expected_uncompressed;
  for (int i = 0; i < 8; ++i) alone[5 + i] = std::uint8_t(size >> (8 * i));
  lzma_stream ls = LZMA_STREAM_INIT;
  if (lzma_alone_decoder(&ls, UINT64_MAX) != LZMA_OK) {
    r.status = Status::corrupt;
    r.error = "LZMA decoder could not start";
    return r;
  }
  ls.next_in = alone;
  ls.avail_in = sizeof alone;
  ls.next_out = out_.data();
  ls.avail_out = out_.size();
  lzma_code(&ls, LZMA_RUN);
  std::uint64_t fed = 9;
  bool source_ended = false;
  if (req.progress) *req.progress += 9;
  for (;;) {
    if (ls.avail_in == 0 && !source_ended) {
      std::size_t want = std::min<std::uint64_t>(in_.size(), req.limit - fed);
      auto chunk = input(src, req.offset + fed, want, source_ended);
      std::size_t n = chunk.size();
      ls.next_in = chunk.data();
      ls.avail_in = n;
      fed += n;
      if (req.progress) *req.progress += n;
    }
    ls.next_out = out_.data();
    ls.avail_out = out_.size();
    lzma_ret ret = lzma_code(&ls, source_ended && ls.avail_in == 0 ? LZMA_FINISH : LZMA_RUN);
    std::size_t got = out_.size() - ls.avail_out;
    emit(req, r, out_.data(), got);
    r.consumed = fed - ls.avail_in;
    if (ret == LZMA_STREAM_END) break;
    if (ret == LZMA_BUF_ERROR || (ret == LZMA_OK && ls.avail_in == 0 && source_ended && got == 0)) {
      r.status = fed < req.limit ? Status::truncated : Status::overrun;
      r.error = fed < req.limit ? "the file ends inside the LZMA stream" : "the LZMA stream does not end within its compressed size";
      break;
    }
    if (ret != LZMA_OK) {
      r.status = Status::corrupt;
      r.error = "LZMA stream rejected (code " + std::to_string(int(ret)) + ")";
      break;
    }
    if (req.max_output && r.produced > req.max_output) {
      r.status = Status::overrun;
      r.error = "decoded output exceeds the expected size";
      break;
    }
  }
  lzma_end(&ls);
  return r;
}

DecodeResult Workspace::deflate64(io::ByteSource& src, const DecodeRequest& req) {
  DecodeResult r;
  if (!inflate64_) inflate64_ = std::make_unique<Inflate64>();
  std::uint64_t fed = 0;
  bool source_ended = false;
  auto pull = [&]() -> std::span<const std::uint8_t> {
    if (source_ended) return {};
    std::size_t want = std::min<std::uint64_t>(in_.size(), req.limit - fed);
    auto chunk = input(src, req.offset + fed, want, source_ended);
    fed += chunk.size();
    if (req.progress) *req.progress += chunk.size();
    return chunk;
  };
  auto push = [&](std::span<const std::uint8_t> out) {
    emit(req, r, out.data(), out.size());
    return !(req.max_output && r.produced > req.max_output);
  };
  auto st = inflate64_->run(pull, push);
  r.consumed = inflate64_->consumed();
  switch (st) {
    case Inflate64::Status::ok: break;
    case Inflate64::Status::stopped:
      r.status = Status::overrun;
      r.error = "decoded output exceeds " + std::to_string(req.max_output) + " bytes";
      break;
    case Inflate64::Status::corrupt:
      r.status = Status::corrupt;
      r.error = inflate64_->error();
      break;
    case Inflate64::Status::truncated:
      r.consumed = fed;
      r.status = fed < req.limit ? Status::truncated : Status::overrun;
      r.error = fed < req.limit ? "the file ends inside the deflate64 stream"
                                : "the deflate64 stream does not end within its " + std::to_string(req.limit) +
                                      " compressed bytes";
      break;
  }
  return r;
}

DecodeResult Workspace::zstd(io::ByteSource& src, const DecodeRequest& req) {
  // One frame per entry: 7-Zip-zstd, WinZip and libarchive write the whole entry as a single
  // frame, so the entry ends where the frame does (ZSTD_decompressStream returns 0 there and
  // reads nothing after it). A second frame or skippable frame after the first is left over
  // data, reported as a size mismatch, not decoded.
  DecodeResult r;
  if (!zstd_) zstd_ = std::make_unique<Zstd>();
  ZSTD_DCtx* dc = zstd_->dctx;
  ZSTD_DCtx_reset(dc, ZSTD_reset_session_and_parameters);
  // Every window the format allows on a 64-bit system (zstd --long=31 writes 2 GiB ones), not
  // zstd's default 128 MiB: a whole archive written with a larger window is not damaged. The
  // buffer is min(window, content size), and its pages are only touched as output is written.
  ZSTD_DCtx_setParameter(dc, ZSTD_d_windowLogMax, 31);
  ZSTD_inBuffer in{nullptr, 0, 0};
  std::uint64_t fed = 0;
  bool source_ended = false;
  for (;;) {
    if (in.pos == in.size && !source_ended) {
      std::size_t want = std::min<std::uint64_t>(in_.size(), req.limit - fed);
      auto chunk = input(src, req.offset + fed, want, source_ended);
      in = {chunk.data(), chunk.size(), 0};
      fed += chunk.size();
      if (req.progress) *req.progress += chunk.size();
    }
    ZSTD_outBuffer out{out_.data(), out_.size(), 0};
    std::size_t ret = ZSTD_decompressStream(dc, &out, &in);
    emit(req, r, out_.data(), out.pos);
    r.consumed = fed - (in.size - in.pos);
    if (ZSTD_isError(ret)) {
      r.status = Status::corrupt;
      r.error = std::string("zstd stream rejected: ") + ZSTD_getErrorName(ret) + " after " +
                std::to_string(r.produced) + " bytes of output";
      return r;
    }
    if (ret == 0) return r;  // the frame ended and all its output was flushed
    if (req.max_output && r.produced > req.max_output) {
      r.status = Status::overrun;
      r.error = "decoded output exceeds " + std::to_string(req.max_output) + " bytes";
      return r;
    }
    if (in.pos == in.size && source_ended && out.pos == 0) {
      r.status = fed < req.limit ? Status::truncated : Status::overrun;
      r.error = fed < req.limit ? "the file ends inside the zstd frame"
                                : "the zstd frame does not end within its " + std::to_string(req.limit) +
                                      " compressed bytes";
      return r;
    }
  }
}

DecodeResult Workspace::xz(io::ByteSource& src, const DecodeRequest& req) {
  // One .xz stream per entry (APPNOTE 4.4.5 method 95), so no LZMA_CONCATENATED: the decoder
  // stops after the stream footer and total input up to there is the entry's exact size. The
  // stream's own check (CRC-32, CRC-64 or SHA-256) is verified by liblzma as well.
  DecodeResult r;
  lzma_stream ls = LZMA_STREAM_INIT;
  if (lzma_stream_decoder(&ls, UINT64_MAX, 0) != LZMA_OK) {
    r.status = Status::corrupt;
    r.error = "xz decoder could not start";
    return r;
  }
  std::uint64_t fed = 0;
  bool source_ended = false;
  for (;;) {
    if (ls.avail_in == 0 && !source_ended) {
      std::size_t want = std::min<std::uint64_t>(in_.size(), req.limit - fed);
      auto chunk = input(src, req.offset + fed, want, source_ended);
      ls.next_in = chunk.data();
      ls.avail_in = chunk.size();
      fed += chunk.size();
      if (req.progress) *req.progress += chunk.size();
    }
    ls.next_out = out_.data();
    ls.avail_out = out_.size();
    lzma_ret ret = lzma_code(&ls, source_ended && ls.avail_in == 0 ? LZMA_FINISH : LZMA_RUN);
    std::size_t got = out_.size() - ls.avail_out;
    emit(req, r, out_.data(), got);
    r.consumed = fed - ls.avail_in;
    if (ret == LZMA_STREAM_END) break;
    if (ret == LZMA_BUF_ERROR || (ret == LZMA_OK && ls.avail_in == 0 && source_ended && got == 0)) {
      r.status = fed < req.limit ? Status::truncated : Status::overrun;
      r.error = fed < req.limit ? "the file ends inside the xz stream"
                                : "the xz stream does not end within its " + std::to_string(req.limit) +
                                      " compressed bytes";
      break;
    }
    if (ret != LZMA_OK) {
      r.status = Status::corrupt;
      r.error = ret == LZMA_FORMAT_ERROR ? "the data is not an xz stream"
                : ret == LZMA_DATA_ERROR ? "xz stream data is corrupt"
                : ret == LZMA_OPTIONS_ERROR ? "xz stream uses options liblzma does not know"
                : "xz stream rejected (code " + std::to_string(int(ret)) + ")";
      r.error += " after " + std::to_string(r.produced) + " bytes of output";
      break;
    }
    if (req.max_output && r.produced > req.max_output) {
      r.status = Status::overrun;
      r.error = "decoded output exceeds " + std::to_string(req.max_output) + " bytes";
      break;
    }
  }
  lzma_end(&ls);
  return r;
}

namespace {
// What libarchive reads for a PPMd entry: a local header we make up, then the entry's bytes.
struct PpmdFeed {
  const DecodeRequest* req;
  std::function<std::span<const std::uint8_t>(std::uint64_t, std::size_t, bool&)> input;
  std::uint8_t header[31];
  bool header_sent = false;
  std::uint64_t fed = 0;
  bool source_ended = false;
  bool padded = false;
};
constexpr std::uint8_t kPad[16] = {};

la_ssize_t ppmd_feed(struct archive*, void* data, const void** buf) {
  auto* f = static_cast<PpmdFeed*>(data);
  if (!f->header_sent) {
    f->header_sent = true;
    *buf = f->header;
    return sizeof f->header;
  }
  if (f->source_ended || f->fed == f->req->limit) {
    // Zero bytes after the real ones: a decoder that reads any of them ran out of data.
    if (f->padded) return 0;
    f->padded = true;
    f->source_ended = true;
    *buf = kPad;
    return sizeof kPad;
  }
  std::size_t want = std::min<std::uint64_t>(kInBuf, f->req->limit - f->fed);
  auto chunk = f->input(f->req->offset + f->fed, want, f->source_ended);
  f->fed += chunk.size();
  if (f->req->progress) *f->req->progress += chunk.size();
  *buf = chunk.data();
  return la_ssize_t(chunk.size());
}
}  // namespace

DecodeResult Workspace::ppmd(io::ByteSource& src, const DecodeRequest& req) {
  // PPMd variant I rev. 1 (APPNOTE 4.4.5 method 98, 5.10) as 7-Zip writes it. Debian has no PPMd
  // library of its own; libarchive's ZIP reader decodes it, so the entry is handed to a streaming
  // libarchive reader behind a made-up local header with no sizes that matter. libarchive stops
  // at the model's end marker (7-Zip always writes one) and reads the range coder's bytes one at
  // a time, so its read position after the entry is the exact end of the stream; the header has
  // bit 3 clear, so nothing after the data (a descriptor) is read.
  DecodeResult r;
  PpmdFeed f{&req, [&](std::uint64_t off, std::size_t want, bool& ended) { return input(src, off, want, ended); }};
  std::memset(f.header, 0, sizeof f.header);
  const std::uint8_t lfh[] = {'P', 'K', 3, 4, 63, 0, 0, 0, zip::kPpmd, 0};
  std::memcpy(f.header, lfh, sizeof lfh);
  // libarchive decodes nothing for an entry whose sizes are zero, so large made-up sizes stand
  // in; it stops at the end marker, not at them.
  const std::uint32_t csize = 0xFFFFFFFE;
  const std::uint32_t usize = std::uint32_t(std::min<std::uint64_t>(std::max<std::uint64_t>(req.expected_uncompressed, 1), 0xFFFFFFFE));
  for (int i = 0; i < 4; ++i) {
    f.header[18 + i] = std::uint8_t(csize >> (8 * i));
    f.header[22 + i] = std::uint8_t(usize >> (8 * i));
  }
  f.header[26] = 1;  // name length: the name is "x"
  f.header[30] = 'x';
  std::unique_ptr<struct archive, int (*)(struct archive*)> a(archive_read_new(), archive_read_free);
  archive_read_support_format_zip_streamable(a.get());
  // Sizes and CRC are zipmedic's to check; libarchive would only warn about the made-up ones.
  archive_read_set_options(a.get(), "zip:ignorecrc32");
  struct archive_entry* entry = nullptr;
  if (archive_read_open(a.get(), &f, nullptr, ppmd_feed, nullptr) != ARCHIVE_OK ||
      archive_read_next_header(a.get(), &entry) < ARCHIVE_WARN) {
    r.status = Status::corrupt;
    r.error = std::string("PPMd decoder could not start: ") + (archive_error_string(a.get()) ? archive_error_string(a.get()) : "");
    return r;
  }
  const std::int64_t start = archive_filter_bytes(a.get(), 0);
  for (;;) {
    const void* buf = nullptr;
    std::size_t n = 0;
    la_int64_t at = 0;
    int ret = archive_read_data_block(a.get(), &buf, &n, &at);
    if (ret == ARCHIVE_OK || ret == ARCHIVE_WARN) emit(req, r, static_cast<const std::uint8_t*>(buf), n);
    std::int64_t pos = archive_filter_bytes(a.get(), 0);
    r.consumed = pos > start ? std::uint64_t(pos - start) : 0;
    if (ret == ARCHIVE_EOF || (ret == ARCHIVE_WARN && n == 0)) break;
    if (ret < ARCHIVE_WARN) {
      const char* why = archive_error_string(a.get());
      bool cut = (why && std::strstr(why, "Truncated")) || r.consumed > f.fed;
      r.consumed = std::min(r.consumed, f.fed);
      if (cut && f.fed < req.limit) {
        r.status = Status::truncated;
        r.error = "the file ends inside the PPMd stream";
      } else if (cut) {
        r.status = Status::overrun;
        r.error = "the PPMd stream does not end within its " + std::to_string(req.limit) + " compressed bytes";
      } else {
        r.status = Status::corrupt;
        r.error = std::string("PPMd stream rejected: ") + (why ? why : "libarchive gave no reason");
        r.error += " after " + std::to_string(r.produced) + " bytes of output";
      }
      return r;
    }
    if (req.max_output && r.produced > req.max_output) {
      r.status = Status::overrun;
      r.error = "decoded output exceeds " + std::to_string(req.max_output) + " bytes";
      return r;
    }
  }
  if (r.consumed > f.fed) {
    // libarchive ends an entry on any failed PPMd decode, also one that ran into the padding.
    r.consumed = f.fed;
    r.status = f.fed < req.limit ? Status::truncated : Status::overrun;
    r.error = f.fed < req.limit ? "the file ends inside the PPMd stream"
                                : "the PPMd stream does not end within its " + std::to_string(req.limit) +
                                      " compressed bytes";
  }
  return r;
}

}  // namespace zm::codec
