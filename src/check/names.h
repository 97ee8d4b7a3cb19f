#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace zm::check {

// Why extracting an entry of this name could write outside the target directory, or nullopt.
// Covers `..` components, absolute paths, drive letters, backslashes (Windows separators that
// POSIX tools keep as part of a name) and NUL bytes.
std::optional<std::string> unsafe_name_reason(const std::string& name);

// Strict UTF-8 (RFC 3629): no overlong forms, surrogates or values past U+10FFFF. Java's ZipFile
// decodes names and comments this way and refuses the archive when one fails.
bool valid_utf8(std::string_view s);

// S_IFLNK in the Unix mode bits (4.4.15, host 3).
bool is_symlink_mode(std::uint32_t unix_mode);

}  // namespace zm::check
