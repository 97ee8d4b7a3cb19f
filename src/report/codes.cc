#include "report/codes.h"

#include <array>

namespace zm::report {

namespace {
constexpr bool READERS = true, OWN = false;

constexpr CodeInfo kTable[] = {
#define ZM_CODE(code, severity, kind, text) {#code, Severity::severity, kind, text},
#include "report/codes.def"
#undef ZM_CODE
};
}  // namespace

const char* to_string(Severity s) {
  switch (s) {
    case Severity::info: return "info";
    case Severity::warning: return "warning";
    case Severity::error: return "error";
  }
  return "error";
}

const CodeInfo& info(Code c) { return kTable[std::size_t(c)]; }
std::size_t code_count() { return std::size(kTable); }

std::optional<Code> code_from_string(std::string_view name) {
  for (std::size_t i = 0; i < std::size(kTable); ++i)
    if (kTable[i].name == name) return Code(i);
  return std::nullopt;
}

const char* reader_id(Reader r) {
  switch (r) {
    case kUnzip: return "unzip";
    case kSevenZip: return "7zip";
    case kLibarchive: return "libarchive";
    case kPython: return "python";
    case kGo: return "go";
    case kJava: return "java";
  }
  return "?";
}

std::string reader_names(Readers r) {
  static constexpr std::pair<Reader, const char*> kNames[] = {{kUnzip, "unzip"},   {kSevenZip, "7-Zip"},
                                                              {kLibarchive, "libarchive"}, {kPython, "Python"},
                                                              {kGo, "Go"},         {kJava, "Java"}};
  std::string out;
  int n = 0, total = __builtin_popcount(r);
  for (auto [bit, name] : kNames) {
    if (!(r & bit)) continue;
    ++n;
    if (n > 1) out += n == total ? " and " : ", ";
    out += name;
  }
  return out;
}

const char* to_string(EntryStatus s) {
  switch (s) {
    case EntryStatus::ok: return "ok";
    case EntryStatus::damaged: return "damaged";
    case EntryStatus::truncated: return "truncated";
    case EntryStatus::encrypted: return "encrypted";
    case EntryStatus::unsupported: return "unsupported";
    case EntryStatus::unchecked: return "unchecked";
  }
  return "unchecked";
}

}  // namespace zm::report
