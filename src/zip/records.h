// ZIP record layouts. Section numbers refer to PKWARE's APPNOTE.TXT 6.3.10.
// Pure parsing and serialising over byte spans: no I/O here.
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace zm::zip {

using Bytes = std::span<const std::uint8_t>;

inline constexpr std::uint32_t kLocalSig = 0x04034b50;       // PK\3\4, 4.3.7
inline constexpr std::uint32_t kDescriptorSig = 0x08074b50;  // PK\7\8, 4.3.9.3
inline constexpr std::uint32_t kCentralSig = 0x02014b50;     // PK\1\2, 4.3.12
inline constexpr std::uint32_t kZip64EndSig = 0x06064b50;    // PK\6\6, 4.3.14
inline constexpr std::uint32_t kZip64LocatorSig = 0x07064b50;// PK\6\7, 4.3.15
inline constexpr std::uint32_t kEndSig = 0x06054b50;         // PK\5\6, 4.3.16

inline constexpr std::size_t kLocalHeaderLen = 30;    // + name + extra
inline constexpr std::size_t kCentralHeaderLen = 46;  // + name + extra + comment
inline constexpr std::size_t kEndLen = 22;            // + comment
inline constexpr std::size_t kZip64EndLen = 56;       // + extensible data
inline constexpr std::size_t kZip64LocatorLen = 20;
inline constexpr std::size_t kMaxCommentLen = 0xFFFF;

inline constexpr std::uint16_t kZip64ExtraId = 0x0001;  // 4.5.3
inline constexpr std::uint32_t kMax32 = 0xFFFFFFFF;
inline constexpr std::uint16_t kMax16 = 0xFFFF;

// General purpose bits, 4.4.4.
inline constexpr std::uint16_t kFlagEncrypted = 1u << 0;
inline constexpr std::uint16_t kFlagDescriptor = 1u << 3;
inline constexpr std::uint16_t kFlagStrongEncryption = 1u << 6;
inline constexpr std::uint16_t kFlagUtf8 = 1u << 11;

// Compression methods, 4.4.5.
enum Method : std::uint16_t {
  kStored = 0, kDeflate = 8, kDeflate64 = 9, kBzip2 = 12, kLzma = 14, kZstd = 93, kXz = 95, kPpmd = 98,
  kAesMarker = 99,
};
std::string method_name(std::uint16_t m);

// Thrown by the cursor when a record claims more bytes than it has; callers turn it into a
// Finding at the scan boundary.
struct FormatError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Cursor {
 public:
  explicit Cursor(Bytes b) : b_(b) {}
  std::uint8_t u8() { need(1); return b_[pos_++]; }
  std::uint16_t u16() { need(2); std::uint16_t v = b_[pos_] | (b_[pos_ + 1] << 8); pos_ += 2; return v; }
  std::uint32_t u32() {
    need(4);
    std::uint32_t v = std::uint32_t(b_[pos_]) | std::uint32_t(b_[pos_ + 1]) << 8 |
                      std::uint32_t(b_[pos_ + 2]) << 16 | std::uint32_t(b_[pos_ + 3]) << 24;
    pos_ += 4;
    return v;
  }
  std::uint64_t u64() { std::uint64_t lo = u32(); std::uint64_t hi = u32(); return lo | hi << 32; }
  Bytes take(std::size_t n) { need(n); Bytes r = b_.subspan(pos_, n); pos_ += n; return r; }
  std::string str(std::size_t n) { Bytes r = take(n); return std::string(r.begin(), r.end()); }
  std::size_t pos() const { return pos_; }
  std::size_t left() const { return b_.size() - pos_; }

 private:
  void need(std::size_t n) const {
    if (n > b_.size() - pos_) throw FormatError("record runs past the bytes available");
  }
  Bytes b_;
  std::size_t pos_ = 0;
};

inline std::uint32_t load_u32(const std::uint8_t* p) {
  return std::uint32_t(p[0]) | std::uint32_t(p[1]) << 8 | std::uint32_t(p[2]) << 16 | std::uint32_t(p[3]) << 24;
}
inline std::uint64_t load_u64(const std::uint8_t* p) {
  return std::uint64_t(load_u32(p)) | std::uint64_t(load_u32(p + 4)) << 32;
}

// Values a ZIP64 extended-information field (4.5.3) may carry; absent ones stay empty.
struct Zip64Extra {
  std::optional<std::uint64_t> uncompressed, compressed, offset;
  std::optional<std::uint32_t> disk;
};

// Reads the ZIP64 field from an extra block. Only the values whose classic field is all-ones are
// present, in the fixed order of 4.5.3; `want_*` say which ones the classic fields asked for.
// A local header must carry both sizes (4.5.3), but zipstream-ng writes both even when the
// classic fields are not all-ones, so when the field is exactly 16 bytes both sizes are read.
std::optional<Zip64Extra> parse_zip64_extra(Bytes extra, bool want_uncomp, bool want_comp, bool want_offset,
                                            bool want_disk, bool* malformed = nullptr);
// False when a field's header is whole but its data runs past the end of the block (4.5.1).
// Python's zipfile and libarchive refuse such a block; 1-3 trailing bytes too short for a
// field header they skip, and so does this.
bool extra_well_formed(Bytes extra);
// An extra block of 1 to 3 bytes in all that are not all zero: libarchive refuses the entry
// ("Too-small extra data", process_extra; docs/readers.md, rule 24). Zero bytes it skips.
bool extra_too_small(Bytes extra);
// The data of every field of `id` in an extra block, in order (a field running past the block
// ends the walk).
std::vector<Bytes> extra_fields(Bytes extra, std::uint16_t id);
// libarchive's "xl" field (0x6c78; archive_read_support_format_zip.c, process_extra): a bitmap
// byte (more follow while its high bit is set), then "version made by" (bit 0), internal
// attributes (bit 1) and external attributes (bit 2), each read only when the bytes are there.
// What libarchive takes from every such field of a block, in order, the last value winning.
inline constexpr std::uint16_t kXlExtraId = 0x6c78;
struct XlField {
  bool has_made_by = false, has_external = false;
  std::uint16_t made_by = 0;
  std::uint32_t external = 0;
  bool any() const { return has_made_by || has_external; }
};
XlField xl_field(Bytes extra);
// 4.5.5: the NTFS extra field (0x000a): 4 reserved bytes, then attributes as tag, size, data;
// tag 1 (24 bytes) holds the modification, access and creation times as Windows FILETIMEs (100 ns
// since 1601-01-01 UTC). The modification time as Unix seconds and nanoseconds, when present.
inline constexpr std::uint16_t kNtfsExtraId = 0x000a;
struct UnixTime {
  std::int64_t seconds = 0;
  std::uint32_t nanoseconds = 0;
};
std::optional<UnixTime> ntfs_modified(Bytes extra);
// The extra block with every field of `id` removed (used when a repair writes its own ZIP64 field).
std::string strip_extra(Bytes extra, std::uint16_t id);

// 4.3.7
struct LocalFileHeader {
  std::uint16_t version_needed = 0, flags = 0, method = 0, mod_time = 0, mod_date = 0;
  std::uint32_t crc32 = 0, compressed_size = 0, uncompressed_size = 0;
  std::uint16_t name_len = 0, extra_len = 0;
  std::string name, extra;
  std::size_t header_len() const { return kLocalHeaderLen + name_len + extra_len; }
  std::optional<Zip64Extra> zip64;  // from extra, when present
};
// Parses the fixed part (30 bytes) only; `name`/`extra` are filled by parse_local_tail.
LocalFileHeader parse_local_fixed(Bytes b30);
void parse_local_tail(LocalFileHeader& h, Bytes tail);
// The name's length from a local header's fixed part (4.3.7), without asking for the signature:
// what a header cut short still tells of its name.
std::uint16_t local_name_len(Bytes b30);
// Its compression method, likewise.
std::uint16_t local_method(Bytes b30);

// 4.3.12
struct CentralDirectoryHeader {
  std::uint16_t version_made_by = 0, version_needed = 0, flags = 0, method = 0, mod_time = 0, mod_date = 0;
  std::uint32_t crc32 = 0, compressed_size = 0, uncompressed_size = 0;
  std::uint16_t name_len = 0, extra_len = 0, comment_len = 0, disk_start = 0, internal_attr = 0;
  std::uint32_t external_attr = 0, local_offset = 0;
  std::string name, extra, comment;
  std::size_t record_len() const { return kCentralHeaderLen + name_len + extra_len + comment_len; }
};
// Throws FormatError if the record does not fit in `b` or lacks its signature.
CentralDirectoryHeader parse_central(Cursor& c);
// The whole record's length (4.3.12: 46 bytes, then name, extra field and comment) from its fixed
// part, where a reader walking records one after another finds the next; nullopt when the fixed
// part is short or lacks the PK\1\2 signature.
std::optional<std::size_t> central_record_len(Bytes b46);

// 4.3.16
struct EndOfCentralDirectory {
  std::uint16_t disk = 0, cd_disk = 0, entries_on_disk = 0, entries_total = 0;
  std::uint32_t cd_size = 0, cd_offset = 0;
  std::uint16_t comment_len = 0;
};
EndOfCentralDirectory parse_end(Bytes b22);

// 4.3.15
struct Zip64Locator {
  std::uint32_t cd_disk = 0;
  std::uint64_t zip64_end_offset = 0;
  std::uint32_t total_disks = 0;
};
Zip64Locator parse_zip64_locator(Bytes b20);

// 4.3.14
struct Zip64End {
  std::uint64_t record_size = 0;  // excludes the leading 12 bytes
  std::uint16_t version_made_by = 0, version_needed = 0;
  std::uint32_t disk = 0, cd_disk = 0;
  std::uint64_t entries_on_disk = 0, entries_total = 0, cd_size = 0, cd_offset = 0;
};
Zip64End parse_zip64_end(Bytes b56);

// Serialisation, little-endian, appended to `out`.
// Inline: a million-entry repair writes two records an entry, each of a dozen fields.
inline void put16(std::string& out, std::uint16_t v) {
  const char b[2] = {char(v), char(v >> 8)};
  out.append(b, 2);
}
inline void put32(std::string& out, std::uint32_t v) {
  const char b[4] = {char(v), char(v >> 8), char(v >> 16), char(v >> 24)};
  out.append(b, 4);
}
inline void put64(std::string& out, std::uint64_t v) {
  put32(out, std::uint32_t(v));
  put32(out, std::uint32_t(v >> 32));
}

}  // namespace zm::zip
