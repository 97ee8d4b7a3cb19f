#include "report/report.h"

#include <map>

namespace zm::report {

const char* to_string(Severity s) {
  switch (s) {
    case Severity::info: return "info";
    case Severity::warning: return "warning";
    case Severity::error: return "error";
  }
  return "error";
}

const char* to_string(Verdict v) {
  switch (v) {
    case Verdict::ok: return "ok";
    case Verdict::damaged: return "damaged";
    case Verdict::unreadable: return "unreadable";
  }
  return "unreadable";
}

Severity severity_of(const std::string& code) {
  // Errors make the verdict `damaged` (exit 1); warnings are shown but a restore can proceed;
  // info explains an unusual but sound layout.
  static const std::map<std::string, Severity> table = {
      {"eocd_missing", Severity::error},
      {"eocd_inconsistent", Severity::error},
      {"cd_unreadable", Severity::error},
      {"cd_lfh_mismatch", Severity::error},
      {"crc_mismatch", Severity::error},
      {"size_mismatch", Severity::error},
      {"decode_error", Severity::error},
      {"entry_truncated", Severity::error},
      {"local_header_unreadable", Severity::error},
      {"descriptor_mismatch", Severity::error},
      {"descriptor_missing", Severity::error},
      {"overlapping_entries", Severity::error},
      {"duplicate_name", Severity::error},
      {"unsafe_path", Severity::error},
      {"encrypted_entry", Severity::error},
      {"unsupported_method", Severity::error},
      {"zip64_inconsistent", Severity::error},
      {"damaged_stretch", Severity::error},
      {"gap_bytes", Severity::warning},
      {"unreferenced_local_header", Severity::warning},
      {"symlink_entry", Severity::warning},
      {"trailing_bytes", Severity::warning},
      {"prefix_bytes", Severity::info},
      {"entry_salvaged", Severity::warning},
      {"crypt_tag_mismatch", Severity::error},
      {"crypt_unauthenticated", Severity::warning},
      {"profile_missing_entry", Severity::error},
      {"profile_bad_content", Severity::error},
      // An error from verify; repair lowers it to a warning (it did what could be done).
      {"backup_incomplete", Severity::error},
  };
  auto it = table.find(code);
  return it == table.end() ? Severity::error : it->second;
}

Finding make_finding(const std::string& code, std::optional<std::string> entry, std::optional<std::uint64_t> offset,
                     std::string message) {
  return Finding{code, severity_of(code), std::move(entry), offset, std::move(message)};
}

bool Report::has_errors() const { return count(Severity::error) > 0; }

std::size_t Report::count(Severity s) const {
  std::size_t n = 0;
  for (const auto& f : findings) n += f.severity == s;
  return n;
}

void Report::decide_verdict() {
  if (verdict != Verdict::unreadable) verdict = has_errors() ? Verdict::damaged : Verdict::ok;
}

std::string printable_name(const std::string& raw) {
  std::string out;
  std::size_t i = 0;
  auto hex = [&](unsigned char c) {
    static const char* d = "0123456789abcdef";
    out += "\\x";
    out += d[c >> 4];
    out += d[c & 15];
  };
  // Strict UTF-8 (RFC 3629 table 3-7): no overlong forms, no surrogates, nothing past U+10FFFF.
  auto at = [&](std::size_t k) { return static_cast<unsigned char>(raw[k]); };
  auto cont = [&](std::size_t k, unsigned lo = 0x80, unsigned hi = 0xBF) {
    return k < raw.size() && at(k) >= lo && at(k) <= hi;
  };
  while (i < raw.size()) {
    unsigned char c = at(i);
    std::size_t len = 0;
    if (c < 0x80) len = 1;
    else if (c >= 0xC2 && c <= 0xDF) len = cont(i + 1) ? 2 : 0;
    else if (c == 0xE0) len = cont(i + 1, 0xA0) && cont(i + 2) ? 3 : 0;
    else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) len = cont(i + 1) && cont(i + 2) ? 3 : 0;
    else if (c == 0xED) len = cont(i + 1, 0x80, 0x9F) && cont(i + 2) ? 3 : 0;
    else if (c == 0xF0) len = cont(i + 1, 0x90) && cont(i + 2) && cont(i + 3) ? 4 : 0;
    else if (c >= 0xF1 && c <= 0xF3) len = cont(i + 1) && cont(i + 2) && cont(i + 3) ? 4 : 0;
    else if (c == 0xF4) len = cont(i + 1, 0x80, 0x8F) && cont(i + 2) && cont(i + 3) ? 4 : 0;
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
