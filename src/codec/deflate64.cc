#include "codec/deflate64.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <vector>

namespace zm::codec {
namespace {

// A decode-table entry: value (a symbol, or where a subtable starts) in bits 16-31, kind in bits
// 8-15, and the number of bits the entry accounts for in bits 0-7.
enum Kind : std::uint32_t { kSym = 0, kSub = 1, kBad = 2 };
constexpr std::uint32_t entry(std::uint32_t value, Kind kind, std::uint32_t bits) {
  return value << 16 | std::uint32_t(kind) << 8 | bits;
}

constexpr unsigned kMaxCodeBits = 15;  // RFC 1951 3.2.7
// First-level table widths: codes longer than this go through a second lookup. 10 bits covers
// nearly every literal/length code of real data while a dynamic block's table stays small
// enough to rebuild cheaply (1 Ki entries).
constexpr unsigned kLitBits = 10, kDistBits = 8, kClBits = 7;

// RFC 1951 3.2.5, with Deflate64's change to code 285 (3 + 16 extra bits instead of 258).
constexpr std::uint16_t kLenBase[29] = {3,  4,  5,  6,  7,  8,  9,  10, 11,  13,  15,  17,  19,  23, 27,
                                        31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 3};
constexpr std::uint8_t kLenExtra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                        2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 16};
// Codes 30 and 31 exist only in Deflate64.
constexpr std::uint32_t kDistBase[32] = {1,    2,    3,    4,    5,    7,     9,     13,    17,    25,   33,
                                         49,   65,   97,   129,  193,  257,   385,   513,   769,   1025, 1537,
                                         2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577, 32769, 49153};
constexpr std::uint8_t kDistExtra[32] = {0, 0, 0, 0, 1, 1, 2, 2,  3,  3,  4,  4,  5,  5,  6,  6,
                                         7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14};
constexpr std::uint8_t kClOrder[19] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};

constexpr std::size_t kHist = 64 << 10;   // the farthest distance: 49153 + 16383 = 65536
constexpr std::size_t kSpan = 256 << 10;  // new output handed on per flush
constexpr std::size_t kMaxMatch = 3 + 0xFFFF;
// A match starts below kHist + kSpan and may copy 7 bytes past its end (8-byte words).
constexpr std::size_t kWindow = kHist + kSpan + kMaxMatch + 8;

struct Huffman {
  std::vector<std::uint32_t> t;
  unsigned bits = 0;

  // Canonical code from code lengths (RFC 1951 3.2.2). An over-subscribed set is rejected.
  // Incomplete sets are accepted, as zlib does for a lone distance code and Info-ZIP's inflate
  // does generally; bit patterns no code reaches decode to kBad, and the CRC covers the rest.
  const char* build(const std::uint8_t* lens, unsigned n, unsigned primary) {
    unsigned count[kMaxCodeBits + 1] = {};
    for (unsigned i = 0; i < n; ++i) ++count[lens[i]];
    count[0] = 0;
    unsigned longest = 0;
    int left = 1;
    for (unsigned len = 1; len <= kMaxCodeBits; ++len) {
      left = left * 2 - int(count[len]);
      if (left < 0) return "over-subscribed Huffman code";
      if (count[len]) longest = len;
    }
    bits = primary;
    t.assign(std::size_t(1) << primary, entry(0, kBad, 0));
    unsigned next[kMaxCodeBits + 2] = {};
    for (unsigned len = 1, code = 0; len <= kMaxCodeBits; ++len) {
      code = (code + count[len - 1]) << 1;
      next[len] = code;
    }
    const unsigned sub_bits = longest > primary ? longest - primary : 0;
    for (unsigned len = 1; len <= longest; ++len) {
      for (unsigned s = 0; s < n; ++s) {
        if (lens[s] != len) continue;
        unsigned code = next[len]++, rev = 0;
        // Codes are defined most significant bit first but packed from the low bit (3.1.1).
        for (unsigned b = 0; b < len; ++b) rev |= ((code >> b) & 1u) << (len - 1 - b);
        if (len <= primary) {
          for (unsigned i = rev; i < (1u << primary); i += 1u << len) t[i] = entry(s, kSym, len);
          continue;
        }
        std::uint32_t& head = t[rev & ((1u << primary) - 1)];
        if (((head >> 8) & 0xff) != kSub) {
          std::size_t off = t.size();
          t.resize(off + (std::size_t(1) << sub_bits), entry(0, kBad, 0));
          t[rev & ((1u << primary) - 1)] = entry(std::uint32_t(off), kSub, sub_bits);
        }
        std::uint32_t off = t[rev & ((1u << primary) - 1)] >> 16;
        unsigned rest = len - primary;
        for (unsigned i = rev >> primary; i < (1u << sub_bits); i += 1u << rest) t[off + i] = entry(s, kSym, rest);
      }
    }
    return nullptr;
  }
};

}  // namespace

struct Inflate64::State {
  std::vector<std::uint8_t> win = std::vector<std::uint8_t>(kWindow);
  Huffman lit, dist, cl, fixed_lit, fixed_dist;
  std::uint8_t lens[288 + 32];

  const Pull* pull = nullptr;
  const Push* push = nullptr;
  const std::uint8_t *p = nullptr, *begin = nullptr, *end = nullptr;
  std::uint64_t base = 0;  // input bytes in the pieces before `begin`
  bool ended = false;
  // Zero bytes fed to the bit buffer after the input ended, so that the decode loop never has
  // to ask whether bits remain; using one of them means the stream was cut (`overread`).
  unsigned pad = 0;
  std::uint64_t bb = 0;  // bit buffer, next bit lowest; bits above `cnt` are 0 or the bytes at p
  unsigned cnt = 0;
  std::size_t pos = 0, flushed = 0;
  std::uint64_t produced = 0;
  const char* why = nullptr;

  State() {
    std::uint8_t l[288];
    std::fill(l, l + 144, 8);
    std::fill(l + 144, l + 256, 9);
    std::fill(l + 256, l + 280, 7);
    std::fill(l + 280, l + 288, 8);
    fixed_lit.build(l, 288, kLitBits);
    std::fill(l, l + 32, 5);
    fixed_dist.build(l, 32, kDistBits);
    lit.t.reserve((1u << kLitBits) + 288 * 32);
    dist.t.reserve((1u << kDistBits) + 32 * 128);
  }

  std::uint64_t taken() const { return base + std::uint64_t(p - begin) + pad; }
  bool overread() const { return pad * 8 > cnt; }
  // After a bad code: if fewer real bits were left than the longest code, the input ran out
  // rather than being wrong.
  bool short_of_code() const { return pad && cnt < pad * 8 + kMaxCodeBits; }

  bool next_piece() {
    base += std::uint64_t(end - begin);
    auto s = (*pull)();
    if (s.empty()) {
      ended = true;
      p = begin = end = nullptr;
      return false;
    }
    p = begin = s.data();
    end = p + s.size();
    return true;
  }

  void refill_slow() {
    while (cnt <= 56) {
      if (p == end && !ended) next_piece();
      if (p < end) bb |= std::uint64_t(*p++) << cnt;
      else ++pad;
      cnt += 8;
    }
  }
  // Leaves at least 56 bits in the buffer.
  void refill() {
    if (end - p >= 8) {
      std::uint64_t w;
      std::memcpy(&w, p, 8);
      if constexpr (std::endian::native == std::endian::big) w = __builtin_bswap64(w);
      bb |= w << cnt;
      p += (63 - cnt) >> 3;
      cnt |= 56;
    } else {
      refill_slow();
    }
  }
  std::uint32_t take(unsigned n) {
    std::uint32_t v = std::uint32_t(bb & ((std::uint64_t(1) << n) - 1));
    bb >>= n;
    cnt -= n;
    return v;
  }
  // Needs kMaxCodeBits in the buffer. False for a bit pattern the code does not define.
  bool decode(const Huffman& h, unsigned& sym) {
    std::uint32_t e = h.t[bb & ((1u << h.bits) - 1)];
    if (((e >> 8) & 0xff) == kSub) {
      bb >>= h.bits;
      cnt -= h.bits;
      e = h.t[(e >> 16) + (bb & ((1u << (e & 0xff)) - 1))];
    }
    unsigned n = e & 0xff;
    bb >>= n;
    cnt -= n;
    sym = e >> 16;
    return ((e >> 8) & 0xff) == kSym;
  }

  bool flush() {
    if (pos == flushed) return true;
    std::span<const std::uint8_t> out{win.data() + flushed, pos - flushed};
    produced += out.size();
    flushed = pos;
    return (*push)(out);
  }
  // Hands on the new output and keeps the last 64 KiB for back-references.
  bool slide() {
    if (!flush()) return false;
    std::memmove(win.data(), win.data() + pos - kHist, kHist);
    pos = flushed = kHist;
    return true;
  }

  Status bad(const char* what) {
    why = what;
    return Status::corrupt;
  }

  Status stored() {
    take(cnt & 7);
    if (cnt < 32) refill();
    unsigned len = take(16), nlen = take(16);
    if (overread()) return Status::truncated;
    if (len != (~nlen & 0xffff)) return bad("stored block length does not match its complement");
    // Whole bytes already in the bit buffer come first, then the input itself.
    while (len && cnt >= 8) {
      if (pos >= kHist + kSpan && !slide()) return Status::stopped;
      win[pos++] = std::uint8_t(take(8));
      --len;
      if (overread()) return Status::truncated;
    }
    if (cnt == 0) bb = 0;  // the bytes read ahead into it are copied below straight from the input
    while (len) {
      if (p == end && (ended || !next_piece())) return Status::truncated;
      if (pos >= kHist + kSpan && !slide()) return Status::stopped;
      std::size_t n = std::min<std::size_t>({len, std::size_t(end - p), kHist + kSpan + kMaxMatch - pos});
      std::memcpy(win.data() + pos, p, n);
      pos += n;
      p += n;
      len -= unsigned(n);
    }
    return Status::ok;
  }

  Status dynamic() {
    if (cnt < 14) refill();
    unsigned hlit = take(5) + 257, hdist = take(5) + 1, hclen = take(4) + 4;
    std::uint8_t cll[19] = {};
    for (unsigned i = 0; i < hclen; ++i) {
      if (cnt < 3) refill();
      cll[kClOrder[i]] = std::uint8_t(take(3));
    }
    if (overread()) return Status::truncated;
    if (const char* e = cl.build(cll, 19, kClBits)) return bad(e);
    const unsigned n = hlit + hdist;
    for (unsigned i = 0; i < n;) {
      if (cnt < 14) refill();
      unsigned s;
      bool good = decode(cl, s);
      if (overread()) return Status::truncated;
      if (!good) return short_of_code() ? Status::truncated : bad("invalid code-length code");
      if (s < 16) {
        lens[i++] = std::uint8_t(s);
        continue;
      }
      unsigned rep;
      std::uint8_t v = 0;
      if (s == 16) {
        if (i == 0) return bad("code-length repeat with no previous length");
        v = lens[i - 1];
        rep = 3 + take(2);
      } else {
        rep = s == 17 ? 3 + take(3) : 11 + take(7);
      }
      if (overread()) return Status::truncated;
      if (i + rep > n) return bad("code lengths run past the end of the alphabet");
      std::memset(lens + i, v, rep);
      i += rep;
    }
    if (lens[256] == 0) return bad("the block has no end-of-block code");
    if (const char* e = lit.build(lens, hlit, kLitBits)) return bad(e);
    if (const char* e = dist.build(lens + hlit, hdist, kDistBits)) return bad(e);
    return Status::ok;
  }

  // The hot loop keeps the bit buffer, input pointer and output position in locals: every
  // output byte is a store through a uint8_t pointer, which may alias any member, so with
  // members the compiler reloads them all after each byte (measured: literal-heavy data decoded
  // at half the speed). Members are brought up to date around the slow paths and on return.
  // It stays one function of some 110 lines: the same loop with the locals in a struct and its
  // steps as inlined methods ran 7% more instructions here (callgrind, 1 MB of text and 2 MB of
  // zeros, GCC 12 -O2), with fill() left out of line unless forced.
  Status codes(const Huffman& lt, const Huffman& dt) {
    const std::uint32_t* const ltab = lt.t.data();
    const std::uint32_t* const dtab = dt.t.data();
    const unsigned lbits = lt.bits, dbits = dt.bits;
    std::uint8_t* const w = win.data();
    std::uint64_t b = bb;
    unsigned c = cnt, pd = pad;
    std::size_t o = pos;
    const std::uint8_t* in = p;
    const std::uint8_t* in_end = end;
    auto spill = [&] {
      bb = b;
      cnt = c;
      pos = o;
      p = in;
    };
    auto reload = [&] {
      b = bb;
      c = cnt;
      pd = pad;
      o = pos;
      in = p;
      in_end = end;
    };
    auto fill = [&] {
      if (in_end - in >= 8) {
        std::uint64_t word;
        std::memcpy(&word, in, 8);
        if constexpr (std::endian::native == std::endian::big) word = __builtin_bswap64(word);
        b |= word << c;
        in += (63 - c) >> 3;
        c |= 56;
      } else {
        spill();
        refill_slow();
        reload();
      }
    };
    auto sym = [&](const std::uint32_t* t, unsigned bits, unsigned& out) {
      std::uint32_t e = t[b & ((1u << bits) - 1)];
      if (((e >> 8) & 0xff) == kSub) {
        b >>= bits;
        c -= bits;
        e = t[(e >> 16) + (b & ((1u << (e & 0xff)) - 1))];
      }
      unsigned n = e & 0xff;
      b >>= n;
      c -= n;
      out = e >> 16;
      return ((e >> 8) & 0xff) == kSym;
    };
    auto bits = [&](unsigned n) {
      std::uint32_t v = std::uint32_t(b & ((std::uint64_t(1) << n) - 1));
      b >>= n;
      c -= n;
      return v;
    };
    auto make_room = [&] {
      if (o < kHist + kSpan) return true;
      spill();
      bool ok = slide();
      reload();
      return ok;
    };
    auto fail = [&](Status st) {
      spill();
      return st;
    };
    for (;;) {
      if (c < kMaxCodeBits + 16) fill();
      unsigned s;
      bool good = sym(ltab, lbits, s);
      if (pd && pd * 8 > c) return fail(Status::truncated);
      if (!good) {
        spill();
        return short_of_code() ? Status::truncated : bad("invalid literal/length code");
      }
      if (s < 256) {
        if (!make_room()) return fail(Status::stopped);
        w[o++] = std::uint8_t(s);
        continue;
      }
      if (s == 256) return fail(Status::ok);
      s -= 257;
      if (s >= 29) return fail(bad("invalid length symbol (286 or 287)"));
      unsigned len = kLenBase[s] + bits(kLenExtra[s]);
      if (c < kMaxCodeBits + 14) fill();
      unsigned d;
      good = sym(dtab, dbits, d);
      if (pd && pd * 8 > c) return fail(Status::truncated);
      if (!good) {
        spill();
        return short_of_code() ? Status::truncated : bad("invalid distance code");
      }
      unsigned distance = kDistBase[d] + bits(kDistExtra[d]);
      if (pd && pd * 8 > c) return fail(Status::truncated);
      if (distance > o) return fail(bad("back-reference before the start of the output"));
      if (!make_room()) return fail(Status::stopped);
      std::uint8_t* to = w + o;
      const std::uint8_t* from = to - distance;
      o += len;
      if (distance >= 8) {
        // Word copies may write up to 7 bytes past the match; the window has room and later
        // output overwrites them.
        for (std::uint8_t* stop = to + len; to < stop; to += 8, from += 8) std::memcpy(to, from, 8);
      } else if (distance == 1) {
        std::memset(to, *from, len);
      } else {
        for (unsigned i = 0; i < len; ++i) to[i] = from[i];
      }
    }
  }
};

Inflate64::Inflate64() : s_(std::make_unique<State>()) {}
Inflate64::~Inflate64() = default;

Inflate64::Status Inflate64::run(const Pull& pull, const Push& push) {
  State& s = *s_;
  s.pull = &pull;
  s.push = &push;
  s.p = s.begin = s.end = nullptr;
  s.base = 0;
  s.ended = false;
  s.pad = 0;
  s.bb = 0;
  s.cnt = 0;
  s.pos = s.flushed = 0;
  s.produced = 0;
  s.why = nullptr;
  error_.clear();

  Status st = Status::ok;
  for (bool last = false; !last && st == Status::ok;) {
    if (s.cnt < 3) s.refill();
    last = s.take(1);
    unsigned type = s.take(2);
    if (s.overread()) st = Status::truncated;
    else if (type == 0) st = s.stored();
    else if (type == 1) st = s.codes(s.fixed_lit, s.fixed_dist);
    else if (type == 2 && (st = s.dynamic()) == Status::ok) st = s.codes(s.lit, s.dist);
    else if (type == 3) st = s.bad("invalid block type 3");
  }
  // Output decoded before a failure is still handed on: repair salvages the intact part.
  if (st != Status::stopped && !s.flush()) st = Status::stopped;
  produced_ = s.produced;
  if (st == Status::truncated) {
    consumed_ = s.taken() - s.pad;
    error_ = "the input ends inside the deflate64 stream";
  } else {
    // A partly used byte belongs to the stream; whole bytes still in the buffer do not.
    consumed_ = s.taken() - std::min<std::uint64_t>(s.cnt / 8, s.taken());
    if (st == Status::corrupt)
      error_ = std::string("deflate64: ") + s.why + " after " + std::to_string(produced_) + " bytes of output";
  }
  return st;
}

}  // namespace zm::codec
