#include "report/report.h"

#include <cassert>

#include <iconv.h>

#include <cerrno>
#include <unordered_map>


namespace zm::report {

namespace {
class Holding final : public RowSource {
 public:
  Holding(std::shared_ptr<const RowSource> rows, std::shared_ptr<const void> owner)
      : owner_(std::move(owner)), rows_(std::move(rows)) {}
  std::size_t size() const override { return rows_->size(); }
  std::size_t ok() const override { return rows_->ok(); }
  void each(const std::function<void(const EntryRow&)>& f) const override { rows_->each(f); }

 private:
  std::shared_ptr<const void> owner_;  // declared first: outlives the rows that read from it
  std::shared_ptr<const RowSource> rows_;
};
}  // namespace

std::shared_ptr<const RowSource> holding(std::shared_ptr<const RowSource> rows, std::shared_ptr<const void> owner) {
  return std::make_shared<Holding>(std::move(rows), std::move(owner));
}

const char* to_string(Verdict v) {
  switch (v) {
    case Verdict::ok: return "ok";
    case Verdict::damaged: return "damaged";
    case Verdict::unreadable: return "unreadable";
    case Verdict::locked: return "locked";
  }
  return "unreadable";
}

Finding make_finding(Code code, std::optional<std::string> entry, std::optional<std::uint64_t> offset,
                     std::string message) {
  const auto& i = info(code);
  // A READERS code has no default list: its rule must say which readers it concerns. The
  // sanitizer build, which keeps assertions, runs every test with this check.
  assert(!i.names_readers && "a finding of this code must name its readers");
  return Finding{code, i.severity, std::move(entry), offset, std::move(message), {}};
}

Severity severity_of(Code code, const ReaderGroups& g) {
  if (g.empty()) return info(code).severity;
  return g.refuse ? Severity::error : g.warn ? Severity::warning : Severity::info;
}

Finding make_finding(Code code, std::optional<std::string> entry, std::optional<std::uint64_t> offset,
                     std::string message, ReaderGroups readers) {
  // Empty groups would give a READERS code the table's severity, the default list codes.def no
  // longer has: its rule must name the readers here too.
  assert((!info(code).names_readers || !readers.empty()) && "a finding of this code must name its readers");
  readers.warn &= ~readers.refuse;  // a reader that refuses is not also one that only warns
  return Finding{code, severity_of(code, readers), std::move(entry), offset, std::move(message), readers};
}

std::size_t Report::rows_ok() const {
  if (lazy_rows) return lazy_rows->ok();
  std::size_t n = 0;
  for (const auto& e : entries) n += e.status == EntryStatus::ok;
  return n;
}

void Report::for_each_row(const std::function<void(const EntryRow&)>& f) const {
  if (lazy_rows) return lazy_rows->each(f);
  for (const auto& e : entries) f(e);
}

bool Report::has_errors() const { return count(Severity::error) > 0; }

std::size_t Report::count(Severity s) const {
  std::size_t n = 0;
  for (const auto& f : findings) n += f.severity == s;
  return n;
}

void Report::decide_verdict(bool strict) {
  if (verdict == Verdict::unreadable) return;
  bool damage = false, locked = false;
  for (const auto& f : findings) {
    if (f.severity == Severity::warning && strict) damage = true;
    if (f.severity != Severity::error) continue;
    (f.code == Code::password_needed || f.code == Code::password_wrong ? locked : damage) = true;
  }
  verdict = damage ? Verdict::damaged : locked ? Verdict::locked : Verdict::ok;
}

std::size_t utf8_length_at(std::string_view s, std::size_t i) {
  // Strict UTF-8 (RFC 3629 table 3-7): no overlong forms, no surrogates, nothing past U+10FFFF.
  auto at = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  auto cont = [&](std::size_t k, unsigned lo = 0x80, unsigned hi = 0xBF) {
    return k < s.size() && at(k) >= lo && at(k) <= hi;
  };
  unsigned char c = at(i);
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return cont(i + 1) ? 2 : 0;
  if (c == 0xE0) return cont(i + 1, 0xA0) && cont(i + 2) ? 3 : 0;
  if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) return cont(i + 1) && cont(i + 2) ? 3 : 0;
  if (c == 0xED) return cont(i + 1, 0x80, 0x9F) && cont(i + 2) ? 3 : 0;
  if (c == 0xF0) return cont(i + 1, 0x90) && cont(i + 2) && cont(i + 3) ? 4 : 0;
  if (c >= 0xF1 && c <= 0xF3) return cont(i + 1) && cont(i + 2) && cont(i + 3) ? 4 : 0;
  if (c == 0xF4) return cont(i + 1, 0x80, 0x8F) && cont(i + 2) && cont(i + 3) ? 4 : 0;
  return 0;
}

namespace {

void append_hex(std::string& out, unsigned char c) {
  static const char* d = "0123456789abcdef";
  out += "\\x";
  out += d[c >> 4];
  out += d[c & 15];
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += char(cp);
  } else if (cp < 0x800) {
    out += char(0xC0 | cp >> 6);
    out += char(0x80 | (cp & 0x3F));
  } else {
    out += char(0xE0 | cp >> 12);
    out += char(0x80 | (cp >> 6 & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  }
}

bool control(unsigned char c) { return c < 0x20 || c == 0x7f; }

// IBM PC code page 437, 0x80 to 0xFF: what MS-DOS and the OEM code page of a US or Western
// European Windows write, and what APPNOTE appendix D names for names without bit 11.
constexpr char16_t kCp437High[128] = {
    0x00C7, 0x00FC, 0x00E9, 0x00E2, 0x00E4, 0x00E0, 0x00E5, 0x00E7,  // 0x80
    0x00EA, 0x00EB, 0x00E8, 0x00EF, 0x00EE, 0x00EC, 0x00C4, 0x00C5,  // 0x88
    0x00C9, 0x00E6, 0x00C6, 0x00F4, 0x00F6, 0x00F2, 0x00FB, 0x00F9,  // 0x90
    0x00FF, 0x00D6, 0x00DC, 0x00A2, 0x00A3, 0x00A5, 0x20A7, 0x0192,  // 0x98
    0x00E1, 0x00ED, 0x00F3, 0x00FA, 0x00F1, 0x00D1, 0x00AA, 0x00BA,  // 0xA0
    0x00BF, 0x2310, 0x00AC, 0x00BD, 0x00BC, 0x00A1, 0x00AB, 0x00BB,  // 0xA8
    0x2591, 0x2592, 0x2593, 0x2502, 0x2524, 0x2561, 0x2562, 0x2556,  // 0xB0
    0x2555, 0x2563, 0x2551, 0x2557, 0x255D, 0x255C, 0x255B, 0x2510,  // 0xB8
    0x2514, 0x2534, 0x252C, 0x251C, 0x2500, 0x253C, 0x255E, 0x255F,  // 0xC0
    0x255A, 0x2554, 0x2569, 0x2566, 0x2560, 0x2550, 0x256C, 0x2567,  // 0xC8
    0x2568, 0x2564, 0x2565, 0x2559, 0x2558, 0x2552, 0x2553, 0x256B,  // 0xD0
    0x256A, 0x2518, 0x250C, 0x2588, 0x2584, 0x258C, 0x2590, 0x2580,  // 0xD8
    0x03B1, 0x00DF, 0x0393, 0x03C0, 0x03A3, 0x03C3, 0x00B5, 0x03C4,  // 0xE0
    0x03A6, 0x0398, 0x03A9, 0x03B4, 0x221E, 0x03C6, 0x03B5, 0x2229,  // 0xE8
    0x2261, 0x00B1, 0x2265, 0x2264, 0x2320, 0x2321, 0x00F7, 0x2248,  // 0xF0
    0x00B0, 0x2219, 0x00B7, 0x221A, 0x207F, 0x00B2, 0x25A0, 0x00A0,  // 0xF8
};

std::string g_legacy_charset;  // empty: CP437

std::string decode_cp437(const std::string& raw) {
  std::string out;
  out.reserve(raw.size() + raw.size() / 2);
  for (unsigned char c : raw) {
    if (control(c))
      append_hex(out, c);
    else if (c < 0x80)
      out += char(c);
    else
      append_utf8(out, kCp437High[c - 0x80]);
  }
  return out;
}

// Through glibc's iconv: a byte it cannot convert keeps its \xNN form and the rest goes on.
// One descriptor per thread, opened once (iconv_open is the costly part for a million names).
std::string decode_legacy(const std::string& raw) {
  thread_local std::string open_for;
  thread_local iconv_t cd = iconv_t(-1);
  if (open_for != g_legacy_charset) {
    if (cd != iconv_t(-1)) iconv_close(cd);
    cd = iconv_open("UTF-8", g_legacy_charset.c_str());
    open_for = g_legacy_charset;
  }
  if (cd == iconv_t(-1)) return decode_cp437(raw);
  iconv(cd, nullptr, nullptr, nullptr, nullptr);
  std::string out, in = raw;
  char* ip = in.data();
  std::size_t left = in.size();
  char buf[256];
  while (left) {
    char* op = buf;
    std::size_t room = sizeof buf;
    const bool stuck = iconv(cd, &ip, &left, &op, &room) == std::size_t(-1) && errno != E2BIG;
    // The control characters of the converted text are escaped: in the ASCII-based code pages
    // iconv knows they are the name's own bytes, and UTF-8 holds no byte below 0x80 otherwise.
    for (char* p = buf; p < op; ++p)
      if (control(static_cast<unsigned char>(*p)))
        append_hex(out, static_cast<unsigned char>(*p));
      else
        out += *p;
    if (stuck) {
      // EILSEQ, or EINVAL for a sequence cut by the end of the name: that byte as printable_name
      // shows it, and on with the next.
      append_hex(out, static_cast<unsigned char>(*ip));
      ++ip;
      --left;
      iconv(cd, nullptr, nullptr, nullptr, nullptr);
    }
  }
  return out;
}

}  // namespace

char32_t cp437_code_point(unsigned char c) { return c < 0x80 ? c : kCp437High[c - 0x80]; }

bool set_legacy_charset(const std::string& charset) {
  if (charset.empty()) {
    g_legacy_charset.clear();
    return true;
  }
  iconv_t cd = iconv_open("UTF-8", charset.c_str());
  if (cd == iconv_t(-1)) return false;
  iconv_close(cd);
  g_legacy_charset = charset;
  return true;
}

bool is_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    std::size_t len = utf8_length_at(s, i);
    if (len == 0) return false;
    i += len;
  }
  return true;
}

std::string display_name(const std::string& raw, std::uint16_t flags) {
  if ((flags & (1u << 11)) || is_utf8(raw)) return printable_name(raw);
  return g_legacy_charset.empty() ? decode_cp437(raw) : decode_legacy(raw);
}

std::string other_display_name(const std::string& raw, std::uint16_t flags) {
  return (flags & (1u << 11)) || is_utf8(raw) ? std::string() : display_name(raw, flags);
}

std::string shown_name(const EntryRow& e) { return e.display_name.empty() ? printable_name(e.name) : e.display_name; }

std::string shown_entry(const Finding& f) {
  if (!f.entry) return "";
  if (!f.entry_legacy) return printable_name(*f.entry);
  return display_name(*f.entry, 0) + " (bytes " + printable_name(*f.entry) + ")";
}

void Report::settle_display_names() {
  // Keyed by views of the findings' own strings; true once a row of that name lacks bit 11.
  std::unordered_map<std::string_view, bool> wanted;
  for (const auto& f : findings)
    if (f.entry && !is_utf8(*f.entry)) wanted.emplace(*f.entry, false);
  if (wanted.empty()) return;
  for_each_row([&](const EntryRow& e) {
    // A row has a display_name exactly when its name lacks bit 11 and is not UTF-8.
    if (e.display_name.empty()) return;
    auto it = wanted.find(e.name);
    if (it != wanted.end()) it->second = true;
  });
  for (auto& f : findings)
    if (f.entry) {
      auto it = wanted.find(*f.entry);
      f.entry_legacy = it != wanted.end() && it->second;
    }
}

std::string printable_name(std::string_view raw) {
  std::string out;
  auto hex = [&](unsigned char c) { append_hex(out, c); };
  for (std::size_t i = 0; i < raw.size();) {
    unsigned char c = static_cast<unsigned char>(raw[i]);
    std::size_t len = utf8_length_at(raw, i);
    if (len == 0 || (len == 1 && (c < 0x20 || c == 0x7f))) {
      hex(c);
      ++i;
    } else {
      out.append(raw.substr(i, len));
      i += len;
    }
  }
  return out;
}

}  // namespace zm::report
