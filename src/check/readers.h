// What each of the six readers of the verdict contract (unzip 6.0, 7-Zip, libarchive, Python's
// zipfile, Go's archive/zip, Java's ZipFile) does with a case: the one home of that knowledge.
// The judge, repair's plan, restore and docs/readers.md consult these rules; the reader sets that
// single findings name (end_judge.cc, the local header's rules 31-36 in judge.cc) are still written
// where those findings are made. Every rule cites its row in docs/readers.md, which cites the reader's source. Nothing
// here decides a verdict: a rule says which readers refuse, warn about or lack something, and the
// judge turns that into findings (docs/design.md, "The verdict contract").
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "report/codes.h"
#include "report/report.h"
#include "zip/records.h"

namespace zm::check::readers {
using report::Readers;

// The three ways a reader can meet what a finding describes (docs/design.md): it refuses it or
// reads other bytes or a name from inconsistent data (damage), it complains, or shows the same
// name bytes in another charset or form, but reads the same bytes (a warning), or it lacks the
// feature (a note).
using report::ReaderGroups;

// ---- Methods and encryption (docs/readers.md, table 2)

// The readers that cannot decode `method` (4.4.5) at all.
Readers lacking_method(std::uint16_t method);
inline bool has_method(report::Reader r, std::uint16_t method) { return !(lacking_method(method) & r); }
// The readers that lack the encryption an entry's flags say (4.4.4 bits 0 and 6); WinZip AES
// (method 99) is a method above.
Readers lacking_encryption(std::uint16_t flags, std::uint16_t method);
// libarchive reads a symbolic link's target only when it is stored or deflated ("Unsupported ZIP
// compression method during decompression of link entry"), though it decodes bzip2, LZMA, zstd,
// xz and PPMd for files (rule 67).
bool libarchive_reads_link(std::uint16_t method);
// Walking the local headers (rule 47), libarchive bounds bzip2, LZMA, zstd and xz input by the
// local compressed size ("Truncated bzip2 file body"); Deflate, stored data and PPMd find their
// own end.
bool libarchive_bounds_by_local_size(std::uint16_t method);

// libarchive 3.6.2's LZMA reader fails on an entry that decodes to nothing ("lzma unknown error
// 10"): Python's zipfile writes an empty file with ZIP_LZMA as 19 bytes of stream with its end
// marker, which 7-Zip and Python read. 7-Zip itself stores empty files.
bool libarchive_fails_lzma(std::uint16_t method, std::uint64_t uncompressed_size, std::uint64_t compressed_size);

// A reader that lacks an entry's method or encryption cannot read the entry anyway: its refusal
// of (or warning about) what a finding on that entry describes is moot (the verdict contract), so
// it moves to the readers that lack the feature and the finding's severity follows.
void moot_where_lacking(report::Finding& f, std::uint16_t flags, std::uint16_t method);

// ---- Version needed to extract (4.4.3; rule 19)

// Python compares the directory's low byte with 63 and refuses the archive; unzip 6.0 skips an
// entry above 4.6 (4.2 for a VMS host) for a method it has (for others it lacks the method anyway).
Readers refusing_version(std::uint16_t version_needed, std::uint16_t method);

// ---- Local header against the directory (rules 31-34)

// The general-purpose bits 7-Zip does not compare between a local header and its directory record
// (FlagsAreSame): 3 and 11 always; 1-2 (the deflate level) for Deflate; 15 for Deflate and methods
// up to 6 (implode).
std::uint16_t flags_sevenzip_ignores(std::uint16_t method);

// ---- Names (rules 51-58, 71)

// One copy of a name (the directory's or the local header's) as unzip sees it.
struct NameCopy {
  std::uint16_t version_made_by = 0;  // the directory's (4.4.2): a local header has none
  std::uint32_t external_attr = 0;    // the directory's (4.4.15)
  bool local = false;
  std::uint16_t flags = 0;            // this copy's
  bool has_extra = false;             // this copy's record has an extra block
};
// unzip converts a name from an OEM code page (Ext_ASCII_TO_Native in unzpriv.h) for FAT and HPFS
// hosts and NTFS 5.0, except a FAT host's 2.5, 2.6 and 4.0 (PKZIP for Windows) in the local header
// or when Unix attributes are present; a copy whose bit 11 is set and whose record has an extra
// field is taken as UTF-8 and left alone (measured on 560 combinations of host, version,
// attributes, bit 11 and extra fields; rule 71).
bool unzip_converts(const NameCopy& copy);

// The readers that cannot read the archive under a name (rules 51-55): with bit 11 set, a name
// that is not UTF-8 is refused by Java, Python and libarchive; unzip drops control bytes from
// names unless a Unicode Path field names the entry.
Readers refusing_name(bool utf8, bool control, bool flag_utf8, bool unicode_path);
// The readers that extract: they make folders and files of entries (Go and Java only read).
inline constexpr Readers kExtractors = report::kUnzip | report::kSevenZip | report::kLibarchive | report::kPython;

// unzip ("invalid zip file with overlapped components (possible zip bomb)") and Python (its
// overlap check, back-ported to Debian's 3.11) refuse entries that share bytes or run into the
// directory; the others read each entry where its record says.
inline constexpr report::ReaderGroups kRefusingOverlaps{report::kUnzip | report::kPython, 0, 0};

// ---- Sizes and CRC (rules 36, 69, 70)

struct Claims {
  std::uint32_t crc32;
  std::uint64_t compressed_size, uncompressed_size;
};
// The readers that refuse an entry, or read other bytes, when the local header (bit 3 clear)
// claims other values than the directory (rule 36): unzip takes the local CRC and compressed
// size but checks no uncompressed size; 7-Zip refuses any difference; libarchive refuses a local
// value that differs unless it is 0 (it takes the directory's then), or an uncompressed size of
// all ones (absent).
Readers taking_local_values(const Claims& local, const Claims& directory);
// The readers that refuse an entry whose data decodes to another length than the directory's
// uncompressed size (rules 69-70): 7-Zip, libarchive and Go; Python only when the data is longer
// (it stops at the size, then the CRC fails). unzip warns for a stored entry ("ucsize <> csize")
// and checks nothing for the others; Java never checks.
// `sevenzip_checks`: sevenzip_checks_size below.
report::ReaderGroups checking_uncompressed_size(std::uint16_t method, bool data_longer, bool sevenzip_checks = true);
// 7-Zip limits the output to the directory's size, and refuses another length, only for a stored
// entry, one without a descriptor (bit 3), one of 4 GiB or more, or one with a ZIP64 extra field
// in either header (ZipHandler.cpp, useUnpackLimit): a compressed bit-3 entry whose directory says
// 0xFFFFFFFF without a ZIP64 field (7-Zip's own Deflate64 to stdout, a mutant) it reads whole.
bool sevenzip_checks_size(std::uint16_t method, bool descriptor, std::uint64_t size, bool zip64_extra);
// No reader that has `method` holds a compressed entry to the directory's uncompressed size when
// its data runs longer: 7-Zip does not check it (sevenzip_checks_size), unzip and Java never do,
// and the readers that do (Python, libarchive, Go) lack the method (Deflate64, shrink, implode). Such an
// entry is read as far as its stream goes, so verify decodes it that far too, not one byte past
// the claim (the fuzzer's Deflate64-to-stdout mutants: 7-Zip and unzip read all 9000 bytes of an
// entry whose directory says 8947, and check their CRC).
bool size_binds_no_reader(std::uint16_t method, bool sevenzip_checks);

// A directory field that is 0xFFFFFFFF whose value the ZIP64 extra field lacks (rule 28): Python
// and libarchive refuse the archive, unzip warns, Java reads on. 7-Zip and Go take a lone
// uncompressed size of 0xFFFFFFFF as the size itself, so they refuse only what the size check
// refuses (Go always, a size_mismatch finding; 7-Zip when `sevenzip_checks`, sevenzip_checks_size);
// a missing compressed size, offset or disk they refuse.
report::ReaderGroups refusing_missing_zip64(bool only_uncompressed, bool sevenzip_checks);

// 7-Zip opens a file that starts with a local header by reading that header, and when no
// directory record points at it (with the same flags, sizes and name: AreItemsEqual), reads the
// local headers front to back instead of the directory, and the directory that follows the last
// of them (ZipIn.cpp, CInArchive::ReadHeaders, "LOCALS-CD-MODE"): an unreferenced local header
// at offset 0 is an extra file for it, and a whole archive there is the one it reads.
inline bool sevenzip_walks_from(std::uint64_t unreferenced_header_offset) { return unreferenced_header_offset == 0; }
// It starts at the first local header whose name holds no NUL byte before its last one
// (IsArc_Zip, ReadLocalItem), searching on past one that does, but not past 8 MiB from the start
// of the file: with no such header there (a lone entry whose local name was edited, seed 77,
// mutants 6506 and 10612) it cannot open the archive; with one it opens it there and reads every
// entry (measured on Info-ZIP's one- and two-entry archives, the second header at 8,388,608 and
// 8,388,609). `local_read`: some local header was read; `first_clean`: where the first without a
// NUL lies.
inline constexpr std::uint64_t kSevenZipSearchLimit = std::uint64_t(1) << 23;
inline bool sevenzip_opens(bool local_read, std::optional<std::uint64_t> first_clean) {
  return !local_read || (first_clean && *first_clean <= kSevenZipSearchLimit);
}

// The readers that write a file whose last name component is "." ("d/.", ".") under another
// name: unzip and 7-Zip make "d/./" a folder and write the data to "d/_"; libarchive cannot
// replace the folder "." with a file. Measured on unzip 6.0, 7-Zip 26.02, bsdtar 3.6.2; Python,
// Go and Java keep the name ("My ZIP isn't your ZIP", USENIX Security 2025).
Readers renaming_dot_leaf(std::string_view name);
// Java decodes names (and comments) without bit 11 in the charset it is given, UTF-8 unless told
// otherwise, and refuses the whole archive when one fails: a name in a code page (CP437, CP866,
// CP932 ...) needs `new ZipFile(file, charset)`, a feature its caller must supply (rule 51).
inline constexpr Readers kNeedCodePageCharset = report::kJava;
// The readers that take a backslash for a folder separator (rule 55): a name with backslashes and
// no '/' is a Windows path to libarchive, and to unzip for an MS-DOS host (host 0), which write it
// under folders; the others keep the backslashes. The same consistent bytes read another way: a
// warning. With any '/' all keep the backslashes.
Readers splitting_backslashes(std::string_view name, std::uint16_t version_made_by, bool unicode_path);
// The reader that decodes a UTF-8 name without bit 11 as CP437 (rule 52).
inline constexpr Readers kDecodeWithoutFlagAsCp437 = report::kPython;
// The readers that show a name in a code page (not UTF-8, bit 11 clear) as another name (rule 52):
// Python decodes it as CP437; unzip converts it from an OEM code page (an MS-DOS host) or, in a
// UTF-8 locale, drops the bytes it cannot show (a Unix host: "rec\xffrds.jsonl" is written as
// "recrds.jsonl", seen by the reader-agreement fuzz).
inline constexpr Readers kShowCodePageNamesOtherwise = report::kPython | report::kUnzip;
// The reader that composes a decomposed (NFD) name with bit 11 set, as macOS writes them, into
// NFC when it extracts: libarchive (measured with Archive Utility's layout; without bit 11 it
// keeps the bytes).
inline constexpr Readers kComposeDecomposedNames = report::kLibarchive;
// A combining diacritical mark (U+0300-U+036F) in UTF-8: what an NFD name has and an NFC one
// mostly does not.
bool has_combining_mark(std::string_view utf8);
// The reader that converts a name from an MS-DOS or OS/2 host from an OEM code page (rule 71).
inline constexpr Readers kConvertOemNames = report::kUnzip;

// Which copy of Info-ZIP's Unicode Path field (0x7075) each reader takes (rule 57), measured with
// one field changed at a time: unzip and 7-Zip the directory's, version 1, with the CRC-32 of the
// header's name; libarchive the local header's, whatever its version byte, with that CRC; Python,
// Go and Java none: they restore the header's name.
inline constexpr Readers kUnicodePathFromDirectory = report::kUnzip | report::kSevenZip;
inline constexpr Readers kUnicodePathFromLocal = report::kLibarchive;

// ---- Attributes (4.4.15; rules 65-67, 71-75)

// What the directory's external attributes make of an entry, reader by reader, measured on unzip
// 6.0, 7-Zip 26.02 and bsdtar 3.6.2 for every host 0-31. The host is the high byte of "version made
// by" (4.4.2), in Info-ZIP's numbering.
struct AttributeKinds {
  Readers directory = 0;  // make a directory of an entry whose name has no trailing '/'
  Readers symlink = 0;    // make a symbolic link whose target is the data
  Readers special = 0;    // libarchive: a device node, or a file of other bytes
  Readers skipped = 0;    // unzip: a volume label, never extracted on Unix
  Readers reparse = 0;    // 7-Zip: the data taken as a Windows reparse point
  bool dos_directory_only = false;  // `directory` comes from the MS-DOS bit 0x10, not a Unix mode
};
AttributeKinds attribute_kinds(std::uint16_t version_made_by, std::uint32_t external_attr,
                               std::uint64_t uncompressed_size);
// The readers that make a symbolic link of an entry (unzip, 7-Zip and libarchive, a Unix host).
inline constexpr Readers kExtractLinks = report::kUnzip | report::kSevenZip | report::kLibarchive;
// A link all three extractors make is what its writer meant (zip -y, bsdtar, 7z -snl), unless its
// data cannot be a link target (empty, or longer than Linux's PATH_MAX - 1).
bool meant_symlink(const AttributeKinds& k, std::uint64_t uncompressed_size);
// Whether attribute_kinds can say anything but "a plain file or folder" for these attributes: an
// MS-DOS volume-label, directory or reparse-point bit, or a Unix type other than the name's. A
// cheap filter for a million records, most of which have none.
bool attributes_may_mislead(std::uint32_t external_attr, bool named_directory);

// The type and mode libarchive gives an entry (archive_read_support_format_zip.c; rule 80): the
// directory's external attributes by its host (Unix: the high half; MS-DOS: 040775 or 0100664,
// & 0555 when read-only; others nothing), then an "xl" field (0x6c78) of the directory record,
// then (its seekable reader and its walk alike) one of the local header, whose host is the xl
// field's "version made by" or else the high byte of the local header's "version needed"
// (zip_read_local_file_header: system = p[5]); a FIFO then becomes a file, no mode 0664, a
// trailing '/' a folder, no type a file. Its walk (rule 47) starts from no mode at all.
struct LibarchiveModeFacts {
  std::uint16_t version_made_by = 0;
  std::uint32_t external_attr = 0;
  zip::XlField cd_xl;
  std::uint16_t local_version_needed = 0;
  zip::XlField local_xl;
  bool walks = false, named_directory = false;
};
std::uint32_t libarchive_mode(const LibarchiveModeFacts& f);
// What unzip and 7-Zip make of the same directory attributes, in libarchive's terms: the mode it
// gives when no xl field is there.
inline std::uint32_t directory_mode(LibarchiveModeFacts f) {
  f.cd_xl = f.local_xl = {};
  f.walks = false;
  return libarchive_mode(f);
}
// The mode bits that decide what a restore writes: the type, setuid, setgid, sticky and the
// world-writable bit (rwx bits otherwise differ from reader to reader anyway: Python, Go and Java
// set none, unzip applies the umask).
inline constexpr std::uint32_t kModeThatMatters = 0170000 | 07000 | 0002;

// ---- Where the archive starts and ends (rules 41-47)

// libarchive's streaming reader, its fallback when it does not take the end records (rule 47),
// bids only for a file that starts with one of its signatures (archive_read_format_zip_streamable_bid).
bool libarchive_streams_from(std::span<const std::uint8_t> first_four);
// 7-Zip opens an archive behind a prefix its offsets do not count when the prefix is an ELF or PE
// program whose headers it parses (rules 43-44). `head` is the prefix's first bytes, `len` its length.
bool sevenzip_parses_stub(std::span<const std::uint8_t> head, std::uint64_t len);
// ... or when the file's name does not end in an extension its zip handler claims (`7z i`: zip,
// z01, zipx, jar, xpi, odt, ods, docx, xlsx, epub, ipa, apk, appx): it then tries every handler and
// finds the archive at its offset (the JDK's .jmod files: "Offset = 4"). Under a claimed name it
// insists on the zip handler's own reading and refuses. A pipe has no name; a download saved from
// it is most likely a .zip, so `path` "-" or empty counts as claimed.
bool sevenzip_claims_by_name(std::string_view path);

// libarchive's seekable bid (archive_read_format_zip_seekable_bid, rule 47): whether it takes the
// end records, or else reads the local headers front to back as its streaming reader does.
struct EndRecordFacts {
  std::uint64_t file_size = 0, eocd_offset = 0;
  zip::EndOfCentralDirectory eocd;
  const zip::Zip64Locator* locator = nullptr;  // when present
  const zip::Zip64End* zip64_at_locator = nullptr;  // the ZIP64 end record exactly where the locator says
};
bool libarchive_takes_end_records(const EndRecordFacts& f);

}  // namespace zm::check::readers
