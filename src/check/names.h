#pragma once
#include <optional>
#include <string>

namespace zm::check {

// Why extracting an entry of this name could write outside the target directory, or nullopt.
// Covers `..` components, absolute paths, drive letters, backslashes (Windows separators that
// POSIX tools keep as part of a name) and NUL bytes.
std::optional<std::string> unsafe_name_reason(const std::string& name);

// S_IFLNK in the Unix mode bits (4.4.15, host 3).
bool is_symlink_mode(std::uint32_t unix_mode);

}  // namespace zm::check
