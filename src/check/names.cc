#include <cstdint>

#include "check/names.h"

namespace zm::check {

std::optional<std::string> unsafe_name_reason(const std::string& name) {
  if (name.empty()) return "the name is empty";
  if (name.find('\0') != std::string::npos) return "the name contains a NUL byte";
  if (name[0] == '/') return "the name is an absolute path";
  if (name.size() >= 2 && name[1] == ':' && ((name[0] >= 'A' && name[0] <= 'Z') || (name[0] >= 'a' && name[0] <= 'z')))
    return "the name starts with a drive letter";
  bool backslash = name.find('\\') != std::string::npos;
  // Split on both separators: a Windows extractor treats '\' as one.
  std::size_t start = 0;
  while (start <= name.size()) {
    std::size_t end = name.find_first_of("/\\", start);
    if (end == std::string::npos) end = name.size();
    if (name.compare(start, end - start, "..") == 0) return "the name has a '..' component";
    start = end + 1;
  }
  if (name[0] == '\\') return "the name is an absolute Windows path";
  if (backslash) return "the name contains a backslash";
  return std::nullopt;
}

bool is_symlink_mode(std::uint32_t mode) { return (mode & 0170000) == 0120000; }

}  // namespace zm::check
