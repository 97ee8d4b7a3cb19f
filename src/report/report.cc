#include "report/report.h"


namespace zm::report {

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
  return Finding{code, i.severity, std::move(entry), offset, std::move(message), i.readers};
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

void Report::decide_verdict() {
  if (verdict == Verdict::unreadable) return;
  bool damage = false, locked = false;
  for (const auto& f : findings) {
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

std::string printable_name(const std::string& raw) {
  std::string out;
  auto hex = [&](unsigned char c) {
    static const char* d = "0123456789abcdef";
    out += "\\x";
    out += d[c >> 4];
    out += d[c & 15];
  };
  for (std::size_t i = 0; i < raw.size();) {
    unsigned char c = static_cast<unsigned char>(raw[i]);
    std::size_t len = utf8_length_at(raw, i);
    if (len == 0 || (len == 1 && (c < 0x20 || c == 0x7f))) {
      hex(c);
      ++i;
    } else {
      out.append(raw, i, len);
      i += len;
    }
  }
  return out;
}

}  // namespace zm::report
