#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace zm::check {

// Why extracting an entry of this name could write outside the target directory, or nullopt.
// Covers `..` components (with `\` taken as a separator too, as a Windows extractor does),
// absolute paths, drive letters and NUL bytes. A backslash elsewhere is no escape: a CP932
// (Shift-JIS) name holds 0x5C as the second byte of many characters.
std::optional<std::string> unsafe_name_reason(const std::string& name);

// The Info-ZIP Unicode Path (0x7075) or Unicode Comment (0x6375) field of an extra block: its
// UTF-8 text when the field is version 1 (any version with `any_version`, as libarchive reads it),
// its CRC-32 is that of `raw` (the header's own name or comment, so that a field a later tool did
// not update is ignored, as unzip and yauzl do) and the text is valid UTF-8; nullopt otherwise.
std::optional<std::string> unicode_extra(std::string_view extra, std::uint16_t id, std::string_view raw,
                                         bool any_version = false);
inline constexpr std::uint16_t kUnicodePathId = 0x7075, kUnicodeCommentId = 0x6375;

// Strict UTF-8 (RFC 3629): no overlong forms, surrogates or values past U+10FFFF. Java's ZipFile
// decodes names and comments this way and refuses the archive when one fails.
bool valid_utf8(std::string_view s);

// The path a restore writes an entry to, as the file system will hold it: empty and "."
// components dropped (so "./a", "d//a", "d/./a", "x/." and a trailing '/' are "a", "d/a" and "x"),
// and a valid UTF-8 name composed to NFC, as libarchive composes an NFD name and as macOS file
// systems and restore keep one. Names that differ only here are one file on disk.
std::string restore_path(std::string_view name);

// S_IFLNK in the Unix mode bits (4.4.15, host 3).
bool is_symlink_mode(std::uint32_t unix_mode);

}  // namespace zm::check
