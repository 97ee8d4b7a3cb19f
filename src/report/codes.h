// Finding codes and entry statuses as enums, with the one table (codes.def) that says each code's
// severity, the readers that refuse what it describes, and its text in the man page.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <fmt/format.h>

namespace zm::report {

enum class Severity { info, warning, error };
const char* to_string(Severity s);

// The six readers of the verdict contract (README, docs/readers.md), as bits.
enum Reader : std::uint8_t {
  kUnzip = 1 << 0,       // Info-ZIP unzip 6.0
  kSevenZip = 1 << 1,    // 7-Zip
  kLibarchive = 1 << 2,  // libarchive (bsdtar)
  kPython = 1 << 3,      // CPython zipfile
  kGo = 1 << 4,          // Go archive/zip
  kJava = 1 << 5,        // java.util.zip.ZipFile
};
using Readers = std::uint8_t;
constexpr Readers kAllReaders = 0x3F;
// "7-Zip and Python", in the table's order; empty for none.
std::string reader_names(Readers r);
// JSON names: unzip, 7zip, libarchive, python, go, java.
const char* reader_id(Reader r);

// The readers a finding concerns, by what each does with what it describes (the verdict
// contract, docs/design.md): `refuse` refuse it, or read other bytes or a name from inconsistent
// data (damage); `warn` complain, or show the same name bytes in another charset or form, but read
// the same bytes (a warning); `lack` lack the feature (a note). check/readers says which reader
// is in which group; docs/readers.md cites why.
struct ReaderGroups {
  Readers refuse = 0, warn = 0, lack = 0;
  bool empty() const { return !(refuse | warn | lack); }
  bool operator==(const ReaderGroups&) const = default;
};
// A finding of zipmedic's own rule (a safety rule, a password, a method it cannot decode, an
// unusual layout every reader reads alike): it names no reader, and its severity is the table's.
inline constexpr ReaderGroups kOwnRule{};
inline ReaderGroups refusing(Readers r) { return {r, 0, 0}; }
inline ReaderGroups warning(Readers r) { return {0, r, 0}; }
inline ReaderGroups lacking(Readers r) { return {0, 0, r}; }

enum class Code : std::uint8_t {
#define ZM_CODE(code, severity, kind, text) code,
#include "report/codes.def"
#undef ZM_CODE
};

struct CodeInfo {
  std::string_view name;
  Severity severity;  // of an OWN code; a READERS code's follows from its reader groups
  bool names_readers;  // READERS: every finding says which readers refuse, warn or lack (codes.def)
  std::string_view text;
};
const CodeInfo& info(Code c);
inline std::string_view to_string(Code c) { return info(c).name; }
std::optional<Code> code_from_string(std::string_view name);
std::size_t code_count();

// What became of one entry; one of these, never free text.
enum class EntryStatus : std::uint8_t { ok, damaged, truncated, encrypted, unsupported, unchecked };
const char* to_string(EntryStatus s);

}  // namespace zm::report

template <>
struct fmt::formatter<zm::report::Code> : fmt::formatter<std::string_view> {
  auto format(zm::report::Code c, fmt::format_context& ctx) const {
    return fmt::formatter<std::string_view>::format(zm::report::to_string(c), ctx);
  }
};
template <>
struct fmt::formatter<zm::report::EntryStatus> : fmt::formatter<std::string_view> {
  auto format(zm::report::EntryStatus s, fmt::format_context& ctx) const {
    return fmt::formatter<std::string_view>::format(zm::report::to_string(s), ctx);
  }
};
