#include "check/readers.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <string>

namespace zm::check::readers {
using namespace report;

Readers lacking_method(std::uint16_t m) {
  switch (m) {
    case zip::kStored: case zip::kDeflate: return 0;
    // Shrink (1), Implode (6) and Deflate64 (9): only unzip and 7-Zip; libarchive 3.6.2 says
    // "Unsupported ZIP compression method (9)".
    case 1: case 6: case zip::kDeflate64: return kLibarchive | kPython | kGo | kJava;
    case zip::kBzip2: return kGo | kJava;
    case zip::kLzma: return kUnzip | kGo | kJava;
    case zip::kZstd: case zip::kXz: case zip::kPpmd: case 99: return kUnzip | kPython | kGo | kJava;
    default: return kAllReaders;
  }
}

Readers lacking_encryption(std::uint16_t flags, std::uint16_t method) {
  if (flags & zip::kFlagStrongEncryption) return kAllReaders;
  // Go ignores bit 0 and hands out the ciphertext; Java refuses the archive.
  if ((flags & zip::kFlagEncrypted) && method != zip::kAesMarker) return kGo | kJava;
  return 0;
}

bool libarchive_reads_link(std::uint16_t m) { return m == zip::kStored || m == zip::kDeflate; }

bool libarchive_fails_lzma(std::uint16_t m, std::uint64_t uncompressed_size, std::uint64_t compressed_size) {
  return m == zip::kLzma && uncompressed_size == 0 && compressed_size > 0;
}

bool libarchive_bounds_by_local_size(std::uint16_t m) {
  return m == zip::kBzip2 || m == zip::kLzma || m == zip::kZstd || m == zip::kXz;
}

namespace {
constexpr unsigned kPythonMaxVersion = 63, kUnzipMaxVersion = 46, kUnzipMaxVersionVms = 42;
constexpr unsigned kHostVms = 2;
}  // namespace

Readers refusing_version(std::uint16_t version_needed, std::uint16_t method) {
  const unsigned version = version_needed & 0xFF, host = version_needed >> 8;
  Readers refuse = 0;
  if (version > kPythonMaxVersion) refuse |= kPython;
  if (has_method(kUnzip, method) && version > (host == kHostVms ? kUnzipMaxVersionVms : kUnzipMaxVersion))
    refuse |= kUnzip;
  return refuse;
}

std::uint16_t flags_sevenzip_ignores(std::uint16_t m) {
  // FlagsAreSame's masks are 0x7FF9 and 0x7FFF: bit 15 only up to implode and for Deflate.
  return zip::kFlagDescriptor | zip::kFlagUtf8 | (m == zip::kDeflate ? 0x6 : 0) |
         (m <= 6 || m == zip::kDeflate ? 0x8000 : 0);
}

bool unzip_converts(const NameCopy& c) {
  const unsigned host = c.version_made_by >> 8, ver = c.version_made_by & 0xFF;
  const bool unix_attrs = c.external_attr & 0xFFFF0000u;
  const bool pkzip_win = ver == 25 || ver == 26 || ver == 40;
  const bool oem = (host == 0 && !((c.local || unix_attrs) && pkzip_win)) || host == 6 || (host == 11 && ver == 50);
  return oem && !((c.flags & zip::kFlagUtf8) && c.has_extra);
}

Readers refusing_name(bool utf8, bool control, bool flag_utf8, bool unicode_path) {
  Readers refuse = 0;
  if (!utf8 && flag_utf8) refuse |= kJava | kPython | kLibarchive;
  if (control && !unicode_path) refuse |= kUnzip;
  return refuse;
}

Readers taking_local_values(const Claims& local, const Claims& directory) {
  Readers r = 0;
  if (local.crc32 != directory.crc32) r |= kUnzip | kSevenZip | (local.crc32 ? kLibarchive : 0);
  if (local.compressed_size != directory.compressed_size)
    r |= kUnzip | kSevenZip | (local.compressed_size ? kLibarchive : 0);
  if (local.uncompressed_size != directory.uncompressed_size)
    r |= kSevenZip | (local.uncompressed_size && local.uncompressed_size != zip::kMax32 ? kLibarchive : 0);
  return r;
}

report::ReaderGroups checking_uncompressed_size(std::uint16_t method, bool data_longer, bool sevenzip_checks) {
  return {Readers((sevenzip_checks ? kSevenZip : 0) | kLibarchive | kGo | (data_longer ? kPython : 0)),
          Readers(method == zip::kStored ? kUnzip : 0), 0};
}

bool sevenzip_checks_size(std::uint16_t method, bool descriptor, std::uint64_t size, bool zip64_extra) {
  return method == zip::kStored || !descriptor || size >= (std::uint64_t(1) << 32) || zip64_extra;
}

void moot_where_lacking(report::Finding& f, std::uint16_t flags, std::uint16_t method) {
  const Readers moot = (f.readers.refuse | f.readers.warn) & (lacking_method(method) | lacking_encryption(flags, method));
  if (!moot) return;
  f.readers.refuse &= ~moot;
  f.readers.warn &= ~moot;
  f.readers.lack |= moot;
  f.severity = report::severity_of(f.code, f.readers);
}

bool size_binds_no_reader(std::uint16_t method, bool sevenzip_checks) {
  return method != zip::kStored && !(checking_uncompressed_size(method, true, sevenzip_checks).refuse & ~lacking_method(method));
}

report::ReaderGroups refusing_missing_zip64(bool only_uncompressed, bool sevenzip_checks) {
  const Readers both = kLibarchive | kPython;
  if (!only_uncompressed) return {Readers(both | kSevenZip | kGo), kUnzip, 0};
  return {Readers(both | (sevenzip_checks ? kSevenZip : 0)), kUnzip, 0};
}

Readers renaming_dot_leaf(std::string_view name) {
  if (name == ".") return kUnzip | kSevenZip | kLibarchive;
  return name.size() >= 2 && name.ends_with("/.") ? kUnzip | kSevenZip : 0;
}

bool has_combining_mark(std::string_view s) {
  for (std::size_t i = 0; i + 1 < s.size(); ++i) {
    const auto a = static_cast<unsigned char>(s[i]), b = static_cast<unsigned char>(s[i + 1]);
    if ((a == 0xCC && b >= 0x80 && b <= 0xBF) || (a == 0xCD && b >= 0x80 && b <= 0xAF)) return true;
  }
  return false;
}

Readers splitting_backslashes(std::string_view name, std::uint16_t version_made_by, bool unicode_path) {
  if (unicode_path || name.find('/') != std::string_view::npos || name.find('\\') == std::string_view::npos) return 0;
  return kLibarchive | ((version_made_by >> 8) == 0 ? kUnzip : 0);
}

AttributeKinds attribute_kinds(std::uint16_t version_made_by, std::uint32_t attr, std::uint64_t uncompressed_size) {
  AttributeKinds k;
  const unsigned host = version_made_by >> 8;
  const std::uint32_t type = (attr >> 16) & 0170000;
  const bool dos_dir = attr & 0x10;
  // 7-Zip reads the MS-DOS directory bit for FAT, HPFS, NTFS and VFAT, libarchive only for FAT;
  // both read a Unix directory mode for a Unix host (7-Zip CItem::IsDir).
  if (((host == 0 || host == 6 || host == 11 || host == 14) && dos_dir) || (host == 3 && type == 0040000))
    k.directory |= kSevenZip;
  if ((host == 0 && dos_dir) || (host == 3 && type == 0040000)) k.directory |= kLibarchive;
  k.dos_directory_only = k.directory && !(host == 3 && type == 0040000);
  if (type == 0120000) {
    // unzip's SYMLINK_HOST: VMS, Unix, Atari, BeOS, AtheOS; 7-Zip: FAT, Unix, NTFS; libarchive: Unix.
    if (host == 2 || host == 3 || host == 5 || host == 16 || host == 30) k.symlink |= kUnzip;
    if (host == 0 || host == 3 || host == 11) k.symlink |= kSevenZip;
    if (host == 3) k.symlink |= kLibarchive;
  }
  // libarchive gives a Unix host's file type to what it writes: character and block devices
  // become device nodes; a socket and the undefined types (3, 5, 7, 9, 11, 13, 14, 15 << 12) come
  // out as a file of other bytes. A FIFO is written as a file, as by the others.
  // An empty entry of a type other than a device comes out as the same empty file.
  const bool device = type == 0020000 || type == 0060000;
  if (host == 3 && type != 0 && type != 0010000 && type != 0100000 && type != 0040000 && type != 0120000 &&
      (device || uncompressed_size > 0))
    k.special |= kLibarchive;
  // 7-Zip gives a FAT or NTFS host's whole attribute word to the extracted item (CItem::GetWinAttrib;
  // other hosts get none of the low half), and a file of 1 to 4,095 bytes whose attributes have
  // FILE_ATTRIBUTE_REPARSE_POINT (0x400) is read into memory and made a link of, or reported as an
  // "Incorrect reparse stream" error (ArchiveExtractCallback.cpp, k_LinkDataSize_LIMIT; rule 75).
  if ((host == 0 || host == 11) && (attr & 0x400) && uncompressed_size > 0 && uncompressed_size < 4096)
    k.reparse |= kSevenZip;
  // unzip's IS_VOLID for FAT, Atari, HPFS and NTFS hosts.
  if ((attr & 0x08) && (host == 0 || host == 5 || host == 6 || host == 11)) k.skipped |= kUnzip;
  return k;
}

bool meant_symlink(const AttributeKinds& k, std::uint64_t uncompressed_size) {
  constexpr std::uint64_t kMaxLinkTarget = 4095;
  return k.symlink == kExtractLinks && uncompressed_size > 0 && uncompressed_size <= kMaxLinkTarget;
}

bool attributes_may_mislead(std::uint32_t attr, bool named_directory) {
  const std::uint32_t type = (attr >> 16) & 0170000;
  return (attr & (0x08 | 0x10 | 0x400)) || (type != 0 && type != (named_directory ? 0040000u : 0100000u));
}

bool libarchive_streams_from(std::span<const std::uint8_t> h) {
  if (h.size() < 4 || h[0] != 'P' || h[1] != 'K') return false;
  return (h[2] == 1 && h[3] == 2) || (h[2] == 3 && h[3] == 4) || (h[2] == 5 && h[3] == 6) ||
         (h[2] == 6 && h[3] == 6) || (h[2] == 7 && h[3] == 8) || (h[2] == '0' && h[3] == '0');
}

namespace {
// 7-Zip parses the stub's headers (an ELF magic and zeros do not pass, /bin/true with junk after it
// does), so the ELF header's own sizes must be sound and its tables must lie within the prefix.
bool elf_stub(std::span<const std::uint8_t> h, std::uint64_t len) {
  if (h.size() < 64 || std::memcmp(h.data(), "\x7f" "ELF", 4) != 0) return false;
  const bool wide = h[4] == 2, big = h[5] == 2;
  if ((h[4] != 1 && h[4] != 2) || (h[5] != 1 && h[5] != 2) || h[6] != 1) return false;
  auto u16 = [&](std::size_t at) -> std::uint64_t { return big ? h[at] << 8 | h[at + 1] : h[at] | h[at + 1] << 8; };
  auto u32 = [&](std::size_t at) -> std::uint64_t { return big ? u16(at) << 16 | u16(at + 2) : u16(at) | u16(at + 2) << 16; };
  auto u64 = [&](std::size_t at) -> std::uint64_t { return big ? u32(at) << 32 | u32(at + 4) : u32(at) | u32(at + 4) << 32; };
  const std::uint64_t phoff = wide ? u64(32) : u32(28), shoff = wide ? u64(40) : u32(32);
  const std::size_t tail = wide ? 52 : 40;  // e_ehsize, e_phentsize, e_phnum, e_shentsize, e_shnum
  const std::uint64_t ehsize = u16(tail), phentsize = u16(tail + 2), phnum = u16(tail + 4),
                      shentsize = u16(tail + 6), shnum = u16(tail + 8);
  if (ehsize != (wide ? 64u : 52u) || u16(16) == 0) return false;
  // The tables must lie within the prefix; offsets from the file are checked without overflow.
  if (phnum && (phentsize != (wide ? 56u : 32u) || phoff > len || phnum * phentsize > len - phoff)) return false;
  if (shnum && (shentsize != (wide ? 64u : 40u) || shoff > len || shnum * shentsize > len - shoff)) return false;
  return phnum || shnum;
}
}  // namespace

bool sevenzip_parses_stub(std::span<const std::uint8_t> h, std::uint64_t len) {
  if (h.size() >= 4 && std::memcmp(h.data(), "\x7f" "ELF", 4) == 0) return elf_stub(h, len);
  if (h.size() >= 64 && h[0] == 'M' && h[1] == 'Z') {
    std::uint64_t pe = zip::load_u32(h.data() + 0x3c);
    return pe + 4 <= std::min<std::uint64_t>(len, h.size()) && std::memcmp(h.data() + pe, "PE\0\0", 4) == 0;
  }
  return false;
}

bool sevenzip_claims_by_name(std::string_view path) {
  if (path.empty() || path == "-") return true;
  // A SysReptor backup (.zip.crypt) is judged as the .zip it decrypts to.
  if (path.ends_with(".crypt")) path.remove_suffix(6);
  const auto slash = path.rfind('/');
  const std::string_view base = slash == std::string_view::npos ? path : path.substr(slash + 1);
  const auto dot = base.rfind('.');
  if (dot == std::string_view::npos || dot == 0) return false;
  std::string ext(base.substr(dot + 1));
  for (char& c : ext) c = char(std::tolower(static_cast<unsigned char>(c)));
  for (std::string_view claimed : {"zip", "z01", "zipx", "jar", "xpi", "odt", "ods", "docx", "xlsx", "epub", "ipa", "apk", "appx"})
    if (ext == claimed) return true;
  return false;
}

bool libarchive_takes_end_records(const EndRecordFacts& f) {
  // The last "PK\5\6" within the file's last 16 KiB, past its first byte, must pass read_eocd (disk
  // 0, directory on it, all entries on it, directory before the record), or the ZIP64 end record
  // its locator names must pass read_zip64_eocd (locator: disk 0 of 1; record of 56 bytes to 16
  // KiB, disk 0, directory on it and all entries on it). Seed 18, mutant 14052: a ZIP64 record's
  // count of entries on this disk edited.
  const bool in_window = f.eocd_offset > 0 && f.file_size - f.eocd_offset < 16384;
  const auto& c = f.eocd;
  // read_eocd adds the two 32-bit fields in 32 bits: all-ones offsets of a ZIP64 archive wrap.
  const bool classic_ok = c.disk == 0 && c.cd_disk == 0 && c.entries_on_disk == c.entries_total &&
                          std::uint32_t(c.cd_offset + c.cd_size) <= f.eocd_offset;
  const zip::Zip64End* z = f.locator ? f.zip64_at_locator : nullptr;
  const bool z64_ok = z && f.locator->cd_disk == 0 && f.locator->total_disks == 1 && z->record_size + 12 >= 56 &&
                      z->record_size + 12 <= 16384 && z->disk == 0 && z->cd_disk == 0 &&
                      z->entries_on_disk == z->entries_total;
  return in_window && (classic_ok || z64_ok);
}

namespace {
// libarchive's reading of external attributes for a host (process_extra's "xl" case and
// zip_read_cd: the same code).
std::uint32_t mode_from_attributes(unsigned system, std::uint32_t external) {
  if (system == 3) return external >> 16;
  if (system != 0) return 0;
  std::uint32_t mode = external & 0x10 ? 040775 : 0100664;
  if (external & 1) mode &= 0555;  // the read-only bit: the type goes too
  return mode;
}
void apply_xl(const zip::XlField& xl, unsigned& system, std::uint32_t& mode) {
  if (xl.has_made_by) system = xl.made_by >> 8;
  if (xl.has_external) mode = mode_from_attributes(system, xl.external);
}
}  // namespace

std::uint32_t libarchive_mode(const LibarchiveModeFacts& f) {
  unsigned system = f.version_made_by >> 8;
  std::uint32_t mode = 0;
  if (!f.walks) {
    mode = mode_from_attributes(system, f.external_attr);
    apply_xl(f.cd_xl, system, mode);
  }
  system = f.local_version_needed >> 8;
  apply_xl(f.local_xl, system, mode);
  if ((mode & 0170000) == 0010000) mode = (mode & ~0170000u) | 0100000;  // Info-ZIP's pipe
  if (mode == 0) mode = 0664;
  if ((mode & 0170000) != 0040000) {
    if (f.named_directory)
      mode = (mode & ~0170000u) | 0040000 | 0111;
    else if ((mode & 0170000) == 0)
      mode |= 0100000;
  }
  return mode;
}

}  // namespace zm::check::readers
