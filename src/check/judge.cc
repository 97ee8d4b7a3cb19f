#include "check/judge.h"

#include <fmt/format.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <iterator>
#include <string>
#include <string_view>
#include <map>

#include "check/names.h"
#include "check/readers.h"

namespace zm::check {
using report::Code;
using report::EntryStatus;
using report::make_finding;
using scan::Entry;
using Status = codec::DecodeResult::Status;

namespace {

struct Judging {
  Entry& e;
  std::vector<report::Finding>& out;
  bool libarchive_walks = false;  // scan::EndRecords::libarchive_walks
  bool bad = false;
  // `readers`: what the rule found each reader does; none, the code's rule in codes.def.
  void add(Code c, std::optional<std::uint64_t> at, std::string msg, report::ReaderGroups readers) {
    auto f = readers.empty() ? make_finding(c, e.name, at, std::move(msg))
                             : make_finding(c, e.name, at, std::move(msg), readers);
    readers::moot_where_lacking(f, e.flags, e.method);
    if (f.severity == report::Severity::error) bad = true;
    out.push_back(std::move(f));
  }
  // Readers that refuse (or read otherwise): damage.
  void add(Code c, std::optional<std::uint64_t> at, std::string msg, report::Readers refuse) {
    add(c, at, std::move(msg), refuse ? report::refusing(refuse) : report::ReaderGroups{});
  }
};

readers::AttributeKinds attribute_kinds(const Entry& e) {
  return readers::attribute_kinds(e.version_made_by, e.external_attr, e.uncompressed_size);
}
bool meant_symlink(const Entry& e, const readers::AttributeKinds& k) { return readers::meant_symlink(k, e.uncompressed_size); }

// A name without a trailing '/' whose attributes say directory (rule 65).
void judge_marked_directory(Judging& j, const readers::AttributeKinds& k, bool data) {
  Entry& e = j.e;
  if (data)
    j.add(Code::directory_with_data, e.lfh_offset,
          fmt::format("the entry is marked as a directory but holds {} bytes of data, which {} drop{}",
                      e.uncompressed_size, report::reader_names(k.directory),
                      __builtin_popcount(k.directory) == 1 ? "s" : ""),
          k.directory);
  else if (!k.dos_directory_only)
    j.add(Code::entry_kind_differs, e.lfh_offset,
          fmt::format("its Unix mode marks it as a directory though its name has no trailing '/': {} make{} a "
                      "directory of it, the others an empty file",
                      report::reader_names(k.directory), __builtin_popcount(k.directory) == 1 ? "s" : ""),
          k.directory);
  else
    // Only the MS-DOS directory bit (0x10), as Windows tools set it on folders: nothing is lost
    // either way, the readers only disagree on folder or empty file (docs/readers.md, rule 65).
    j.add(Code::entry_kind_differs, e.lfh_offset,
          fmt::format("its MS-DOS attributes mark it as a directory though its name has no trailing '/': {} "
                      "make{} a directory of it, the others an empty file",
                      report::reader_names(k.directory), __builtin_popcount(k.directory) == 1 ? "s" : ""),
          report::warning(k.directory));
}

void judge_attributes(Judging& j) {
  Entry& e = j.e;
  const bool data = e.uncompressed_size > 0 || e.compressed_size > 2;
  const readers::AttributeKinds k = attribute_kinds(e);
  // A folder's entry unzip skips is made all the same when an entry under it is extracted
  // (Java's jar writes 0xFFFFFFFF on folders): NameJudge weighs that, knowing the other names.
  if (k.skipped && !e.is_directory())
    j.add(Code::entry_kind_differs, e.lfh_offset,
          "its MS-DOS attributes mark it as a volume label, which unzip skips", k.skipped);
  // A name ending in '/' with data: every extractor makes a directory and drops the bytes
  // (docs/readers.md, rule 66); what its attributes say adds nothing.
  if (e.is_directory()) {
    if (data)
      j.add(Code::directory_with_data, e.lfh_offset,
            fmt::format("the entry is named as a directory but holds {} bytes of data, which extractors drop",
                        e.uncompressed_size),
            readers::kExtractors);
    return;
  }
  if (k.directory) judge_marked_directory(j, k, data);
  // A Unix link mode in the high half comes first for 7-Zip (IsLinuxSymLink): rule 67 says it.
  if (k.reparse && !k.directory && !(k.symlink & report::kSevenZip))
    j.add(Code::entry_kind_differs, e.lfh_offset,
          fmt::format("its MS-DOS attributes mark it as a reparse point (0x400): 7-Zip takes its {} bytes for "
                      "link data and fails (\"Incorrect reparse stream\") or makes a link",
                      e.uncompressed_size),
          k.reparse);
  if (k.symlink && !meant_symlink(e, k)) {
    const bool all = k.symlink == readers::kExtractLinks;
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
      !(e.lfh && e.lfh->xl.has_external))
    j.add(Code::entry_kind_differs, e.lfh_offset,
          "its attributes make it a symbolic link, but libarchive reads the local headers of this archive, which "
          "carry no attributes, and writes a file of the link's target",
          report::kLibarchive);
  // libarchive reads a link's target only when stored or deflated ("Unsupported ZIP compression
  // method during decompression of link entry"), though it decodes bzip2, LZMA, zstd, xz and PPMd
  // for files (docs/readers.md, rule 67).
  if ((k.symlink & report::kLibarchive) && readers::has_method(report::kLibarchive, e.method) &&
      !readers::libarchive_reads_link(e.method) && !e.encrypted())
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

readers::LibarchiveModeFacts mode_facts(const Entry& e, const zip::XlField& cd_xl, bool walks) {
  readers::LibarchiveModeFacts f;
  f.version_made_by = e.version_made_by;
  f.external_attr = e.external_attr;
  f.cd_xl = cd_xl;
  if (e.lfh) {
    f.local_version_needed = e.lfh->version_needed;
    f.local_xl = e.lfh->xl;
  }
  f.walks = walks;
  f.named_directory = e.is_directory();
  return f;
}

std::string kind_name(std::uint32_t mode) {
  switch (mode & 0170000) {
    case 0120000: return "a symbolic link";
    case 0040000: return "a directory";
    case 0020000: return "a character device";
    case 0060000: return "a block device";
    case 0140000: return "a socket";
    default: break;
  }
  std::string bits;
  if (mode & 04000) bits += "setuid ";
  if (mode & 02000) bits += "setgid ";
  if (mode & 01000) bits += "sticky ";
  if (mode & 0002) bits += "world-writable ";
  return bits.empty() ? "a plain file" : "a " + bits + "file";
}

// libarchive takes the type and mode from its "xl" field (0x6c78) in the directory record and in
// the local header, its seekable reader as much as its walk (process_extra), where unzip and
// 7-Zip read the directory's attributes (docs/readers.md, rule 80): a field that says another
// type, or other setuid, setgid, sticky or world-writable bits, makes libarchive write something
// else than the others, and than what the directory shows.
void judge_xl(Judging& j, const zip::XlField& cd_xl) {
  Entry& e = j.e;
  if (!cd_xl.any() && !(e.lfh && e.lfh->xl.any())) return;
  const auto f = mode_facts(e, cd_xl, j.libarchive_walks);
  const std::uint32_t taken = readers::libarchive_mode(f), shown = readers::directory_mode(f);
  if (!((taken ^ shown) & readers::kModeThatMatters)) return;
  j.add(Code::entry_kind_differs, e.lfh_offset,
        fmt::format("libarchive's xl field (0x6c78) in the {} gives it mode {:06o}, {}, where the directory's "
                    "attributes say {:06o}, {}: libarchive writes {}",
                    e.lfh && e.lfh->xl.any() ? "local header" : "directory record", taken, kind_name(taken), shown,
                    kind_name(shown), kind_name(taken)),
        report::kLibarchive);
}

// What a restore will not write as the archive says (a warning, zipmedic's own rule): it strips
// setuid, setgid, sticky and world-writable bits unless --preserve-permissions, and creates no
// device or socket. A FIFO's mode is left out: Info-ZIP's `zip -` writes stdin as one (010600),
// and unzip, 7-Zip and libarchive all write a plain file of its data, as restore does.
void judge_mode_dropped(Judging& j, const zip::XlField& cd_xl) {
  Entry& e = j.e;
  enum : unsigned { kSpecial = 1, kSetid = 2, kSticky = 4, kWorld = 8 };
  unsigned found = 0;
  std::uint32_t first = 0;
  const auto weigh = [&](std::uint32_t m) {
    const std::uint32_t type = m & 0170000;
    const bool link = type == 0120000;
    const unsigned before = found;
    if (type == 0020000 || type == 0060000 || type == 0140000) found |= kSpecial;
    if (m & 06000) found |= kSetid;
    if ((m & 01000) && !link) found |= kSticky;
    // Python's zipfile writes its folders 040777 (ZipFile.mkdir's default): a folder's
    // world-writable bit alone is a writer's default, and stripping it loses nothing.
    if ((m & 0002) && !link && type != 0040000) found |= kWorld;
    if (found != before && !first) first = m;
  };
  if ((e.version_made_by >> 8) == 3) weigh(e.unix_mode());
  if (cd_xl.any() || (e.lfh && e.lfh->xl.any())) weigh(readers::libarchive_mode(mode_facts(e, cd_xl, j.libarchive_walks)));
  if (!found) return;
  std::vector<const char*> why;
  if (found & kSpecial) why.push_back("is a device or socket, which restore does not create");
  if (found & kSetid) why.push_back("has setuid or setgid bits");
  if (found & kSticky) why.push_back("has the sticky bit");
  if (found & kWorld) why.push_back("is world-writable");
  std::string msg = fmt::format("its mode {:06o} ", first);
  for (std::size_t i = 0; i < why.size(); ++i) msg += fmt::format("{}{}", i ? (i + 1 == why.size() ? " and " : ", ") : "", why[i]);
  j.add(Code::mode_dropped, e.lfh_offset,
        msg + (found == kSpecial ? "" : ": restore strips those bits unless --preserve-permissions"),
        report::kOwnRule);
}

// The directory's own fields that readers refuse whatever the data holds.
void judge_directory_record(Judging& j) {
  Entry& e = j.e;
  const unsigned version = e.version_needed & 0xFF;
  // A reader that lacks the method cannot refuse its version (the verdict contract).
  if (const report::Readers refuse = readers::refusing_version(e.version_needed, e.method) &
                                     ~readers::lacking_method(e.method))
    j.add(Code::version_unsupported, e.lfh_offset,
          fmt::format("the directory says version {}.{} is needed to extract it; {} refuse{} that", version / 10,
                      version % 10, report::reader_names(refuse), __builtin_popcount(refuse) == 1 ? "s" : ""),
          refuse);
  judge_attributes(j);
  const std::string& x = e.cd_extra();
  const zip::XlField cd_xl = zip::xl_field({reinterpret_cast<const std::uint8_t*>(x.data()), x.size()});
  judge_xl(j, cd_xl);
  judge_mode_dropped(j, cd_xl);
  if (e.disk_start != 0)
    j.add(Code::disk_number_nonzero, e.lfh_offset,
          fmt::format("the directory record says the entry starts on disk {} of a single-volume archive", e.disk_start),
          report::kSevenZip);
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

// unzip's name conversion for one copy of the entry's name (rule 71).
bool unzip_converts(const Entry& e, bool local, std::uint16_t flags, bool has_extra) {
  return readers::unzip_converts({e.version_made_by, e.external_attr, local, flags, has_extra});
}

bool unzip_converts_one_name(const Entry& e, const scan::LocalClaim& l) {
  const bool local_extra = e.data_offset > e.lfh_offset + 30 + e.name.size();
  return unzip_converts(e, false, e.flags, !e.cd_extra().empty()) != unzip_converts(e, true, l.flags, local_extra);
}

// The local header against the directory (4.3.7 vs 4.3.12), reader by reader (docs/readers.md,
// rules 31-36, 71): which readers refuse or read other bytes or another name, and which only
// complain (unzip warns "mismatching local filename" and reads on under the directory's copy).
// False when the header is not this entry's own.
bool judge_local_against_directory(Judging& j) {
  using namespace report;
  Entry& e = j.e;
  const scan::LocalClaim& l = *e.lfh;
  std::vector<std::string> diffs;
  ReaderGroups g;
  bool ascii = true;
  for (unsigned char c : e.name) ascii &= c < 0x80;
  const unsigned host = e.version_made_by >> 8;
  if (l.name_differs) {
    // Rule 31: Python refuses, libarchive extracts under the local name, 7-Zip refuses for a FAT
    // or NTFS host, unzip warns and takes the directory's.
    diffs.push_back("the name");
    g.refuse |= kPython | kLibarchive | (host == 0 || host == 11 ? kSevenZip : 0);
    g.warn |= kUnzip;
  }
  if (l.method != e.method) {
    diffs.push_back(
        fmt::format("method {} locally, {} in the directory", zip::method_name(l.method), zip::method_name(e.method)));
    g.refuse |= kAllReaders;  // rule 33: unzip and libarchive decode with the local method
  }
  const std::uint16_t differ = l.flags ^ e.flags;
  if (differ & ~(readers::flags_sevenzip_ignores(e.method) | zip::kFlagDescriptor)) g.refuse |= kSevenZip;  // rule 34
  if (differ & zip::kFlagDescriptor) g.refuse |= kSevenZip | kGo;                                            // rule 35
  if (differ & zip::kFlagUtf8) {
    // Rule 32: unzip warns even for ASCII names; a non-ASCII name decodes otherwise for Python and libarchive.
    g.warn |= kUnzip;
    if (!ascii) g.refuse |= kPython | kLibarchive;
    // 7-Zip 16.02 reports "Headers Error" for a non-ASCII name whose local header sets bit 11
    // and whose directory record does not; the other way round it reads on (measured on 7-Zip's,
    // Info-ZIP's and a fuzzer's archives, each way).
    if (!ascii && (l.flags & zip::kFlagUtf8)) g.refuse |= kSevenZip;
  }
  if (differ & ~(readers::flags_sevenzip_ignores(e.method) & ~(zip::kFlagDescriptor | zip::kFlagUtf8)))
    diffs.push_back(fmt::format("flags {:04x} locally, {:04x} in the directory", l.flags, e.flags));
  if (!ascii && !l.name_differs && unzip_converts_one_name(e, l)) {
    diffs.push_back("the name, as unzip reads it (it converts one copy from an MS-DOS code page and not the other)");
    g.warn |= kUnzip;  // rule 71
  }
  if (diffs.empty() && !(l.flags & zip::kFlagDescriptor)) {
    // Rule 36: sizes live in the local header (bit 3 clear): unzip and libarchive take them from
    // there, 7-Zip refuses.
    if (l.crc32 != e.crc32) diffs.push_back(fmt::format("CRC {:08x} locally, {:08x} in the directory", l.crc32, e.crc32));
    if (l.compressed_size != e.compressed_size || l.uncompressed_size != e.uncompressed_size)
      diffs.push_back(fmt::format("sizes {}/{} locally, {}/{} in the directory", l.compressed_size,
                                  l.uncompressed_size, e.compressed_size, e.uncompressed_size));
    if (!diffs.empty())  // the block starts with none: these are the CRC and size differences
      g.refuse |= readers::taking_local_values({l.crc32, l.compressed_size, l.uncompressed_size},
                                               {e.crc32, e.compressed_size, e.uncompressed_size});
  }
  if (diffs.empty()) return true;
  std::string msg = "the local header disagrees with the directory: ";
  for (std::size_t i = 0; i < diffs.size(); ++i) msg += (i ? "; " : "") + diffs[i];
  j.add(Code::cd_lfh_mismatch, e.lfh_offset, msg, g);
  if (!local_header_is_its_own(e)) {
    e.extent_known = false;
    if (e.end_offset < e.data_offset) e.end_offset = e.data_offset;
    return false;
  }
  return true;
}

// The local header itself (4.3.7), and against the directory when there is one. False when the
// header is not this entry's own: the bytes behind it are then another entry's, and judging them
// as this one would only add noise.
bool judge_local_header(Judging& j) {
  Entry& e = j.e;
  const scan::LocalClaim& l = *e.lfh;
  if (e.in_directory && !judge_local_against_directory(j)) return false;
  if (l.ff_without_zip64 && !(l.flags & zip::kFlagDescriptor))
    // unzip and libarchive take the local compressed size as it is, 7-Zip compares it (rule 36).
    j.add(Code::zip64_inconsistent, e.lfh_offset, "the local header's sizes are 0xFFFFFFFF but it has no ZIP64 extra field",
          report::kUnzip | report::kSevenZip | report::kLibarchive);
  // Rule 24 too: libarchive's process_extra reads the local block as well (seed 21, mutant 2013).
  if (l.extra_malformed)
    j.add(Code::extra_field_malformed, e.lfh_offset,
          "the local header's extra block is malformed: a field runs past it, or it is 1 to 3 bytes that are not "
          "all zero",
          report::kLibarchive);
  return true;
}

// Which witness claims the entry's CRC and sizes: the directory always does; without one, the
// local header only when bit 3 is clear (4.4.4); a bit-3 entry's only claim is its descriptor.
struct Claim {
  bool has_primary;
  const char* primary;
};
Claim primary_claim(const Entry& e) {
  return {e.in_directory || (e.lfh && !(e.lfh->flags & zip::kFlagDescriptor)),
          e.in_directory ? "the directory" : "the local header"};
}

}  // namespace

bool sevenzip_checks_size(const Entry& e) {
  return readers::sevenzip_checks_size(e.method, e.flags & zip::kFlagDescriptor, e.uncompressed_size,
                                       e.cd_zip64 || e.lfh_zip64());
}

bool decoded_whole(const Entry& e) { return readers::size_binds_no_reader(e.method, sevenzip_checks_size(e)); }

namespace {

// The file ends inside the entry: truncated, and nothing else is judged.
bool judge_cut(Judging& j, std::uint64_t size, const Claim& c) {
  Entry& e = j.e;
  // A walk that found the entry's bytes stop short of the end (the next entry or a directory
  // inside what its sizes claim) ended it there: damaged, not cut by the end of the file.
  const bool stopped_inside = !e.in_directory && e.decoded && e.decoded->status == Status::corrupt &&
                              e.end_offset > e.data_offset && e.end_offset < size;
  const bool cut = e.cut_intact || (e.decoded && e.decoded->status == Status::truncated) ||
                   (c.has_primary && e.data_offset + e.compressed_size > size && !stopped_inside);
  if (!cut) return false;
  e.status = EntryStatus::truncated;
  std::uint64_t present = size > e.data_offset ? size - e.data_offset : 0;
  j.add(Code::entry_truncated, e.lfh_offset,
        e.cut_intact ? fmt::format("the file ends inside the entry; {} bytes of its data are intact", *e.cut_intact)
        : c.has_primary ? fmt::format("the file ends inside the entry's data: {} of {} compressed bytes present",
                                      std::min(present, e.compressed_size), e.compressed_size)
                        : fmt::format("the file ends inside the entry's data after {} bytes", present),
        report::refusing(report::kAllReaders));
  return true;
}

// The decoder's own verdict: data it could not find, a stream that runs past what is claimed, or
// data it rejects. False when the data is not sound enough to weigh against the claims.
bool judge_decoding(Judging& j, const Claim& c) {
  Entry& e = j.e;
  if (!e.decoded && e.shares_decoded_header) {
    // unzip and Python refuse entries that share bytes (rule 48); the data was decoded once, for
    // the first record that points here with other claims.
    j.add(Code::overlapping_entries, e.data_offset,
          "another directory record points at this local header with other sizes or another method; the data "
          "was decoded for that record only",
          readers::kRefusingOverlaps);
    return false;
  }
  if (!e.decoded) {
    j.add(Code::decode_error, e.data_offset, "the entry's data could not be located, so it was not decoded", report::refusing(report::kAllReaders));
    return false;
  }
  const auto& d = *e.decoded;
  if (d.status == Status::overrun) {
    std::uint64_t claimed = c.has_primary ? e.uncompressed_size : e.descriptor ? e.descriptor->uncompressed_size : 0;
    if ((c.has_primary || e.descriptor) && d.produced > claimed)
      j.add(Code::size_mismatch, e.data_offset,
            fmt::format("the data decodes to more than the {} bytes {} promises", claimed,
                        c.has_primary ? c.primary : "its data descriptor"),
            // 7-Zip refuses longer data whether or not it checks this entry's size: the CRC it
            // computes over all of it is not the one stored (the fuzzer's Deflate64 mutant).
            e.in_directory ? readers::checking_uncompressed_size(e.method, true, true)
                           : report::refusing(report::kAllReaders));
    else
      j.add(Code::decode_error, e.data_offset,
            fmt::format("the compressed stream does not end within its {} bytes",
                        c.has_primary ? e.compressed_size : e.descriptor ? e.descriptor->compressed_size : d.consumed),
            report::refusing(report::kAllReaders));
    return false;
  }
  if (d.status != Status::ok) {
    j.add(Code::decode_error, e.data_offset + d.consumed, d.error, report::refusing(report::kAllReaders));
    return false;
  }
  return true;
}

// The directory's (or a bit-3-clear local header's) CRC and sizes against the data.
void judge_primary_claims(Judging& j, const Claim& c) {
  Entry& e = j.e;
  const auto& d = *e.decoded;
  if (d.consumed != e.compressed_size)
    j.add(Code::size_mismatch, e.data_offset + d.consumed,
          fmt::format("the compressed stream ends after {} bytes; {} says {}", d.consumed, c.primary, e.compressed_size),
          report::refusing(report::kAllReaders));
  if (d.produced != e.uncompressed_size)
    j.add(Code::size_mismatch, e.data_offset,
          fmt::format("the data decodes to {} bytes; {} says {}", d.produced, c.primary, e.uncompressed_size),
          e.in_directory ? readers::checking_uncompressed_size(e.method, d.produced > e.uncompressed_size,
                                                               sevenzip_checks_size(e))
                         : report::refusing(report::kAllReaders));
  if (d.crc != e.crc32)
    j.add(Code::crc_mismatch, e.data_offset,
          fmt::format("CRC-32 of the data is {:08x}; {} says {:08x}", d.crc, c.primary, e.crc32),
          report::refusing(report::kAllReaders));
}

// The data descriptor against the data (4.3.9): its CRC and sizes, and the layout libarchive
// expects of it when it walks the local headers.
void judge_descriptor_claims(Judging& j, const Claim& c) {
  Entry& e = j.e;
  const auto& d = *e.decoded;
  const auto& g = *e.descriptor;
  const bool sizes_agree = g.compressed_size == d.consumed && g.uncompressed_size == d.produced;
  const bool crc_differs = g.crc32 != d.crc;
  if (sizes_agree && crc_differs && !c.has_primary)
    j.add(Code::crc_mismatch, e.data_offset,
          fmt::format("CRC-32 of the data is {:08x}; its data descriptor says {:08x}", d.crc, g.crc32),
          report::refusing(report::kAllReaders));
  else if (e.in_directory && !crc_differs && !sizes_agree && !j.libarchive_walks)
    // Go checks the descriptor's CRC; no reader checks its sizes when a directory exists.
    j.add(Code::descriptor_sizes_mismatch, g.offset,
          fmt::format("the data descriptor says {} compressed, {} uncompressed; the data is {}, {}",
                      g.compressed_size, g.uncompressed_size, d.consumed, d.produced),
          report::kOwnRule);
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
          // Without a directory the descriptor is the only claim of the CRC: every reader that
          // walks to the entry checks the data against it.
          e.in_directory ? report::Readers((crc_differs ? report::kGo : 0) |
                                           (j.libarchive_walks ? report::kLibarchive : 0))
                         : report::kAllReaders);
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
  else if (j.libarchive_walks && e.method == zip::kStored && e.stored_descriptor_sig_inside)
    // zip_read_data_skip ends stored bit-3 data at the first "PK\7\8" without the CRC test that
    // reading does: bsdtar -t then reads a header out of the data ("Truncated ZIP file header",
    // exit 1), while bsdtar -x reads every entry whole. A complaint, not other bytes: a warning.
    j.add(Code::descriptor_mismatch, e.data_offset,
          "the stored data holds the bytes of a descriptor signature (PK\\7\\8); libarchive reads the local "
          "headers of this archive and, listing or skipping entries, ends stored data at the first one (bsdtar -t "
          "fails; extracting reads every entry)",
          report::warning(report::kLibarchive));
}

// Reading the directory, libarchive compares a bit-3 local header's CRC and sizes with the
// directory's when they are not zero (docs/readers.md, rule 37); writers leave them zero
// (4.4.4). Walking the local headers (rule 47), it takes the descriptor's CRC and finds the end
// of Deflate and stored data by itself, so only the sizes below matter there.
void judge_bit3_local_claims(Judging& j) {
  Entry& e = j.e;
  if (!e.lfh) return;
  const auto& d = *e.decoded;
  const auto& l = *e.lfh;
  std::vector<std::string> diffs;
  const bool bounded = readers::libarchive_bounds_by_local_size(e.method);
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
              (j.libarchive_walks ? " (libarchive reads the local headers of this archive, not its directory)" : ""),
          report::kLibarchive);
  }
}

// A bit-3 entry's descriptor, wherever it is, and the CRC and sizes its local header claims
// anyway. False when the file ends inside the descriptor of an entry with no directory record.
bool judge_bit3_claims(Judging& j, std::uint64_t size, const Claim& c) {
  Entry& e = j.e;
  const auto& d = *e.decoded;
  const std::uint64_t data_end = e.data_offset + d.consumed;
  if (e.descriptor) {
    judge_descriptor_claims(j, c);
  } else if (e.descriptor_cut || data_end >= size) {
    if (e.in_directory) {
      // unzip and Go read the descriptor behind a bit-3 entry's data.
      j.add(Code::descriptor_missing, data_end, "bit 3 is set but the file ends before the data descriptor",
            report::kUnzip | report::kGo);
    } else {
      e.status = EntryStatus::truncated;
      j.add(Code::entry_truncated, e.lfh_offset, "the file ends inside the entry's data descriptor", report::refusing(report::kAllReaders));
      return false;
    }
  } else {
    j.add(Code::descriptor_missing, data_end, "bit 3 is set but no data descriptor follows the data",
          report::kUnzip | report::kGo);
  }
  judge_bit3_local_claims(j);
  return true;
}

// What the data really is (decoding) against what each witness claims of it.
void judge_data(Judging& j, std::uint64_t size) {
  Entry& e = j.e;
  const Claim c = primary_claim(e);
  // Data left unread by choice (verify PATTERN) stays unchecked; only a cut is structure.
  if (judge_cut(j, size, c) || e.data_skipped || !judge_decoding(j, c)) return;
  if (c.has_primary) judge_primary_claims(j, c);
  const bool bit3 = e.lfh ? (e.lfh->flags & zip::kFlagDescriptor) : e.has_descriptor_flag();
  if (bit3) judge_bit3_claims(j, size, c);
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
  // A name alone may differ (a damaged byte, a writer's other spelling): the header at the
  // record's offset with its method and bit 3 is still the entry's, and its data is checked
  // against the directory's CRC; another entry's header there is an overlap the layout judge finds.
  return e.lfh->method == e.method && !((e.lfh->flags ^ e.flags) & zip::kFlagDescriptor);
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
                                                                   : "no local header there"),
          report::refusing(report::kAllReaders));
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
    if (e.data_skipped) return;  // not tried: no pattern selected it
    e.status = EntryStatus::encrypted;
    if (e.crypt == scan::CryptOutcome::no_password)
      j.add(Code::password_needed, e.lfh_offset, "the entry is encrypted; give its password to verify it", report::kOwnRule);
    else if (e.crypt == scan::CryptOutcome::wrong_password)
      j.add(Code::password_wrong, e.lfh_offset,
            fmt::format("the password does not open the entry: {}", e.decoded ? e.decoded->error : "its check failed"),
            report::kOwnRule);
    else if (e.crypt == scan::CryptOutcome::auth_failed) {
      e.status = EntryStatus::damaged;
      j.add(Code::auth_mismatch, e.data_offset,
            "the WinZip AES authentication code does not match the encrypted data: the data was changed", report::refusing(report::kAllReaders));
    } else
      j.add(Code::encrypted_entry, e.lfh_offset,
            e.decoded && !e.decoded->error.empty() ? "the entry is encrypted and cannot be verified: " + e.decoded->error
                                                   : "the entry is encrypted; its data cannot be verified without the password",
            report::kOwnRule);
    return;
  }
  if (!codec::method_supported(e.method) && !e.encrypted()) {
    e.status = EntryStatus::unsupported;
    j.add(Code::unsupported_method, e.lfh_offset,
          fmt::format("compression method {} cannot be decoded, so the entry is not verified", zip::method_name(e.method)),
          report::kOwnRule);
    return;
  }
  judge_data(j, size);
  // An empty entry has no CRC to vouch for it; a walk that found garbage right after its header
  // may have read a header whose bytes were shifted (an insert or a delete inside its name).
  if (!e.in_directory && e.status == EntryStatus::unchecked && !j.bad && e.uncompressed_size == 0 &&
      !e.next_record_follows)
    j.add(Code::entry_unconfirmed, e.lfh_offset,
          "an empty entry with no record after it: nothing confirms its name or sizes", report::kOwnRule);
  if (e.status == EntryStatus::unchecked && (j.bad || !e.data_skipped)) e.status = j.bad ? EntryStatus::damaged : EntryStatus::ok;
  // The data is sound (the entry stays ok and a repair keeps it), but one reader cannot decode it.
  if (e.status == EntryStatus::ok && readers::libarchive_fails_lzma(e.method, e.uncompressed_size, e.compressed_size))
    j.add(Code::decode_error, e.data_offset,
          "the entry is LZMA data that decodes to nothing: libarchive's LZMA reader fails on it (\"lzma unknown error "
          "10\"), though 7-Zip and Python read it",
          report::kLibarchive);
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

namespace {

// Bytes that no entry accounts for, and the local headers hidden in them (rules 46, 47, 79).
// `plain` is false after an entry whose true extent is unknown (its header is not its own): bytes
// there are that entry's, not a gap, but hidden headers are still looked for.
struct Gaps {
  const scan::EndRecords& end;
  LayoutProbe& probe;
  std::vector<report::Finding>& out;
  void judge(std::uint64_t from, std::uint64_t to, const std::string& where, bool plain = true) {
  if (to <= from) return;
  auto found = probe.headers_in(from, to);
  for (const auto& h : found) {
    // libarchive's walk ends at the directory's first record.
    const bool walked = end.libarchive_walks && h.offset < end.cd_start;
    // Rule 46 with rule 47: an extra file for a walking libarchive. Rule 79: 7-Zip walks too
    // when the file's first bytes are a local header no directory record points at.
    const report::Readers walkers =
        (walked ? report::kLibarchive : 0) | (readers::sevenzip_walks_from(h.offset) ? report::kSevenZip : 0);
    const bool one = __builtin_popcount(walkers) == 1;
    // Streaming readers walk the local headers in file order, whatever the directory says: the
    // damaged bytes of an entry cut short, which an in-place repair leaves where they are, stop them.
    out.push_back(make_finding(Code::unreferenced_local_header, h.name, h.offset,
                               fmt::format("a local header {} that no directory entry points to{}; streaming "
                                           "readers (bsdtar from a pipe, Java's ZipInputStream, unzip from stdin) "
                                           "read the local headers in file order and stop at offset {} if its "
                                           "entry is damaged (as one an in-place repair left behind is): repair -o "
                                           "OUT writes an archive without it",
                                           where,
                                           walkers ? fmt::format(": {}, which read{} the local headers of this "
                                                                 "archive, extract{} it as another file",
                                                                 report::reader_names(walkers), one ? "s" : "",
                                                                 one ? "s" : "")
                                                   : "",
                                           h.offset),
                               walkers ? report::refusing(walkers) : report::ReaderGroups{}));
  }
  if (found.empty() && plain)
    out.push_back(make_finding(Code::gap_bytes, std::nullopt, from,
                               fmt::format("{} bytes {} belong to no entry", to - from, where)));
  }
};

// Bytes before the first entry: a prefix, or local headers no record points at. False when the
// directory holds no entries while local headers precede it: nothing else is worth saying.
bool judge_start(Gaps& gaps, bool no_entries, std::uint64_t first) {
  const auto& end = gaps.end;
  auto& probe = gaps.probe;
  auto& out = gaps.out;
  if (no_entries && first > 0) {
    // A directory of no entries after local headers (an end record zeroed or replaced): Python,
    // Go, Java and unzip read an empty archive, 7-Zip and libarchive's walk read the entries.
    auto found = probe.headers_in(0, first);
    if (!found.empty()) {
      out.push_back(make_finding(Code::eocd_inconsistent, std::nullopt, end.eocd_offset,
                                 fmt::format("the end records describe an archive of no entries, but {} local "
                                             "header{} precede them: readers disagree on what the archive holds",
                                             found.size(), found.size() == 1 ? "" : "s"),
                                 report::refusing(report::kSevenZip | (end.libarchive_walks ? report::kLibarchive : 0))));
      return false;
    }
  }
  if (first > 0 && end.libarchive_walks) {
    // libarchive's streaming reader, its fallback when it does not take the end records (rule
    // 47), bids only for a file that starts with one of its signatures
    // (archive_read_format_zip_streamable_bid): behind a prefix it finds no archive at all.
    if (!readers::libarchive_streams_from(probe.prefix_head(std::min<std::uint64_t>(first, 4)))) {
      out.push_back(make_finding(Code::prefix_unrecognised, std::nullopt, 0,
                                 fmt::format("{} bytes precede the archive and libarchive, which does not take its end "
                                             "records, reads the file from its first byte: it finds no archive",
                                             first),
                                 report::refusing(report::kLibarchive)));
    }
  }
  if (first > 0) {
    // Bytes before the archive: a self-extractor stub when they hold no local header. When they
    // hold one and the offsets count from after them, 7-Zip still cannot open an archive behind
    // anything but a program it can parse (docs/readers.md, rule 43): a header-like run in a
    // script does not make it one.
    if (!probe.headers_in(0, first).empty()) {
      gaps.judge(0, first, "before the first entry");
      if (end.shift) {
        auto f = judge_prefix(probe.prefix_head(first), first, true, probe.path);
        if (f.code == Code::prefix_unrecognised) out.push_back(std::move(f));
      }
    } else {
      out.push_back(judge_prefix(probe.prefix_head(first), first, end.shift, probe.path));
    }
  }
  return true;
}

// Entries that share bytes, and the gaps between them and up to the directory.
void judge_between(std::vector<Extent>& placed, const NameOf& name_of, Gaps& gaps) {
  const auto& end = gaps.end;
  auto& out = gaps.out;
  for (std::size_t i = 0; i + 1 < placed.size(); ++i) {
    const Extent& a = placed[i];
    Extent& b = placed[i + 1];
    if (b.start < a.end) {
      const std::string a_name = report::printable_name(name_of(a.index).name);
      out.push_back(make_finding(Code::overlapping_entries, name_of(b.index).name, b.start,
                                 b.start == a.start
                                     ? fmt::format("another directory entry ('{}') points at the same local header", a_name)
                                     : fmt::format("its bytes overlap entry '{}' (offsets {} to {})", a_name, a.start,
                                                   a.end),
                                 readers::kRefusingOverlaps));
      b.overlaps = true;
    } else {
      if (b.start > a.end)
        gaps.judge(a.end, b.start, fmt::format("between offsets {} and {}", a.end, b.start), a.extent_known);
    }
  }
  if (!placed.empty()) {
    const Extent& last = placed.back();
    if (last.end > end.cd_start)
      out.push_back(make_finding(Code::overlapping_entries, name_of(last.index).name, last.start,
                                 fmt::format("its data runs into the central directory at offset {}", end.cd_start),
                                 readers::kRefusingOverlaps));
    else
      gaps.judge(last.end, end.cd_start, "between the last entry and the central directory", last.extent_known);
  }
}

}  // namespace

void judge_layout(std::vector<Extent>& placed, const NameOf& name_of, const scan::EndRecords& end,
                  std::uint64_t cd_end, LayoutProbe& probe, std::vector<report::Finding>& out) {
  // (start, index) orders entries that share a header as the directory does.
  std::sort(placed.begin(), placed.end(),
            [](const Extent& a, const Extent& b) { return a.start != b.start ? a.start < b.start : a.index < b.index; });
  Gaps gaps{end, probe, out};
  const std::uint64_t first = placed.empty() ? end.cd_start : placed.front().start;
  if (!judge_start(gaps, placed.empty(), first)) return;
  judge_between(placed, name_of, gaps);
  const std::uint64_t records = end.zip64 ? end.zip64_offset : end.eocd_offset;
  if (cd_end < records) gaps.judge(cd_end, records, "between the central directory and the end records");
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

report::Finding judge_prefix(std::span<const std::uint8_t> head, std::uint64_t len, bool offsets_skip_it,
                             std::string_view path) {
  // 8.5.3-8.5.4: zip -s writes the spanning signature also when the set fit one volume; every
  // reader skips it.
  if (len == 4 && head.size() == 4 && !offsets_skip_it &&
      (zip::load_u32(head.data()) == zip::kDescriptorSig || zip::load_u32(head.data()) == 0x30304b50))
    return make_finding(Code::prefix_bytes, std::nullopt, 0,
                        "the archive starts with the spanning signature of a split archive that needed one volume "
                        "(zip -s); readers skip it");
  if (!offsets_skip_it)
    return make_finding(Code::prefix_bytes, std::nullopt, 0,
                        fmt::format("{} bytes precede the archive (a self-extractor stub or other prefix)", len));
  // unzip warns "N extra bytes at beginning or within zipfile" and reads on (rules 43-44).
  const bool stub = readers::sevenzip_parses_stub(head, len);
  if (!stub && readers::sevenzip_claims_by_name(path))
    return make_finding(Code::prefix_unrecognised, std::nullopt, 0,
                        fmt::format("{} bytes precede the archive and its offsets count from after them, but they "
                                    "are no ELF or PE program: 7-Zip cannot open it under a name it takes for a ZIP "
                                    "(.zip, .jar, ...)",
                                    len),
                        {report::kSevenZip, report::kUnzip, 0});
  return make_finding(Code::prefix_bytes, std::nullopt, 0,
                      fmt::format("{} bytes precede the archive and its offsets count from after them ({})",
                                  len, stub ? "a program 7-Zip parses" : "7-Zip finds the archive behind them under "
                                                                         "this file's name"),
                      report::warning(report::kUnzip));
}

void FeatureJudge::add(const Entry& e) {
  auto note = [&](std::string feature, report::Readers lacking) {
    if (!lacking) return;
    auto& u = uses_[feature];
    u.lacking |= lacking;
    if (!u.count++) u.first = e.name;
  };
  if (auto lacking = readers::lacking_method(e.method))
    note(fmt::format("method {} ({})", zip::method_name(e.method), e.method), lacking);
  if (auto lacking = readers::lacking_encryption(e.flags, e.method))
    note(e.flags & zip::kFlagStrongEncryption ? "strong encryption (bit 6)" : "traditional PKWARE encryption", lacking);
  if (e.lfh) {
    local_read_ = true;
    if (!e.lfh->name_nul_inside) first_clean_ = std::min(first_clean_.value_or(e.lfh_offset), e.lfh_offset);
    else if (!nul_name_) nul_name_.emplace(e.name, e.lfh_offset);
  }
}

void FeatureJudge::finish(std::vector<report::Finding>& out) {
  if (!readers::sevenzip_opens(local_read_, first_clean_) && nul_name_)
    out.push_back(make_finding(Code::name_invalid, nul_name_->first, nul_name_->second,
                               first_clean_ ? "the first local header's name holds a NUL byte before its end, and the "
                                              "first one without lies past 8 MiB: 7-Zip does not search that far for "
                                              "the start of an archive and cannot open it"
                                            : "every local header's name holds a NUL byte before its end: 7-Zip takes "
                                              "none of them for the start of an archive and cannot open it",
                               report::refusing(report::kSevenZip)));
  for (const auto& [feature, u] : uses_) {
    auto f = make_finding(Code::readers_lack_feature, u.first, std::nullopt,
                          fmt::format("{} entr{} ({}'{}') use {}, which {} lack{}{}", u.count, u.count == 1 ? "y" : "ies",
                                      u.count == 1 ? "" : "the first is ", report::printable_name(u.first), feature,
                                      report::reader_names(u.lacking), __builtin_popcount(u.lacking) == 1 ? "s" : "",
                                      u.lacking & report::kJava ? "; Java's ZipFile cannot open the archive at all" : ""));
    f.readers = report::lacking(u.lacking);
    f.severity = report::severity_of(f.code, f.readers);
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
// The name each reader restores when a Unicode Path field (0x7075) is there (rule 57). Fields that
// agree, and that some readers ignore, give the same bytes under two names: a warning naming the
// readers that take the field's name, not the header's (which the report shows). Fields that
// disagree (one header only, another version or text locally) make readers restore names from
// inconsistent data, as the "My ZIP isn't your ZIP" constructions do: damage.
void judge_unicode_path(const Entry& e, std::vector<report::Finding>& out) {
  // Without the entry's own local header there is no local copy to weigh.
  if (!e.lfh || e.lfh->name_differs) return;
  const auto central = unicode_extra(e.cd_extra(), kUnicodePathId, e.name);
  const auto local = unicode_extra(e.lfh_extra(), kUnicodePathId, e.name, true);
  if (!central && !local) return;
  const std::string& by_directory = central ? *central : e.name;
  const std::string& by_local = local ? *local : e.name;
  // Info-ZIP writes the field for non-ASCII names; most often it repeats the name.
  if (by_directory == e.name && by_local == e.name) return;
  const auto shown = [](const std::string& n) { return report::printable_name(n); };
  if (by_directory == by_local) {
    out.push_back(make_finding(Code::name_charset_differs, e.name, e.lfh_offset,
                               fmt::format("a Unicode Path field (0x7075) names the entry '{}': unzip, 7-Zip and "
                                           "libarchive restore it under that name, Python, Go and Java under the "
                                           "header's",
                                           shown(by_directory)),
                               report::warning(readers::kUnicodePathFromDirectory | readers::kUnicodePathFromLocal)));
    return;
  }
  report::Readers refuse = 0;
  if (by_directory != e.name) refuse |= readers::kUnicodePathFromDirectory;
  if (by_local != e.name) refuse |= readers::kUnicodePathFromLocal;
  // unzip compares the local name, as a version-1 local field gives it, with the directory's and
  // warns ("mismatching "local" filename ... continuing with "central" filename version", exit 1).
  const auto local_v1 = unicode_extra(e.lfh_extra(), kUnicodePathId, e.name);
  const report::Readers unzip_warns = by_directory != (local_v1 ? *local_v1 : e.name) ? report::kUnzip : 0;
  out.push_back(make_finding(
      Code::name_invalid, e.name, e.lfh_offset,
      fmt::format("the Unicode Path fields (0x7075) of the directory and the local header disagree: unzip and "
                  "7-Zip restore the entry as '{}', libarchive as '{}', Python, Go and Java as the header's name",
                  shown(by_directory), shown(by_local)),
      {refuse, report::Readers(unzip_warns & ~refuse), 0}));
}

// The standard library's string hash reads words, not bytes; it only sorts candidates, and every
// match is confirmed by comparing the names.
std::uint64_t name_hash(std::string_view s) { return std::hash<std::string_view>{}(s); }
}  // namespace

NameJudge::Facts NameJudge::examine(const Entry& e, std::vector<report::Finding>& out) {
  Facts facts;
  // Java decodes every name and comment as UTF-8 and refuses the archive when one fails; with
  // bit 11 set Python and libarchive refuse it too; unzip drops control bytes from names
  // (docs/readers.md, rules 51-55).
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
    const report::Readers refuse = readers::refusing_name(utf8, control, e.flags & zip::kFlagUtf8, uname.has_value());
    // Readers that make folders of backslashes write the file under another path (rule 55).
    const report::Readers split = readers::splitting_backslashes(e.name, e.version_made_by, uname.has_value());
    if (refuse | split) {
      std::string msg;
      if (refuse)
        msg = fmt::format("the name {}; {} cannot read the archive under it",
                          control ? "holds control bytes" : "is not valid UTF-8", report::reader_names(refuse));
      if (split)
        msg += fmt::format("{}the name holds a backslash, which {} take{} for a folder separator: the file comes "
                           "out under folders there, under the name as it is elsewhere",
                           msg.empty() ? "" : "; ", report::reader_names(split), __builtin_popcount(split) == 1 ? "s" : "");
      out.push_back(make_finding(Code::name_invalid, e.name, e.lfh_offset, msg, {refuse, report::Readers(split & ~refuse), 0}));
    }
    // Most names do not end in '.': the rule is asked only for those.
    if (const report::Readers renaming = uname || e.name.back() != '.' ? 0 : readers::renaming_dot_leaf(e.name))
      out.push_back(make_finding(Code::name_invalid, e.name, e.lfh_offset,
                                 fmt::format("the name's last component is '.': {} write the file under another name "
                                             "or not at all, the others under this one",
                                             report::reader_names(renaming)),
                                 report::refusing(renaming)));
  }
  // Non-ASCII names that some readers decode another way (docs/readers.md, rules 52 and 71): one
  // note for the archive, naming the first such entry.
  facts.code_page = !utf8 && !(e.flags & zip::kFlagUtf8);
  if (e.in_directory) judge_unicode_path(e, out);
  if (!ascii && utf8) {
    facts.utf8_without_flag = !(e.flags & zip::kFlagUtf8);
    facts.decomposed = (e.flags & zip::kFlagUtf8) && readers::has_combining_mark(e.name);
    // unzip shows the directory's copy, converted from an OEM code page by the rule above.
    facts.from_dos = e.in_directory && unzip_converts(e, false, e.flags, !e.cd_extra().empty());
  }
  if (!e.comment().empty() && !valid_utf8(e.comment())) {
    // Without bit 11 Java decodes the comment in the charset it is told, as the names (rule 51).
    const bool flagged = e.flags & zip::kFlagUtf8;
    out.push_back(make_finding(Code::comment_invalid, e.name, e.lfh_offset,
                               flagged ? "the entry's comment is not valid UTF-8 though bit 11 says so; Java's ZipFile "
                                         "refuses the archive"
                                       : "the entry's comment is not UTF-8 (bit 11 clear); Java's ZipFile reads the "
                                         "archive only when told its charset",
                               flagged ? report::refusing(report::kJava) : report::lacking(readers::kNeedCodePageCharset)));
  }
  // Linux file systems hold names of at most NAME_MAX (255) bytes a component: unzip ("File name
  // too long", exit 50), 7-Zip (exit 2) and bsdtar (exit 1) write no such file, and neither can a
  // restore. The archive is whole (Python, Go and Java read the entry; NTFS holds 255 UTF-16 units,
  // so 100 CJK characters are a valid Windows name of 300 bytes): a warning, not damage.
  if (e.name.size() > NAME_MAX)
    for (std::size_t start = 0, end; start < e.name.size(); start = end + 1) {
      end = std::min(e.name.find('/', start), e.name.size());
      if (end - start <= NAME_MAX) continue;
      out.push_back(make_finding(Code::name_too_long, e.name, e.lfh_offset,
                                 fmt::format("a component of the name is {} bytes long; Linux file systems hold {} "
                                             "at most, so no extractor (unzip, 7-Zip, bsdtar) and no restore can "
                                             "write it there",
                                             end - start, NAME_MAX)));
      break;
    }
  // Readers without the Unicode Path field (Python, Go, Java) extract under the raw name.
  auto why = unsafe_name_reason(e.name);
  if (!why && uname) why = unsafe_name_reason(*uname);
  if (why) out.push_back(make_finding(Code::unsafe_path, e.name, e.lfh_offset, *why + ": a restore could write outside its target"));
  if (e.in_directory && meant_symlink(e, attribute_kinds(e)))
    out.push_back(make_finding(Code::symlink_entry, e.name, e.lfh_offset,
                               "the entry is a symbolic link; a restore must not write through it"));
  std::string path = restore_path(e.name);
  facts.hash = name_hash(path);
  const bool named_folder = !e.name.empty() && e.name.back() == '/';
  if (path != std::string_view(e.name).substr(0, e.name.size() - named_folder)) facts.path = std::move(path);
  // A link with entries under it is symlink_entry's and restore's (restore_through_symlink): the
  // link is written last, if at all, and nothing is written through it.
  const readers::AttributeKinds k = e.in_directory ? attribute_kinds(e) : readers::AttributeKinds{};
  facts.file = !e.is_directory() && !k.directory && !(e.in_directory && meant_symlink(e, k));
  facts.skipped_folder = e.is_directory() && k.skipped;
  return facts;
}

void NameJudge::add(const Entry& e, std::uint32_t index, const Facts& facts) {
  if (facts.utf8_without_flag && !cp437_++) first_cp437_.emplace(e.name, e.lfh_offset);
  if (facts.code_page && !code_page_++) first_code_page_.emplace(e.name, e.lfh_offset);
  if (facts.decomposed && !decomposed_++) first_decomposed_.emplace(e.name, e.lfh_offset);
  if (facts.from_dos && !oem_++) first_oem_.emplace(e.name, e.lfh_offset);
  seen_.push_back({facts.hash, index, facts.file});
  if (facts.skipped_folder) skipped_folders_.push_back({facts.hash, index, false});
  // Every proper prefix of the path is a folder the entry needs; once one is known, so are the
  // prefixes before it.
  std::string_view path = facts.path.empty() ? std::string_view(e.name) : std::string_view(facts.path);
  if (facts.path.empty() && !path.empty() && path.back() == '/') path.remove_suffix(1);
  const std::size_t last = path.rfind('/');
  if (last == std::string_view::npos || last == 0 || path.substr(0, last) == last_folder_) return;
  for (std::size_t cut = last; cut != std::string_view::npos && cut > 0; cut = path.rfind('/', cut - 1))
    if (!folders_.emplace(name_hash(path.substr(0, cut)), index).second) break;
  last_folder_.assign(path.substr(0, last));
}

void NameJudge::absorb(std::vector<report::Finding>& found) {
  std::move(found.begin(), found.end(), std::back_inserter(found_));
  found.clear();
}

// Within a run of equal hashes, each path is compared with the earlier ones (a run is almost
// always one name stored twice, or two spellings of one path); the finding names the first entry
// that holds it.
void NameJudge::duplicates(const NameOf& name_of, std::vector<std::pair<std::uint32_t, report::Finding>>& dups) {
  for (std::size_t i = 0; i < seen_.size();) {
    std::size_t j = i + 1;
    while (j < seen_.size() && seen_[j].hash == seen_[i].hash) ++j;
    if (j - i > 1) {
      struct First {
        std::string path, name;
        std::uint32_t index;
        bool file;
      };
      std::vector<First> firsts;
      for (std::size_t k = i; k < j; ++k) {
        Named n = name_of(seen_[k].index);
        std::string path = restore_path(n.name);
        if (path.empty()) continue;  // "./": the target folder itself
        auto it = std::find_if(firsts.begin(), firsts.end(), [&](const First& x) { return x.path == path; });
        if (it == firsts.end()) {
          firsts.push_back({std::move(path), n.name, seen_[k].index, seen_[k].file});
          continue;
        }
        // Two spellings of one folder ("x/" and "./x/"): every extractor makes the folder once,
        // and no bytes depend on which record it takes.
        if (!it->file && !seen_[k].file && it->name != n.name) continue;
        dups.emplace_back(
            seen_[k].index,
            make_finding(Code::duplicate_name, n.name, n.offset,
                         it->name == n.name
                             ? fmt::format("the name is stored twice (entries {} and {})", it->index + 1,
                                           seen_[k].index + 1)
                             : fmt::format("entries {} ('{}') and {} name the same path once a restore writes it "
                                           "('{}': empty and '.' components, a trailing '/' and NFC do not count)",
                                           it->index + 1, report::printable_name(it->name), seen_[k].index + 1,
                                           report::printable_name(path))));
      }
    }
    i = j;
  }
}

// A file whose path another entry needs as a folder ("x" and "x/y"): no restore can write both,
// and extractors write one and fail on the other (or, with a link, write through it).
void NameJudge::folder_conflicts(const NameOf& name_of, std::vector<std::pair<std::uint32_t, report::Finding>>& dups) {
  if (folders_.empty()) return;
  for (const auto& x : seen_) {
    if (!x.file) continue;
    auto it = folders_.find(x.hash);
    if (it == folders_.end()) continue;
    Named file = name_of(x.index), under = name_of(it->second);
    const std::string path = restore_path(file.name), needs = restore_path(under.name);
    if (path.empty() || needs.size() <= path.size() || needs.compare(0, path.size(), path) != 0 || needs[path.size()] != '/')
      continue;
    dups.emplace_back(x.index, make_finding(Code::duplicate_name, file.name, file.offset,
                                            fmt::format("entry {} is a file, but entry {} ('{}') needs its path as a "
                                                        "folder: a restore cannot write both",
                                                        x.index + 1, it->second + 1, report::printable_name(under.name))));
  }
  std::unordered_map<std::uint64_t, std::uint32_t>().swap(folders_);
}

// unzip skips an entry whose MS-DOS attributes say volume label ("skipping: d/  volume label"),
// but makes the folder anyway for an entry under it (rule 72, measured): only an empty folder is
// lost.
void NameJudge::skipped_folders(const NameOf& name_of, std::vector<std::pair<std::uint32_t, report::Finding>>& out) {
  for (const auto& x : skipped_folders_) {
    if (folders_.count(x.hash)) continue;
    Named n = name_of(x.index);
    out.emplace_back(x.index, make_finding(Code::entry_kind_differs, n.name, n.offset,
                                           "its MS-DOS attributes mark it as a volume label, which unzip skips: "
                                           "no entry under it makes unzip create the folder",
                                           report::refusing(report::kUnzip)));
  }
  std::vector<Seen>().swap(skipped_folders_);
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
  std::vector<std::pair<std::uint32_t, report::Finding>> dups;
  duplicates(name_of, dups);
  skipped_folders(name_of, dups);
  folder_conflicts(name_of, dups);
  std::vector<Seen>().swap(seen_);
  std::sort(dups.begin(), dups.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& d : dups) out.push_back(std::move(d.second));
  auto note = [&](std::size_t n, const std::optional<std::pair<std::string, std::uint64_t>>& first, report::Readers r,
                  const char* one, const char* many) {
    if (!n) return;
    out.push_back(make_finding(Code::name_charset_differs, first->first, first->second,
                               fmt::format("{} name{} ({}'{}') {}: {} show{} other names for the same bytes", n,
                                           n == 1 ? "" : "s", n == 1 ? "" : "the first is ",
                                           report::printable_name(first->first), n == 1 ? one : many,
                                           report::reader_names(r), __builtin_popcount(r) == 1 ? "s" : ""),
                               report::warning(r)));
  };
  note(cp437_, first_cp437_, readers::kDecodeWithoutFlagAsCp437, "is UTF-8 without bit 11, which Python decodes as CP437",
       "are UTF-8 without bit 11, which Python decodes as CP437");
  if (code_page_) {
    const auto& [name, at] = *first_code_page_;
    out.push_back(make_finding(
        Code::readers_lack_feature, name, at,
        fmt::format("{} name{} ({}'{}') {} in a code page, not UTF-8 (bit 11 clear): Java's ZipFile reads the archive "
                    "only when told the charset (new ZipFile(file, charset)); the others read the same bytes",
                    code_page_, code_page_ == 1 ? "" : "s", code_page_ == 1 ? "" : "the first is ",
                    report::printable_name(name), code_page_ == 1 ? "is" : "are"),
        report::lacking(readers::kNeedCodePageCharset)));
  }
  note(code_page_, first_code_page_, readers::kShowCodePageNamesOtherwise,
       "is in a code page, not UTF-8 (bit 11 clear), which Python decodes as CP437 and unzip converts or trims",
       "are in a code page, not UTF-8 (bit 11 clear), which Python decodes as CP437 and unzip converts or trims");
  note(decomposed_, first_decomposed_, readers::kComposeDecomposedNames,
       "is decomposed (NFD, as macOS writes names), which libarchive composes (NFC) when it extracts",
       "are decomposed (NFD, as macOS writes names), which libarchive composes (NFC) when it extracts");
  note(oem_, first_oem_, readers::kConvertOemNames, "comes from an MS-DOS or OS/2 host, whose names unzip converts from an OEM code page",
       "come from an MS-DOS or OS/2 host, whose names unzip converts from an OEM code page");
}

void judge_names(const std::vector<Entry>& entries, std::vector<report::Finding>& out) {
  NameJudge j;
  for (std::size_t i = 0; i < entries.size(); ++i) j.add(entries[i], std::uint32_t(i));
  j.finish([&](std::uint32_t i) { return Named{entries[i].name, entries[i].lfh_offset}; }, out);
}


void PasswordJudge::add(const Entry& e, std::size_t index) {
  if (!e.encrypted()) return;
  if (e.crypt == scan::CryptOutcome::wrong_password) {
    ++failed_;
  } else if (e.crypt == scan::CryptOutcome::decrypted || e.crypt == scan::CryptOutcome::auth_failed) {
    if (e.status == EntryStatus::ok)
      ++opened_;
    else if (e.status == EntryStatus::damaged)
      passed_.push_back({index, e.lfh_offset, std::max({e.end_offset, e.data_offset + e.compressed_size, e.lfh_offset})});
  }
}

bool PasswordJudge::wrong() const {
  const std::size_t tried = failed_ + opened_ + passed_.size();
  return failed_ > 0 && (opened_ == 0 || 2 * failed_ > tried);
}

std::vector<std::size_t> PasswordJudge::chance() const {
  std::vector<std::size_t> out;
  out.reserve(passed_.size());
  for (const auto& p : passed_) out.push_back(p.index);
  return out;
}

bool PasswordJudge::settle(std::vector<report::Finding>& findings) {
  if (!wrong()) return false;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> spans;
  for (const auto& p : passed_) spans.emplace_back(p.from, p.to);
  std::sort(spans.begin(), spans.end());
  // An error of an entry that passed the check by chance lies within that entry's bytes.
  auto by_chance = [&](const report::Finding& f) {
    if (f.severity != report::Severity::error || !f.entry || !f.offset) return false;
    auto it = std::upper_bound(spans.begin(), spans.end(), std::pair{*f.offset, ~std::uint64_t(0)});
    return it != spans.begin() && *f.offset <= std::prev(it)->second;
  };
  std::size_t first = findings.size();
  std::vector<report::Finding> kept;
  kept.reserve(findings.size());
  for (auto& f : findings) {
    if (f.code == Code::password_wrong || by_chance(f))
      first = std::min(first, kept.size());
    else
      kept.push_back(std::move(f));
  }
  const std::size_t tried = failed_ + opened_ + passed_.size();
  auto f = make_finding(
      Code::password_wrong, std::nullopt, std::nullopt,
      fmt::format("the password is wrong: it fails the check of {} of {} encrypted {}{}", failed_, tried,
                  tried == 1 ? "entry" : "entries",
                  passed_.empty() ? ""
                                  : fmt::format(", and the {} that passed it by chance (ZipCrypto checks one byte, "
                                                "WinZip AES two) did not decode",
                                                passed_.size())),
      report::kOwnRule);
  kept.insert(kept.begin() + std::ptrdiff_t(first), std::move(f));
  findings = std::move(kept);
  return true;
}

}  // namespace zm::check
