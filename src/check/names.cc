#include <cstdint>

#include "check/names.h"

#include <unicode/normalizer2.h>
#include <unicode/bytestream.h>

#include "codec/codec.h"
#include "report/report.h"

namespace zm::check {

std::optional<std::string> unsafe_name_reason(const std::string& name) {
  if (name.empty()) return "the name is empty";
  if (name.find('\0') != std::string::npos) return "the name contains a NUL byte";
  if (name[0] == '/') return "the name is an absolute path";
  if (name.size() >= 2 && name[1] == ':' && ((name[0] >= 'A' && name[0] <= 'Z') || (name[0] >= 'a' && name[0] <= 'z')))
    return "the name starts with a drive letter";
  // Split on both separators: a Windows extractor treats '\' as one.
  // (No ".." anywhere: no component to look at.)
  std::size_t start = name.find("..") == std::string::npos ? name.size() + 1 : 0;
  while (start <= name.size()) {
    std::size_t end = start;
    while (end < name.size() && name[end] != '/' && name[end] != '\\') ++end;
    if (name.compare(start, end - start, "..") == 0) return "the name has a '..' component";
    start = end + 1;
  }
  if (name[0] == '\\') return "the name is an absolute Windows path";
  return std::nullopt;
}

std::optional<std::string> unicode_extra(std::string_view extra, std::uint16_t id, std::string_view raw,
                                         bool any_version) {
  auto at = [&](std::size_t k) { return static_cast<std::uint8_t>(extra[k]); };
  for (std::size_t p = 0; p + 4 <= extra.size();) {
    const std::size_t len = at(p + 2) | at(p + 3) << 8;
    if (p + 4 + len > extra.size()) return std::nullopt;
    if ((at(p) | at(p + 1) << 8) == id && len >= 5 && (at(p + 4) == 1 || any_version)) {
      const std::uint32_t crc = std::uint32_t(at(p + 5)) | std::uint32_t(at(p + 6)) << 8 |
                                std::uint32_t(at(p + 7)) << 16 | std::uint32_t(at(p + 8)) << 24;
      const auto* r = reinterpret_cast<const std::uint8_t*>(raw.data());
      std::string text(extra.substr(p + 9, len - 5));
      if (crc != codec::crc32(0, {r, raw.size()}) || text.empty() || !valid_utf8(text)) return std::nullopt;
      return text;
    }
    p += 4 + len;
  }
  return std::nullopt;
}

bool valid_utf8(std::string_view s) {
  for (std::size_t i = 0, len; i < s.size(); i += len) {
    // ASCII, as most names are, without a call per byte (a million-entry repair asks of every name).
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      len = 1;
      continue;
    }
    if (!(len = report::utf8_length_at(s, i))) return false;
  }
  return true;
}

std::string restore_path(std::string_view name) {
  std::string out;
  out.reserve(name.size());
  bool ascii = true;
  for (std::size_t start = 0; start <= name.size();) {
    std::size_t end = name.find('/', start);
    if (end == std::string_view::npos) end = name.size();
    const std::string_view part = name.substr(start, end - start);
    if (!part.empty() && part != ".") {
      if (!out.empty()) out += '/';
      out += part;
    }
    start = end + 1;
  }
  for (unsigned char c : out) ascii &= c < 0x80;
  if (ascii || !valid_utf8(out)) return out;
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* nfc = icu::Normalizer2::getNFCInstance(status);
  if (U_FAILURE(status) || nfc->isNormalizedUTF8(out, status)) return out;
  std::string composed;
  icu::StringByteSink<std::string> sink(&composed);
  status = U_ZERO_ERROR;
  nfc->normalizeUTF8(0, out, sink, nullptr, status);
  return U_SUCCESS(status) ? composed : out;
}

bool is_symlink_mode(std::uint32_t mode) { return (mode & 0170000) == 0120000; }

}  // namespace zm::check
