#include "check/judge.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <string_view>
#include <map>

#include "check/names.h"

namespace zm::check {
using report::Code;
using report::EntryStatus;
using report::make_finding;
using scan::Entry;
using Status = codec::DecodeResult::Status;

namespace {

// APPNOTE 4.4.3 defines versions up to 6.3. Python compares the low byte of the directory's
// field with 63 and refuses the archive; unzip 6.0 skips an entry above 4.6 (4.2 for a VMS host)
// even for a method it has (docs/readers.md, rule 19).
constexpr unsigned kPythonMaxVersion = 63, kUnzipMaxVersion = 46, kUnzipMaxVersionVms = 42;

// Methods unzip 6.0 decodes (docs/readers.md, table 2): a version above its limit on one of these
// makes it skip an entry it could read; on others it lacks the method anyway.
bool unzip_has_method(std::uint16_t m) { return m == 0 || m == 1 || m == 6 || m == 8 || m == 9 || m == 12; }

struct Judging {
  Entry& e;
  std::vector<report::Finding>& out;
  bool libarchive_walks = false;  // scan::EndRecords::libarchive_walks
  bool bad = false;
  void add(Code c, std::optional<std::uint64_t> at, std::string msg, report::Readers readers = 0) {
    auto f = make_finding(c, e.name, at, std::move(msg));
    if (readers) f.readers = readers;
    if (f.severity == report::Severity::error) bad = true;
    out.push_back(std::move(f));
  }
};

// What the directory's external attributes (4.4.15) make of an entry, reader by reader, measured
// on unzip 6.0, 7-Zip 26.02 and bsdtar 3.6.2 for every host 0-31 (docs/readers.md, rules 65-67, 75
// and 71-73). The host is the high byte of "version made by" (4.4.2), in Info-ZIP's numbering.
struct AttributeKinds {
  report::Readers directory = 0;  // make a directory of an entry whose name has no trailing '/'
  report::Readers symlink = 0;    // make a symbolic link whose target is the data
  report::Readers special = 0;    // libarchive: a device node, or a file of other bytes
  report::Readers skipped = 0;    // unzip: a volume label, never extracted on Unix
  report::Readers reparse = 0;    // 7-Zip: the data taken as a Windows reparse point
};

AttributeKinds attribute_kinds(const Entry& e) {
  AttributeKinds k;
  const unsigned host = e.version_made_by >> 8;
  const std::uint32_t type = (e.external_attr >> 16) & 0170000;
  const bool dos_dir = e.external_attr & 0x10;
  // 7-Zip reads the MS-DOS directory bit for FAT, HPFS, NTFS and VFAT, libarchive only for FAT;
  // both read a Unix directory mode for a Unix host (7-Zip CItem::IsDir).
  if (((host == 0 || host == 6 || host == 11 || host == 14) && dos_dir) || (host == 3 && type == 0040000))
    k.directory |= report::kSevenZip;
  if ((host == 0 && dos_dir) || (host == 3 && type == 0040000)) k.directory |= report::kLibarchive;
  if (type == 0120000) {
    // unzip's SYMLINK_HOST: VMS, Unix, Atari, BeOS, AtheOS; 7-Zip: FAT, Unix, NTFS; libarchive: Unix.
    if (host == 2 || host == 3 || host == 5 || host == 16 || host == 30) k.symlink |= report::kUnzip;
    if (host == 0 || host == 3 || host == 11) k.symlink |= report::kSevenZip;
    if (host == 3) k.symlink |= report::kLibarchive;
  }
  // libarchive gives a Unix host's file type to what it writes: character and block devices
  // become device nodes; a socket and the undefined types (3, 5, 7, 9, 11, 13, 14, 15 << 12) come
  // out as a file of other bytes. A FIFO is written as a file, as by the others.
  if (host == 3 && type != 0 && type != 0010000 && type != 0100000 && type != 0040000 && type != 0120000)
    k.special |= report::kLibarchive;
  // 7-Zip gives a FAT or NTFS host's whole attribute word to the extracted item (CItem::GetWinAttrib;
  // other hosts get none of the low half), and a file of 1 to 4,095 bytes whose attributes have
  // FILE_ATTRIBUTE_REPARSE_POINT (0x400) is read into memory and made a link of, or reported as an
  // "Incorrect reparse stream" error (ArchiveExtractCallback.cpp, k_LinkDataSize_LIMIT; rule 75).
  if ((host == 0 || host == 11) && (e.external_attr & 0x400) && e.uncompressed_size > 0 && e.uncompressed_size < 4096)
    k.reparse |= report::kSevenZip;
  // unzip's IS_VOLID for FAT, Atari, HPFS and NTFS hosts.
  if ((e.external_attr & 0x08) && (host == 0 || host == 5 || host == 6 || host == 11)) k.skipped |= report::kUnzip;
  return k;
}

// A symbolic link all three extractors make (a Unix host) is what its writer meant (zip -y,
// bsdtar, 7z -snl): a warning, unless its data cannot be a link target (empty, or longer than
// Linux's PATH_MAX - 1), which no extractor can then write.
constexpr std::uint64_t kMaxLinkTarget = 4095;
bool meant_symlink(const Entry& e, const AttributeKinds& k) {
  return k.symlink == (report::kUnzip | report::kSevenZip | report::kLibarchive) && e.uncompressed_size > 0 &&
         e.uncompressed_size <= kMaxLinkTarget;
}

void judge_attributes(Judging& j) {
  Entry& e = j.e;
  const bool data = e.uncompressed_size > 0 || e.compressed_size > 2;
  const AttributeKinds k = attribute_kinds(e);
  if (k.skipped)
    j.add(Code::entry_kind_differs, e.lfh_offset,
          "its MS-DOS attributes mark it as a volume label, which unzip skips", k.skipped);
  // A name ending in '/' with data: every extractor makes a directory and drops the bytes
  // (docs/readers.md, rule 66); what its attributes say adds nothing.
  if (e.is_directory()) {
    if (data)
      j.add(Code::directory_with_data, e.lfh_offset,
            fmt::format("the entry is named as a directory but holds {} bytes of data, which extractors drop",
                        e.uncompressed_size));
    return;
  }
  if (k.directory) {
    if (data)
      j.add(Code::directory_with_data, e.lfh_offset,
            fmt::format("the entry is marked as a directory but holds {} bytes of data, which {} drop{}",
                        e.uncompressed_size, report::reader_names(k.directory),
                        __builtin_popcount(k.directory) == 1 ? "s" : ""),
            k.directory);
    else
      j.add(Code::entry_kind_differs, e.lfh_offset,
            fmt::format("its attributes mark it as a directory though its name has no trailing '/': {} make{} a "
                        "directory of it, the others an empty file",
                        report::reader_names(k.directory), __builtin_popcount(k.directory) == 1 ? "s" : ""),
            k.directory);
  }
  // A Unix link mode in the high half comes first for 7-Zip (IsLinuxSymLink): rule 67 says it.
  if (k.reparse && !k.directory && !(k.symlink & report::kSevenZip))
    j.add(Code::entry_kind_differs, e.lfh_offset,
          fmt::format("its MS-DOS attributes mark it as a reparse point (0x400): 7-Zip takes its {} bytes for "
                      "link data and fails (\"Incorrect reparse stream\") or makes a link",
                      e.uncompressed_size),
          k.reparse);
  if (k.symlink && !meant_symlink(e, k)) {
    const bool all = k.symlink == (report::kUnzip | report::kSevenZip | report::kLibarchive);
    j.add(Code::entry_kind_differs, e.lfh_offset,
          all ? fmt::format("its attributes make it a symbolic link, but its {} bytes of data cannot be a link "
                            "target: extractors write no link with them",
                            e.uncompressed_size)
              : fmt::format("its attributes make it a symbolic link for {} only (host {}): the others write a "
                            "file of its data",
                            report::reader_names(k.symlink), e.version_made_by >> 8),
          k.symlink);
  }
  // A local header carries no attributes (unless libarchive's own "xl" field): libarchive walking
  // the local headers (rule 47) makes every entry a file or, by its name, a folder, so a link
  // comes out as a file of its target.
  if (j.libarchive_walks && (k.symlink & report::kLibarchive) && meant_symlink(e, k) &&
      !(e.lfh && e.lfh->xl_attributes))
    j.add(Code::entry_kind_differs, e.lfh_offset,
          "its attributes make it a symbolic link, but libarchive reads the local headers of this archive, which "
          "carry no attributes, and writes a file of the link's target",
          report::kLibarchive);
  // libarchive reads a link's target only when stored or deflated ("Unsupported ZIP compression
  // method during decompression of link entry"), though it decodes bzip2, LZMA, zstd, xz and PPMd
  // for files (docs/readers.md, rule 67).
  const bool link_method = e.method == 12 || e.method == 14 || e.method == 93 || e.method == 95 || e.method == 98;
  if ((k.symlink & report::kLibarchive) && link_method && !e.encrypted())
    j.add(Code::entry_kind_differs, e.lfh_offset,
          fmt::format("its attributes make it a symbolic link compressed with {}: libarchive reads link targets only "
                      "stored or deflated",
                      zip::method_name(e.method)),
          report::kLibarchive);
  if (k.special)
    j.add(Code::entry_kind_differs, e.lfh_offset,
          fmt::format("its Unix mode {:06o} is no regular file, directory or link: libarchive writes a device "
                      "node or other bytes",
                      (e.external_attr >> 16) & 0170000),
          k.special);
}

// The directory's own fields that readers refuse whatever the data holds.
void judge_directory_record(Judging& j) {
  Entry& e = j.e;
  const unsigned version = e.version_needed & 0xFF, host = e.version_needed >> 8;
  report::Readers refuse = 0;
  if (version > kPythonMaxVersion) refuse |= report::kPython;
  if (unzip_has_method(e.method) && version > (host == 2 ? kUnzipMaxVersionVms : kUnzipMaxVersion))
    refuse |= report::kUnzip;
  if (refuse)
    j.add(Code::version_unsupported, e.lfh_offset,
          fmt::format("the directory says version {}.{} is needed to extract it; {} refuse{} that", version / 10,
                      version % 10, report::reader_names(refuse), __builtin_popcount(refuse) == 1 ? "s" : ""),
          refuse);
  judge_attributes(j);
  if (e.disk_start != 0)
    j.add(Code::disk_number_nonzero, e.lfh_offset,
          fmt::format("the directory record says the entry starts on disk {} of a single-volume archive", e.disk_start));
  if (e.cd_extra_refused_by && !e.cd_extra_malformed)
    j.add(Code::extra_field_malformed, e.lfh_offset,
          fmt::format("the directory record's extra block has a field {} cannot read (a ZIP64 field of an unknown "
                      "size, a short WinZip AES field, an empty extended timestamp, or a block of 1 to 3 bytes that are not all zero)",
                      report::reader_names(e.cd_extra_refused_by)),
          e.cd_extra_refused_by);
  if (e.cd_extra_malformed)
    j.add(Code::extra_field_malformed, e.lfh_offset, "a field of the directory record's extra block runs past the block",
          report::kPython | report::kLibarchive);
}

// unzip converts a name from an OEM code page (Ext_ASCII_TO_Native in unzpriv.h) for FAT and HPFS
// hosts and NTFS 5.0, except a FAT host's 2.5, 2.6 and 4.0 (PKZIP for Windows) in the local header
// or when Unix attributes are present; a copy whose bit 11 is set and whose record has an extra
// field is taken as UTF-8 and left alone. When one copy of a non-ASCII name is converted and the
// other not, unzip warns "mismatching local filename" and exits 1 (measured on 560 combinations
// of host, version, attributes, bit 11 and extra fields; docs/readers.md, rule 71).
bool unzip_converts(const Entry& e, bool local, std::uint16_t flags, bool has_extra) {
  const unsigned host = e.version_made_by >> 8, ver = e.version_made_by & 0xFF;
  const bool unix_attrs = e.external_attr & 0xFFFF0000u;
  const bool oem = (host == 0 && !((local || unix_attrs) && (ver == 25 || ver == 26 || ver == 40))) ||
                   host == 6 || (host == 11 && ver == 50);
  return oem && !((flags & zip::kFlagUtf8) && has_extra);
}

bool unzip_converts_one_name(const Entry& e, const scan::LocalClaim& l) {
  const bool local_extra = e.data_offset > e.lfh_offset + 30 + e.name.size();
  return unzip_converts(e, false, e.flags, !e.cd_extra().empty()) != unzip_converts(e, true, l.flags, local_extra);
}

// The local header against the directory (4.3.7 vs 4.3.12). False when the header is not this
// entry's own: the bytes behind it are then another entry's, and judging them as this one would
// only add noise.
bool judge_local_header(Judging& j) {
  Entry& e = j.e;
  const scan::LocalClaim& l = *e.lfh;
  if (e.in_directory) {
    std::vector<std::string> diffs;
    if (l.name_differs) diffs.push_back("the name");
    if (l.method != e.method)
      diffs.push_back(
          fmt::format("method {} locally, {} in the directory", zip::method_name(l.method), zip::method_name(e.method)));
    // 7-Zip requires the flags to match except bits 3, 11 and 15 (and 1-2, the deflate level);
    // Python refuses a non-ASCII name whose bit 11 differs (docs/readers.md, rules 31-34).
    // Bit 15 only for deflate and methods up to 6 (implode): FlagsAreSame's masks are 0x7FF9 and
    // 0x7FFF, and no mask for other methods (bzip2, LZMA, zstd, xz, PPMd ...).
    std::uint16_t ignored = zip::kFlagDescriptor | zip::kFlagUtf8 | (e.method == zip::kDeflate ? 0x6 : 0) |
                            (e.method <= 6 || e.method == zip::kDeflate ? 0x8000 : 0);
    bool ascii = true;
    for (unsigned char c : e.name) ascii &= c < 0x80;
    // unzip warns and exits 1 when bit 11 differs, whatever the name.
    if ((l.flags ^ e.flags) & ~ignored || ((l.flags ^ e.flags) & zip::kFlagUtf8) ||
        ((l.flags ^ e.flags) & zip::kFlagDescriptor))
      diffs.push_back(fmt::format("flags {:04x} locally, {:04x} in the directory", l.flags, e.flags));
    if (!ascii && !l.name_differs && unzip_converts_one_name(e, l))
      diffs.push_back("the name, as unzip reads it (it converts one copy from an MS-DOS code page and not the other)");
    if (diffs.empty() && !(l.flags & zip::kFlagDescriptor)) {
      // Sizes live in the local header (bit 3 clear): unzip and libarchive take them from there.
      if (l.crc32 != e.crc32) diffs.push_back(fmt::format("CRC {:08x} locally, {:08x} in the directory", l.crc32, e.crc32));
      if (l.compressed_size != e.compressed_size || l.uncompressed_size != e.uncompressed_size)
        diffs.push_back(fmt::format("sizes {}/{} locally, {}/{} in the directory", l.compressed_size,
                                    l.uncompressed_size, e.compressed_size, e.uncompressed_size));
    }
    if (!diffs.empty()) {
      std::string msg = "the local header disagrees with the directory: ";
      for (std::size_t i = 0; i < diffs.size(); ++i) msg += (i ? "; " : "") + diffs[i];
      j.add(Code::cd_lfh_mismatch, e.lfh_offset, msg);
      if (!local_header_is_its_own(e)) {
        e.extent_known = false;
        if (e.end_offset < e.data_offset) e.end_offset = e.data_offset;
        return false;
      }
    }
  }
  if (l.ff_without_zip64 && !(l.flags & zip::kFlagDescriptor))
    j.add(Code::zip64_inconsistent, e.lfh_offset, "the local header's sizes are 0xFFFFFFFF but it has no ZIP64 extra field");
  // Rule 24 too: libarchive's process_extra reads the local block as well (seed 21, mutant 2013).
  if (l.extra_malformed)
    j.add(Code::extra_field_malformed, e.lfh_offset,
          "the local header's extra block is malformed: a field runs past it, or it is 1 to 3 bytes that are not "
          "all zero",
          report::kLibarchive);
  return true;
}

// What the data really is (decoding) against what each witness claims of it.
void judge_data(Judging& j, std::uint64_t size) {
  Entry& e = j.e;
  const char* primary = e.in_directory ? "the directory" : "the local header";
  // The directory always claims CRC and sizes; without one, the local header claims them only
  // when bit 3 is clear (4.4.4); a bit-3 entry's only claim is then its descriptor.
  const bool has_primary = e.in_directory || (e.lfh && !(e.lfh->flags & zip::kFlagDescriptor));
  const bool cut = e.cut_intact || (e.decoded && e.decoded->status == Status::truncated) ||
                   (has_primary && e.data_offset + e.compressed_size > size);
  if (cut) {
    e.status = EntryStatus::truncated;
    std::uint64_t present = size > e.data_offset ? size - e.data_offset : 0;
    j.add(Code::entry_truncated, e.lfh_offset,
          e.cut_intact ? fmt::format("the file ends inside the entry; {} bytes of its data are intact", *e.cut_intact)
          : has_primary ? fmt::format("the file ends inside the entry's data: {} of {} compressed bytes present",
                                      std::min(present, e.compressed_size), e.compressed_size)
                        : fmt::format("the file ends inside the entry's data after {} bytes", present));
    return;
  }
  if (!e.decoded) {
    j.add(Code::decode_error, e.data_offset, "the entry's data could not be located, so it was not decoded");
    return;
  }
  const auto& d = *e.decoded;
  const std::uint64_t data_end = e.data_offset + d.consumed;
  if (d.status == Status::overrun) {
    std::uint64_t claimed = has_primary ? e.uncompressed_size : e.descriptor ? e.descriptor->uncompressed_size : 0;
    if ((has_primary || e.descriptor) && d.produced > claimed)
      j.add(Code::size_mismatch, e.data_offset,
            fmt::format("the data decodes to more than the {} bytes {} promises", claimed,
                        has_primary ? primary : "its data descriptor"));
    else
      j.add(Code::decode_error, e.data_offset,
            fmt::format("the compressed stream does not end within its {} bytes",
                        has_primary ? e.compressed_size : e.descriptor ? e.descriptor->compressed_size : d.consumed));
    return;
  }
  if (d.status != Status::ok) {
    j.add(Code::decode_error, e.data_offset + d.consumed, d.error);
    return;
  }
  if (has_primary) {
    if (d.consumed != e.compressed_size)
      j.add(Code::size_mismatch, data_end,
            fmt::format("the compressed stream ends after {} bytes; {} says {}", d.consumed, primary, e.compressed_size));
    if (d.produced != e.uncompressed_size)
      j.add(Code::size_mismatch, e.data_offset,
            fmt::format("the data decodes to {} bytes; {} says {}", d.produced, primary, e.uncompressed_size));
    if (d.crc != e.crc32)
      j.add(Code::crc_mismatch, e.data_offset,
            fmt::format("CRC-32 of the data is {:08x}; {} says {:08x}", d.crc, primary, e.crc32));
  }
  const bool bit3 = e.lfh ? (e.lfh->flags & zip::kFlagDescriptor) : e.has_descriptor_flag();
  if (!bit3) return;
  if (e.descriptor) {
    const auto& g = *e.descriptor;
    const bool sizes_agree = g.compressed_size == d.consumed && g.uncompressed_size == d.produced;
    const bool crc_differs = g.crc32 != d.crc;
    if (sizes_agree && crc_differs && !has_primary)
      j.add(Code::crc_mismatch, e.data_offset,
            fmt::format("CRC-32 of the data is {:08x}; its data descriptor says {:08x}", d.crc, g.crc32));
    else if (e.in_directory && !crc_differs && !sizes_agree && !j.libarchive_walks)
      // Go checks the descriptor's CRC; no reader checks its sizes when a directory exists.
      j.add(Code::descriptor_sizes_mismatch, g.offset,
            fmt::format("the data descriptor says {} compressed, {} uncompressed; the data is {}, {}",
                        g.compressed_size, g.uncompressed_size, d.consumed, d.produced));
    else if (!sizes_agree || crc_differs)
      // With a directory Go checks the CRC, and libarchive, when it walks the local headers
      // instead (rule 47), the CRC and the sizes ("ZIP compressed data is wrong size").
      j.add(Code::descriptor_mismatch, g.offset,
            fmt::format("the data descriptor says crc {:08x}, {} compressed, {} uncompressed; the data is {:08x}, {}, "
                        "{}{}",
                        g.crc32, g.compressed_size, g.uncompressed_size, d.crc, d.consumed, d.produced,
                        e.in_directory && j.libarchive_walks
                            ? " (libarchive reads the local headers of this archive, not its directory, and checks "
                              "them)"
                            : ""),
            e.in_directory ? report::Readers((crc_differs ? report::kGo : 0) |
                                             (j.libarchive_walks ? report::kLibarchive : 0))
                           : 0);
    // Walking (rule 47), libarchive reads a descriptor's sizes as 8 bytes exactly when the local
    // header has a ZIP64 extra field (LA_USED_ZIP64), and ends a stored entry's data only at a
    // "PK\7\8" that the data's CRC follows (zip_read_data_none): another layout takes bytes of
    // the next header or runs to the end of the file.
    const bool wide = g.length == 20 || g.length == 24;
    // An empty entry's 8-byte sizes read as 4-byte ones give its compressed size and 0, which
    // pass; the 8 bytes left over are skipped by the search for the next header.
    const bool passes = e.lfh && wide && !e.lfh->zip64 && d.produced == 0 && d.consumed <= zip::kMax32;
    if (j.libarchive_walks && e.lfh && g.length != 0 && wide != e.lfh->zip64 && !passes)
      j.add(Code::descriptor_mismatch, g.offset,
            fmt::format("the data descriptor has {}-byte sizes after a local header {} a ZIP64 extra field; libarchive "
                        "reads the local headers of this archive and takes {}-byte ones",
                        wide ? 8 : 4, e.lfh->zip64 ? "with" : "without", e.lfh->zip64 ? 8 : 4),
            report::kLibarchive);
    else if (j.libarchive_walks && e.method == zip::kStored && !g.signature())
      j.add(Code::descriptor_mismatch, g.offset,
            "a stored entry's data descriptor has no signature; libarchive reads the local headers of this archive "
            "and finds the end of stored data only at a signed descriptor",
            report::kLibarchive);
  } else if (e.descriptor_cut || data_end >= size) {
    if (e.in_directory) {
      j.add(Code::descriptor_missing, data_end, "bit 3 is set but the file ends before the data descriptor");
    } else {
      e.status = EntryStatus::truncated;
      j.add(Code::entry_truncated, e.lfh_offset, "the file ends inside the entry's data descriptor");
      return;
    }
  } else {
    j.add(Code::descriptor_missing, data_end, "bit 3 is set but no data descriptor follows the data");
  }
  // Reading the directory, libarchive compares a bit-3 local header's CRC and sizes with the
  // directory's when they are not zero (docs/readers.md, rule 37); writers leave them zero
  // (4.4.4). Walking the local headers (rule 47), it takes the descriptor's CRC and finds the end
  // of Deflate and stored data by itself, so only the sizes below matter there.
  if (e.lfh) {
    const auto& l = *e.lfh;
    std::vector<std::string> diffs;
    const bool bounded =
        e.method == zip::kBzip2 || e.method == zip::kLzma || e.method == zip::kZstd || e.method == zip::kXz;
    if (!j.libarchive_walks && l.crc32 != 0 && l.crc32 != d.crc) diffs.push_back(fmt::format("CRC {:08x}", l.crc32));
    if ((!j.libarchive_walks || bounded) && l.compressed_size != 0 && l.compressed_size != d.consumed)
      diffs.push_back(fmt::format("compressed size {}", l.compressed_size));
    // libarchive takes an uncompressed size of 0xFFFFFFFF as "not given" while it reads the
    // directory (docs/readers.md, rule 36); walking the local headers (rule 47) it gives any
    // size but 0 to the entry, and bsdtar -x then truncates or extends the file to it (seed 24,
    // mutant 15887: a 93,301-byte file extracted as 4 GiB).
    if (l.uncompressed_size != 0 && (l.uncompressed_size != zip::kMax32 || j.libarchive_walks) &&
        l.uncompressed_size != d.produced)
      diffs.push_back(fmt::format("size {}", l.uncompressed_size));
    // Walking (rule 47), libarchive bounds bzip2, LZMA, zstd and xz input by the local compressed
    // size ("Truncated bzip2 file body"): 0, as Python writes a bzip2 or LZMA entry to a pipe and
    // codec_zip a zstd or xz one, is then no data at all. Its PPMd reader reads on regardless
    // (7-Zip's PPMd to stdout, with sizes 0, extracts whole).
    if (j.libarchive_walks && bounded && l.compressed_size == 0 && d.consumed > 0)
      diffs.push_back(fmt::format("compressed size 0 (libarchive reads no more {} data than that)",
                                  zip::method_name(e.method)));
    if (!diffs.empty()) {
      std::string msg = "bit 3 is set, yet the local header claims ";
      for (std::size_t i = 0; i < diffs.size(); ++i) msg += (i ? ", " : "") + diffs[i];
      j.add(Code::local_descriptor_conflict, e.lfh_offset,
            msg + ", which the data does not have" +
                (j.libarchive_walks ? " (libarchive reads the local headers of this archive, not its directory)" : ""));
    }
  }
}

}  // namespace

bool attributes_mislead(Entry e) {
  std::vector<report::Finding> out;
  Judging j{e, out};
  judge_attributes(j);
  // A folder's name with data is the name's doing (rule 66), not the attributes'.
  const bool named_folder = e.is_directory();
  return std::any_of(out.begin(), out.end(), [&](const report::Finding& f) {
    return f.code == Code::entry_kind_differs || (f.code == Code::directory_with_data && !named_folder);
  });
}

bool local_header_is_its_own(const Entry& e) {
  if (!e.lfh) return false;
  if (!e.in_directory) return true;
  return !e.lfh->name_differs && e.lfh->method == e.method && !((e.lfh->flags ^ e.flags) & zip::kFlagDescriptor);
}

void judge_entry(Entry& e, std::uint64_t size, std::vector<report::Finding>& out, bool libarchive_walks) {
  Judging j{e, out, libarchive_walks};
  e.status = EntryStatus::unchecked;
  if (e.in_directory) judge_directory_record(j);
  if (e.in_directory && !e.lfh) {
    const bool cut = e.lfh_problem == scan::LocalProblem::past_end || e.lfh_problem == scan::LocalProblem::cut;
    j.add(cut ? Code::entry_truncated : Code::local_header_unreadable, e.lfh_offset,
          fmt::format("local header at offset {}: {}", e.lfh_offset,
                      e.lfh_problem == scan::LocalProblem::past_end ? "the file ends before the local header"
                      : e.lfh_problem == scan::LocalProblem::cut   ? "the file ends inside the local header"
                                                                   : "no local header there"));
    e.status = cut ? EntryStatus::truncated : EntryStatus::damaged;
    return;
  }
  if (!e.in_directory && !e.lfh) {
    // A walk that met a local header cut by the end of the file: the walk says so
    // (entry_truncated, with how far the header got); there is no data to locate.
    e.status = EntryStatus::truncated;
    return;
  }
  if (e.lfh && !judge_local_header(j)) {
    e.status = EntryStatus::damaged;
    return;
  }
  // An encrypted entry that was decrypted is judged like any other; otherwise the password (or
  // the scheme) is why its data was not verified.
  if (e.encrypted() && e.crypt != scan::CryptOutcome::decrypted) {
    e.status = EntryStatus::encrypted;
    if (e.crypt == scan::CryptOutcome::no_password)
      j.add(Code::password_needed, e.lfh_offset, "the entry is encrypted; give its password to verify it");
    else if (e.crypt == scan::CryptOutcome::wrong_password)
      j.add(Code::password_wrong, e.lfh_offset,
            fmt::format("the password does not open the entry: {}", e.decoded ? e.decoded->error : "its check failed"));
    else if (e.crypt == scan::CryptOutcome::auth_failed) {
      e.status = EntryStatus::damaged;
      j.add(Code::auth_mismatch, e.data_offset,
            "the WinZip AES authentication code does not match the encrypted data: the data was changed");
    } else
      j.add(Code::encrypted_entry, e.lfh_offset,
            e.decoded && !e.decoded->error.empty() ? "the entry is encrypted and cannot be verified: " + e.decoded->error
                                                   : "the entry is encrypted; its data cannot be verified without the password");
    return;
  }
  if (!codec::method_supported(e.method) && !e.encrypted()) {
    e.status = EntryStatus::unsupported;
    j.add(Code::unsupported_method, e.lfh_offset,
          fmt::format("compression method {} cannot be decoded, so the entry is not verified", zip::method_name(e.method)));
    return;
  }
  judge_data(j, size);
  // An empty entry has no CRC to vouch for it; a walk that found garbage right after its header
  // may have read a header whose bytes were shifted (an insert or a delete inside its name).
  if (!e.in_directory && e.status == EntryStatus::unchecked && !j.bad && e.uncompressed_size == 0 &&
      !e.next_record_follows)
    j.add(Code::entry_unconfirmed, e.lfh_offset,
          "an empty entry with no record after it: nothing confirms its name or sizes");
  if (e.status == EntryStatus::unchecked) e.status = j.bad ? EntryStatus::damaged : EntryStatus::ok;
}

Extent extent_of(const Entry& e, std::uint32_t index) {
  return {e.lfh_offset, std::max(e.end_offset, e.data_offset), index, e.extent_known, false};
}

void judge_layout(std::vector<Entry>& entries, const scan::EndRecords& end, std::uint64_t cd_end, LayoutProbe& probe,
                  std::vector<report::Finding>& out) {
  std::vector<Extent> placed;
  for (std::size_t i = 0; i < entries.size(); ++i)
    if (entries[i].lfh_read()) placed.push_back(extent_of(entries[i], std::uint32_t(i)));
  judge_layout(placed, [&](std::uint32_t i) { return Named{entries[i].name, entries[i].lfh_offset}; }, end, cd_end, probe, out);
  for (const auto& x : placed)
    if (x.overlaps) entries[x.index].status = EntryStatus::damaged;
}

void judge_layout(std::vector<Extent>& placed, const NameOf& name_of, const scan::EndRecords& end,
                  std::uint64_t cd_end, LayoutProbe& probe, std::vector<report::Finding>& out) {
  // (start, index) orders entries that share a header as the directory does.
  std::sort(placed.begin(), placed.end(),
            [](const Extent& a, const Extent& b) { return a.start != b.start ? a.start < b.start : a.index < b.index; });
  // `plain` is false after an entry whose true extent is unknown (its header is not its own):
  // bytes there are that entry's, not a gap, but hidden headers are still looked for.
  auto gap = [&](std::uint64_t from, std::uint64_t to, const std::string& where, bool plain = true) {
    if (to <= from) return;
    auto found = probe.headers_in(from, to);
    for (const auto& h : found) {
      // libarchive's walk ends at the directory's first record.
      const bool walked = end.libarchive_walks && h.offset < end.cd_start;
      out.push_back(make_finding(Code::unreferenced_local_header, h.name, h.offset,
                                 fmt::format("a local header {} that no directory entry points to{}", where,
                                             walked ? ": libarchive, which reads the local headers "
                                                                    "of this archive, extracts it as another file"
                                                                  : "")));
      if (walked) {
        // Rule 46 with rule 47: an extra file for libarchive.
        out.back().severity = report::Severity::error;
        out.back().readers = report::kLibarchive;
      }
    }
    if (found.empty() && plain)
      out.push_back(make_finding(Code::gap_bytes, std::nullopt, from,
                                 fmt::format("{} bytes {} belong to no entry", to - from, where)));
  };
  std::uint64_t first = placed.empty() ? end.cd_start : placed.front().start;
  if (placed.empty() && first > 0) {
    // A directory of no entries after local headers (an end record zeroed or replaced): Python,
    // Go, Java and unzip read an empty archive, 7-Zip and libarchive's walk read the entries.
    auto found = probe.headers_in(0, first);
    if (!found.empty()) {
      out.push_back(make_finding(Code::eocd_inconsistent, std::nullopt, end.eocd_offset,
                                 fmt::format("the end records describe an archive of no entries, but {} local "
                                             "header{} precede them: readers disagree on what the archive holds",
                                             found.size(), found.size() == 1 ? "" : "s")));
      return;
    }
  }
  if (first > 0 && end.libarchive_walks) {
    // libarchive's streaming reader, its fallback when it does not take the end records (rule
    // 47), bids only for a file that starts with one of its signatures
    // (archive_read_format_zip_streamable_bid): behind a prefix it finds no archive at all.
    const auto head = probe.prefix_head(std::min<std::uint64_t>(first, 4));
    const bool pk = head.size() >= 4 && head[0] == 'P' && head[1] == 'K' &&
                    ((head[2] == 1 && head[3] == 2) || (head[2] == 3 && head[3] == 4) || (head[2] == 5 && head[3] == 6) ||
                     (head[2] == 6 && head[3] == 6) || (head[2] == 7 && head[3] == 8) || (head[2] == '0' && head[3] == '0'));
    if (!pk) {
      out.push_back(make_finding(Code::prefix_unrecognised, std::nullopt, 0,
                                 fmt::format("{} bytes precede the archive and libarchive, which does not take its end "
                                             "records, reads the file from its first byte: it finds no archive",
                                             first)));
      out.back().readers = report::kLibarchive;
    }
  }
  if (first > 0) {
    // Bytes before the archive: a self-extractor stub when they hold no local header. When they
    // hold one and the offsets count from after them, 7-Zip still cannot open an archive behind
    // anything but a program it can parse (docs/readers.md, rule 43): a header-like run in a
    // script does not make it one.
    if (!probe.headers_in(0, first).empty()) {
      gap(0, first, "before the first entry");
      if (end.shift) {
        auto f = judge_prefix(probe.prefix_head(first), first, true);
        if (f.code == Code::prefix_unrecognised) out.push_back(std::move(f));
      }
    } else {
      out.push_back(judge_prefix(probe.prefix_head(first), first, end.shift));
    }
  }
  for (std::size_t i = 0; i + 1 < placed.size(); ++i) {
    const Extent& a = placed[i];
    Extent& b = placed[i + 1];
    if (b.start < a.end) {
      const std::string a_name = report::printable_name(name_of(a.index).name);
      out.push_back(make_finding(Code::overlapping_entries, name_of(b.index).name, b.start,
                                 b.start == a.start
                                     ? fmt::format("another directory entry ('{}') points at the same local header", a_name)
                                     : fmt::format("its bytes overlap entry '{}' (offsets {} to {})", a_name, a.start,
                                                   a.end)));
      b.overlaps = true;
    } else {
      if (b.start > a.end)
        gap(a.end, b.start, fmt::format("between offsets {} and {}", a.end, b.start), a.extent_known);
    }
  }
  if (!placed.empty()) {
    const Extent& last = placed.back();
    if (last.end > end.cd_start)
      out.push_back(make_finding(Code::overlapping_entries, name_of(last.index).name, last.start,
                                 fmt::format("its data runs into the central directory at offset {}", end.cd_start)));
    else
      gap(last.end, end.cd_start, "between the last entry and the central directory", last.extent_known);
  }
  std::uint64_t records = end.zip64 ? end.zip64_offset : end.eocd_offset;
  if (cd_end < records) gap(cd_end, records, "between the central directory and the end records");
}

void settle_extent(Entry& e) {
  if (!e.in_directory || !e.lfh || !e.extent_known) return;
  e.end_offset = e.data_offset + e.compressed_size + (e.descriptor ? e.descriptor->length : 0);
}

void judge_walk(scan::ScanResult& walk, std::uint64_t size, std::vector<report::Finding> earlier) {
  for (auto& e : walk.entries) judge_entry(e, size, earlier);
  std::move(earlier.begin(), earlier.end(), std::back_inserter(walk.findings));
  std::stable_sort(walk.findings.begin(), walk.findings.end(), [](const report::Finding& a, const report::Finding& b) {
    return a.offset.value_or(~std::uint64_t(0)) < b.offset.value_or(~std::uint64_t(0));
  });
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
  if (phnum && (phentsize != (wide ? 56u : 32u) || phoff + phnum * phentsize > len)) return false;
  if (shnum && (shentsize != (wide ? 64u : 40u) || shoff + shnum * shentsize > len)) return false;
  return phnum || shnum;
}

bool executable_stub(std::span<const std::uint8_t> h, std::uint64_t len) {
  if (h.size() >= 4 && std::memcmp(h.data(), "\x7f" "ELF", 4) == 0) return elf_stub(h, len);
  if (h.size() >= 64 && h[0] == 'M' && h[1] == 'Z') {
    std::uint64_t pe = zip::load_u32(h.data() + 0x3c);
    return pe + 4 <= std::min<std::uint64_t>(len, h.size()) && std::memcmp(h.data() + pe, "PE\0\0", 4) == 0;
  }
  return false;
}
}  // namespace

report::Finding judge_prefix(std::span<const std::uint8_t> head, std::uint64_t len, bool offsets_skip_it) {
  // 8.5.3-8.5.4: zip -s writes the spanning signature also when the set fit one volume; every
  // reader skips it.
  if (len == 4 && head.size() == 4 && !offsets_skip_it &&
      (zip::load_u32(head.data()) == zip::kDescriptorSig || zip::load_u32(head.data()) == 0x30304b50))
    return make_finding(Code::prefix_bytes, std::nullopt, 0,
                        "the archive starts with the spanning signature of a split archive that needed one volume "
                        "(zip -s); readers skip it");
  if (offsets_skip_it && !executable_stub(head, len))
    return make_finding(Code::prefix_unrecognised, std::nullopt, 0,
                        fmt::format("{} bytes precede the archive and its offsets count from after them, but they "
                                    "are no ELF or PE program: 7-Zip cannot open it",
                                    len));
  return make_finding(Code::prefix_bytes, std::nullopt, 0,
                      fmt::format("{} bytes precede the archive (a self-extractor stub or other prefix){}", len,
                                  offsets_skip_it ? "; the archive's offsets count from after them" : ""));
}

namespace {
// The readers that lack a method or an encryption scheme (docs/readers.md, table 2).
report::Readers lacking_method(std::uint16_t m) {
  using namespace report;
  switch (m) {
    case 0: case 8: return 0;
    case 1: case 6: case 9: return kLibarchive | kPython | kGo | kJava;
    case 12: return kGo | kJava;
    case 14: return kUnzip | kGo | kJava;
    case 93: case 95: case 98: case 99: return kUnzip | kPython | kGo | kJava;
    default: return kAllReaders;
  }
}
}  // namespace

void FeatureJudge::add(const Entry& e) {
  auto note = [&](std::string feature, report::Readers lacking) {
    if (!lacking) return;
    auto& u = uses_[feature];
    u.lacking |= lacking;
    if (!u.count++) u.first = e.name;
  };
  if (auto lacking = lacking_method(e.method))
    note(fmt::format("method {} ({})", zip::method_name(e.method), e.method), lacking);
  if (e.flags & zip::kFlagStrongEncryption)
    note("strong encryption (bit 6)", report::kAllReaders);
  else if ((e.flags & zip::kFlagEncrypted) && e.method != 99)
    // Go ignores bit 0 and hands out the ciphertext; Java refuses the archive.
    note("traditional PKWARE encryption", report::kGo | report::kJava);
}

void FeatureJudge::finish(std::vector<report::Finding>& out) {
  for (const auto& [feature, u] : uses_) {
    auto f = make_finding(Code::readers_lack_feature, u.first, std::nullopt,
                          fmt::format("{} entr{} ({}'{}') use {}, which {} lack{}{}", u.count, u.count == 1 ? "y" : "ies",
                                      u.count == 1 ? "" : "the first is ", report::printable_name(u.first), feature,
                                      report::reader_names(u.lacking), __builtin_popcount(u.lacking) == 1 ? "s" : "",
                                      u.lacking & report::kJava ? "; Java's ZipFile cannot open the archive at all" : ""));
    f.readers = u.lacking;
    out.push_back(std::move(f));
  }
  uses_.clear();
}

void judge_features(const std::vector<Entry>& entries, std::vector<report::Finding>& out) {
  FeatureJudge j;
  for (const auto& e : entries) j.add(e);
  j.finish(out);
}

namespace {
// The standard library's string hash reads words, not bytes; it only sorts candidates, and every
// match is confirmed by comparing the names.
std::uint64_t name_hash(std::string_view s) { return std::hash<std::string_view>{}(s); }
}  // namespace

NameJudge::Facts NameJudge::examine(const Entry& e, std::vector<report::Finding>& out) {
  Facts facts;
  // Java decodes every name and comment as UTF-8 and refuses the archive when one fails; with
  // bit 11 set Python and libarchive refuse it too; unzip drops control bytes from names
  // (docs/readers.md, rules 50-54).
  // Info-ZIP's Unicode Path field, when its CRC is the raw name's: unzip, 7-Zip and libarchive
  // extract under that name instead.
  auto uname = unicode_extra(e.cd_extra(), kUnicodePathId, e.name);
  if (!uname) uname = unicode_extra(e.lfh_extra(), kUnicodePathId, e.name);
  // Most names are printable ASCII: one pass that the compiler vectorises says so.
  unsigned char odd = 0;
  for (unsigned char c : e.name) odd |= static_cast<unsigned char>(c - 0x20) >= 0x5f;
  bool ascii = true, control = false;
  if (odd)
    for (unsigned char c : e.name) {
      ascii &= c < 0x80;
      control |= c < 0x20 || c == 0x7f;
    }
  const bool utf8 = ascii || valid_utf8(e.name);
  if (!e.name.empty()) {
    report::Readers refuse = 0;
    if (!utf8) refuse |= report::kJava | (e.flags & zip::kFlagUtf8 ? report::kPython | report::kLibarchive : 0);
    if (control && !uname) refuse |= report::kUnzip;
    // A name with backslashes and no slash is a Windows path to libarchive, and to unzip for an
    // MS-DOS host (warning): they make folders of it. With any '/' (a directory's trailing one
    // too) both keep the backslashes (docs/readers.md, rule 55).
    report::Readers split = 0;
    if (e.name.find('/') == std::string::npos && e.name.find('\\') != std::string::npos && !uname)
      split = report::kLibarchive | ((e.version_made_by >> 8) == 0 ? report::kUnzip : 0);
    if (refuse | split) {
      std::string msg;
      if (refuse)
        msg = fmt::format("the name {}; {} cannot read the archive under it",
                          control ? "holds control bytes" : "is not valid UTF-8", report::reader_names(refuse));
      if (split)
        msg += fmt::format("{}the name holds a backslash, which {} take{} for a folder separator: the file comes "
                           "out under another path",
                           msg.empty() ? "" : "; ", report::reader_names(split), __builtin_popcount(split) == 1 ? "s" : "");
      auto f = make_finding(Code::name_invalid, e.name, e.lfh_offset, msg);
      f.readers = refuse | split;
      out.push_back(std::move(f));
    }
  }
  // Non-ASCII names that some readers decode another way (docs/readers.md, rules 51 and 56): one
  // note for the archive, naming the first such entry.
  if (!ascii && utf8) {
    facts.utf8_without_flag = !(e.flags & zip::kFlagUtf8);
    // unzip shows the directory's copy, converted from an OEM code page by the rule above.
    facts.from_dos = e.in_directory && unzip_converts(e, false, e.flags, !e.cd_extra().empty());
  }
  if (!e.comment().empty() && !valid_utf8(e.comment()))
    out.push_back(make_finding(Code::comment_invalid, e.name, e.lfh_offset,
                               "the entry's comment is not valid UTF-8; Java's ZipFile refuses the archive"));
  // Readers without the Unicode Path field (Python, Go, Java) extract under the raw name.
  auto why = unsafe_name_reason(e.name);
  if (!why && uname) why = unsafe_name_reason(*uname);
  if (why) out.push_back(make_finding(Code::unsafe_path, e.name, e.lfh_offset, *why + ": a restore could write outside its target"));
  if (e.in_directory && meant_symlink(e, attribute_kinds(e)))
    out.push_back(make_finding(Code::symlink_entry, e.name, e.lfh_offset,
                               "the entry is a symbolic link; a restore must not write through it"));
  facts.hash = name_hash(e.name);
  return facts;
}

void NameJudge::add(const Entry& e, std::uint32_t index, const Facts& facts) {
  if (facts.utf8_without_flag && !cp437_++) first_cp437_.emplace(e.name, e.lfh_offset);
  if (facts.from_dos && !oem_++) first_oem_.emplace(e.name, e.lfh_offset);
  seen_.push_back({facts.hash, index});
}

void NameJudge::absorb(std::vector<report::Finding>& found) {
  std::move(found.begin(), found.end(), std::back_inserter(found_));
  found.clear();
}

void NameJudge::finish(const NameOf& name_of, std::vector<report::Finding>& out) {
  for (auto& f : found_) out.push_back(std::move(f));
  std::vector<report::Finding>().swap(found_);
  // Hashes are spread evenly: one counting pass on their top 16 bits leaves buckets of a few
  // entries each to sort (a million names: a quarter of the time a comparison sort takes).
  {
    std::vector<std::uint32_t> start(65537, 0);
    for (const auto& x : seen_) ++start[(x.hash >> 48) + 1];
    for (std::size_t b = 1; b < start.size(); ++b) start[b] += start[b - 1];
    std::vector<Seen> sorted(seen_.size());
    auto fill = start;
    for (const auto& x : seen_) sorted[fill[x.hash >> 48]++] = x;  // index order kept within a bucket
    for (std::size_t b = 0; b + 1 < start.size(); ++b)
      if (start[b + 1] - start[b] > 1)
        std::stable_sort(sorted.begin() + start[b], sorted.begin() + start[b + 1],
                         [](const Seen& a, const Seen& c) { return a.hash < c.hash; });
    seen_.swap(sorted);
  }
  // Within a run of equal hashes, each name is compared with the earlier ones (a run is almost
  // always one name stored twice); the finding names the first entry that holds it.
  std::vector<std::pair<std::uint32_t, report::Finding>> dups;
  for (std::size_t i = 0; i < seen_.size();) {
    std::size_t j = i + 1;
    while (j < seen_.size() && seen_[j].hash == seen_[i].hash) ++j;
    if (j - i > 1) {
      std::vector<std::pair<std::string, std::uint32_t>> firsts;
      for (std::size_t k = i; k < j; ++k) {
        Named n = name_of(seen_[k].index);
        auto it = std::find_if(firsts.begin(), firsts.end(), [&](const auto& x) { return x.first == n.name; });
        if (it == firsts.end()) {
          firsts.emplace_back(std::move(n.name), seen_[k].index);
          continue;
        }
        dups.emplace_back(seen_[k].index,
                          make_finding(Code::duplicate_name, n.name, n.offset,
                                       fmt::format("the name is stored twice (entries {} and {})", it->second + 1,
                                                   seen_[k].index + 1)));
      }
    }
    i = j;
  }
  std::vector<Seen>().swap(seen_);
  std::sort(dups.begin(), dups.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& d : dups) out.push_back(std::move(d.second));
  auto note = [&](std::size_t n, const std::optional<std::pair<std::string, std::uint64_t>>& first, report::Readers r,
                  const char* one, const char* many) {
    if (!n) return;
    auto f = make_finding(Code::name_charset_differs, first->first, first->second,
                          fmt::format("{} name{} ({}'{}') {}: {} show{} other names for the same bytes", n,
                                      n == 1 ? "" : "s", n == 1 ? "" : "the first is ", report::printable_name(first->first),
                                      n == 1 ? one : many, report::reader_names(r),
                                      __builtin_popcount(r) == 1 ? "s" : ""));
    f.readers = r;
    out.push_back(std::move(f));
  };
  note(cp437_, first_cp437_, report::kPython, "is UTF-8 without bit 11, which Python decodes as CP437",
       "are UTF-8 without bit 11, which Python decodes as CP437");
  note(oem_, first_oem_, report::kUnzip, "comes from an MS-DOS or OS/2 host, whose names unzip converts from an OEM code page",
       "come from an MS-DOS or OS/2 host, whose names unzip converts from an OEM code page");
}

void judge_names(const std::vector<Entry>& entries, std::vector<report::Finding>& out) {
  NameJudge j;
  for (std::size_t i = 0; i < entries.size(); ++i) j.add(entries[i], std::uint32_t(i));
  j.finish([&](std::uint32_t i) { return Named{entries[i].name, entries[i].lfh_offset}; }, out);
}

}  // namespace zm::check
