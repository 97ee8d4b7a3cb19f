// The judge, table by table: a catalogue entry goes in (what each witness claimed: the directory
// record, the local header, the descriptor, decoding), findings come out. Each row edits one or
// two fields of an entry that a verify of a sound file would have made, and states the exact
// findings (code and severity), the readers a finding names where the row cares, and the status.
// The rules are docs/readers.md's; where the code does something else the row says so.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "check/judge.h"
#include "report/report.h"
#include "scan/catalog.h"
#include "zip/records.h"

using namespace zm;
using report::Code;
using report::EntryStatus;
using report::ReaderGroups;
using report::Severity;
using Status = codec::DecodeResult::Status;

namespace {

constexpr report::Readers U = report::kUnzip, Z = report::kSevenZip, A = report::kLibarchive, P = report::kPython,
                          G = report::kGo, J = report::kJava;

ReaderGroups refuse(report::Readers r) { return {r, 0, 0}; }
ReaderGroups warn(report::Readers r) { return {0, r, 0}; }
ReaderGroups lack(report::Readers r) { return {0, 0, r}; }

// One finding a row expects; `readers` only where the row cares which readers it names.
struct Expected {
  Code code;
  Severity severity;
  std::optional<ReaderGroups> readers = std::nullopt;
};

std::string groups_text(const ReaderGroups& g) {
  return "refuse={" + report::reader_names(g.refuse) + "} warn={" + report::reader_names(g.warn) + "} lack={" +
         report::reader_names(g.lack) + "}";
}

// The findings as a sorted list of "code/severity", so that a failure prints both sides.
std::string multiset_text(std::vector<std::string> items) {
  std::sort(items.begin(), items.end());
  std::string s;
  for (const auto& i : items) s += (s.empty() ? "" : ", ") + i;
  return "[" + s + "]";
}
std::string key(Code c, Severity s) { return std::string(report::to_string(c)) + "/" + report::to_string(s); }

void check_findings(const std::vector<report::Finding>& got, const std::vector<Expected>& want) {
  std::vector<std::string> g, w;
  for (const auto& f : got) g.push_back(key(f.code, f.severity));
  for (const auto& x : want) w.push_back(key(x.code, x.severity));
  CHECK(multiset_text(g) == multiset_text(w));
  for (const auto& x : want) {
    if (!x.readers) continue;
    auto it = std::find_if(got.begin(), got.end(), [&](const report::Finding& f) { return f.code == x.code; });
    if (it == got.end()) continue;  // the multiset check above has failed already
    const std::string code = std::string(report::to_string(x.code));
    CAPTURE(code);
    CHECK(groups_text(it->readers) == groups_text(*x.readers));
  }
}

constexpr std::uint64_t kSourceSize = 1 << 20;
constexpr std::uint32_t kCrc = 0xCBF43926;  // any CRC; decoding "found" the same one
constexpr std::uint32_t kUnixFile = 0100644u << 16;
constexpr std::uint16_t kUnix30 = 0x031E, kFat20 = 0x0014, kNtfs20 = 0x0B14;
const std::string kAsciiName = "a.txt";
const std::string kUtf8Name = "caf\xc3\xa9.txt";  // "café.txt"
// An extended timestamp field (0x5455): any well-formed extra block.
const std::string kTimestamp("\x55\x54\x05\x00\x03\x80\x3b\xb1\x6a", 9);

// A deflated entry as verify of a sound file leaves it: in the directory, its local header read
// and its own (same name, method, flags, CRC and sizes), decoded whole to the directory's CRC and
// sizes, no descriptor.
scan::Entry sound_entry(const std::string& name = kAsciiName) {
  scan::Entry e;
  e.name = name;
  e.version_made_by = kUnix30;
  e.version_needed = 20;
  e.method = zip::kDeflate;
  e.crc32 = kCrc;
  e.compressed_size = 60;
  e.uncompressed_size = 100;
  e.lfh_offset = 0;
  e.external_attr = kUnixFile;
  e.in_directory = true;
  scan::LocalClaim l;
  l.version_needed = 20;
  l.method = zip::kDeflate;
  l.crc32 = kCrc;
  l.compressed_size = 60;
  l.uncompressed_size = 100;
  e.lfh = l;
  e.data_offset = e.lfh_offset + 30 + name.size();
  codec::DecodeResult d;
  d.status = Status::ok;
  d.consumed = 60;
  d.produced = 100;
  d.crc = kCrc;
  e.decoded = d;
  e.end_offset = e.data_offset + e.compressed_size;
  return e;
}

// Renames the entry in both copies (the local header's name is the same bytes).
void rename(scan::Entry& e, const std::string& name) {
  e.name = name;
  e.data_offset = e.lfh_offset + 30 + name.size();
  e.end_offset = e.data_offset + e.compressed_size;
}

// Stored data of `n` bytes, every witness agreeing.
void stored(scan::Entry& e, std::uint64_t n) {
  e.method = e.lfh->method = zip::kStored;
  e.compressed_size = e.uncompressed_size = e.lfh->compressed_size = e.lfh->uncompressed_size = n;
  e.decoded->consumed = e.decoded->produced = n;
  e.end_offset = e.data_offset + n;
}

void set_flags(scan::Entry& e, std::uint16_t flags) { e.flags = e.lfh->flags = flags; }

// libarchive's xl field (0x6c78) with "version made by" (Unix) and external attributes.
std::string xl_field(std::uint32_t external) {
  std::string f("\x78\x6c\x07\x00\x05\x1e\x03", 7);
  for (int i = 0; i < 4; ++i) f += char(external >> (8 * i));
  return f;
}
void with_cd_extra(scan::Entry& e, const std::string& extra) {
  e.extras = std::make_shared<const scan::Entry::Extras>(scan::Entry::Extras{extra, {}, {}});
}
constexpr ReaderGroups kOwn{};

// Bit 3 as writers set it (4.4.4): CRC and sizes zero in the local header, a descriptor after
// the data with the real ones (16 bytes: signature, CRC, 4-byte sizes).
void with_descriptor(scan::Entry& e, unsigned length = 16) {
  set_flags(e, e.flags | zip::kFlagDescriptor);
  e.lfh->crc32 = 0;
  e.lfh->compressed_size = e.lfh->uncompressed_size = 0;
  scan::DataDescriptor g;
  g.offset = e.data_offset + e.compressed_size;
  g.crc32 = e.crc32;
  g.compressed_size = e.compressed_size;
  g.uncompressed_size = e.uncompressed_size;
  g.length = length;
  e.descriptor = g;
  e.end_offset = g.offset + length;
}

void cd_extra(scan::Entry& e, const std::string& cd, const std::string& local = {}) {
  e.extras = std::make_shared<const scan::Entry::Extras>(scan::Entry::Extras{cd, {}, local});
  e.data_offset = e.lfh_offset + 30 + e.name.size() + local.size();
  e.end_offset = e.data_offset + e.compressed_size;
}

struct Row {
  const char* name;
  std::function<void(scan::Entry&)> edit;
  bool libarchive_walks;
  std::vector<Expected> want;
  EntryStatus status;
};

void run_entry_rows(const std::vector<Row>& rows) {
  std::set<std::string> names;
  for (const auto& row : rows) REQUIRE(names.insert(row.name).second);
  for (const auto& row : rows) {
    SUBCASE(row.name) {
      const std::string row_name = row.name;
      CAPTURE(row_name);
      scan::Entry e = sound_entry();
      row.edit(e);
      std::vector<report::Finding> out;
      check::judge_entry(e, kSourceSize, out, row.libarchive_walks);
      check_findings(out, row.want);
      CHECK(std::string(report::to_string(e.status)) == std::string(report::to_string(row.status)));
    }
  }
}

}  // namespace

TEST_CASE("judge: an entry's data against the witnesses that claim its CRC and sizes") {
  run_entry_rows({
      {"judge: a sound entry has no findings and is ok", [](scan::Entry&) {}, false, {}, EntryStatus::ok},
      {"judge: data whose CRC differs from the directory's is a crc_mismatch",
       [](scan::Entry& e) { e.decoded->crc = 0x12345678; }, false, {{Code::crc_mismatch, Severity::error}},
       EntryStatus::damaged},
      // Rule 69: 7-Zip, libarchive and Go check the length; Python only when the data is longer
      // (it stops at the size and the CRC fails); unzip and Java never.
      {"judge: data that decodes shorter than the directory's size is a size_mismatch for 7-Zip, libarchive and Go",
       [](scan::Entry& e) { e.decoded->produced = 99; }, false,
       {{Code::size_mismatch, Severity::error, refuse(Z | A | G)}}, EntryStatus::damaged},
      {"judge: data that decodes longer than the directory's size is a size_mismatch for Python too",
       [](scan::Entry& e) { e.decoded->produced = 101; }, false,
       {{Code::size_mismatch, Severity::error, refuse(Z | A | G | P)}}, EntryStatus::damaged},
      // Rule 70: unzip warns "ucsize N <> csize M" on a stored entry.
      {"judge: a stored entry whose data is shorter than the directory's size is a size_mismatch unzip warns about",
       [](scan::Entry& e) {
         e.method = e.lfh->method = zip::kStored;
         e.compressed_size = e.lfh->compressed_size = e.decoded->consumed = 99;
         e.lfh->uncompressed_size = e.decoded->produced = 99;
       },
       false,
       {{Code::size_mismatch, Severity::error, ReaderGroups{Z | A | G, U, 0}},
        {Code::cd_lfh_mismatch, Severity::error, refuse(Z | A)}},
       EntryStatus::damaged},
      // 4.4.8: the compressed size bounds the stream; bytes left after its end are not the entry's.
      {"judge: a stream that ends before the directory's compressed size is a size_mismatch",
       [](scan::Entry& e) { e.decoded->consumed = 58; }, false, {{Code::size_mismatch, Severity::error}},
       EntryStatus::damaged},
      // A stream that would produce more than the directory's size is stopped (zip bombs).
      {"judge: data that decodes past the directory's size is a size_mismatch",
       [](scan::Entry& e) {
         e.decoded->status = Status::overrun;
         e.decoded->produced = 101;
       },
       false, {{Code::size_mismatch, Severity::error}}, EntryStatus::damaged},
      {"judge: a stream the decoder rejects is a decode_error",
       [](scan::Entry& e) {
         e.decoded->status = Status::corrupt;
         e.decoded->consumed = 12;
         e.decoded->error = "invalid block type";
       },
       false, {{Code::decode_error, Severity::error}}, EntryStatus::damaged},
      {"judge: a stream the file ends inside is entry_truncated with status truncated",
       [](scan::Entry& e) { e.decoded->status = Status::truncated; }, false, {{Code::entry_truncated, Severity::error}},
       EntryStatus::truncated},
      {"judge: data that runs past the end of the file is entry_truncated",
       [](scan::Entry& e) { e.compressed_size = e.lfh->compressed_size = kSourceSize; }, false,
       {{Code::entry_truncated, Severity::error}}, EntryStatus::truncated},
      // A local header cut by the end of the file: nothing behind it to judge.
      {"judge: a local header past the end of the file is entry_truncated",
       [](scan::Entry& e) {
         e.lfh.reset();
         e.lfh_problem = scan::LocalProblem::past_end;
       },
       false, {{Code::entry_truncated, Severity::error}}, EntryStatus::truncated},
      {"judge: no local header where the directory points is local_header_unreadable",
       [](scan::Entry& e) {
         e.lfh.reset();
         e.lfh_problem = scan::LocalProblem::absent;
       },
       false, {{Code::local_header_unreadable, Severity::error}}, EntryStatus::damaged},
      // A walk found this entry (no directory): only the descriptor claims the CRC of a bit-3
      // entry, so a CRC that differs from it is the data's fault, not the descriptor's.
      {"judge: a walked bit-3 entry whose data differs from its descriptor's CRC is a crc_mismatch",
       [](scan::Entry& e) {
         with_descriptor(e);
         e.in_directory = false;
         e.descriptor->crc32 = 0x12345678;
       },
       false, {{Code::crc_mismatch, Severity::error}}, EntryStatus::damaged},
      // An empty entry has no CRC that vouches for its name or sizes.
      {"judge: a walked empty entry with no record after it is entry_unconfirmed",
       [](scan::Entry& e) {
         stored(e, 0);
         e.crc32 = e.lfh->crc32 = e.decoded->crc = 0;
         e.in_directory = false;
         e.next_record_follows = false;
       },
       false, {{Code::entry_unconfirmed, Severity::error}}, EntryStatus::damaged},
  });
}

TEST_CASE("judge: the local header against the directory record") {
  run_entry_rows({
      // Rule 31: Python refuses, libarchive extracts under the local name, unzip warns and takes
      // the directory's; 7-Zip refuses only for hosts 0 and 11 (this is a Unix host).
      {"judge: a local header whose name differs is a cd_lfh_mismatch error and the entry damaged",
       [](scan::Entry& e) { e.lfh->name_differs = true; }, false,
       {{Code::cd_lfh_mismatch, Severity::error, ReaderGroups{A | P, U, 0}}}, EntryStatus::damaged},
      {"judge: a local name that differs on an NTFS host is refused by 7-Zip too",
       [](scan::Entry& e) {
         e.lfh->name_differs = true;
         e.version_made_by = 0x0B3F;
         e.external_attr = 0x20;
       },
       false, {{Code::cd_lfh_mismatch, Severity::error, ReaderGroups{Z | A | P, U, 0}}}, EntryStatus::damaged},
      // Rule 33: unzip and libarchive decode with the local method, the others with the directory's.
      {"judge: a local header whose method differs is a cd_lfh_mismatch error and not the entry's own",
       [](scan::Entry& e) { e.lfh->method = zip::kStored; }, false,
       {{Code::cd_lfh_mismatch, Severity::error, refuse(U | Z | A | P | G | J)}}, EntryStatus::damaged},
      // Rule 35: 7-Zip ("Headers Error") and Go (a descriptor read where there is none).
      {"judge: bit 3 set locally and not in the directory is a cd_lfh_mismatch error",
       [](scan::Entry& e) { e.lfh->flags |= zip::kFlagDescriptor; }, false,
       {{Code::cd_lfh_mismatch, Severity::error, refuse(Z | G)}}, EntryStatus::damaged},
      // Rule 36: without bit 3, unzip and libarchive take the CRC from the local header. The
      // header is still the entry's own (same name, method and bit 3), so its data is judged.
      {"judge: a local CRC that differs without bit 3 is a cd_lfh_mismatch error, the data still judged",
       [](scan::Entry& e) { e.lfh->crc32 = 0x12345678; }, false, {{Code::cd_lfh_mismatch, Severity::error}},
       EntryStatus::damaged},
      // libarchive takes the directory's value for a local 0.
      {"judge: a local compressed size of 0 without bit 3 is a cd_lfh_mismatch for unzip and 7-Zip",
       [](scan::Entry& e) { e.lfh->compressed_size = 0; }, false,
       {{Code::cd_lfh_mismatch, Severity::error, refuse(U | Z)}}, EntryStatus::damaged},
      // unzip checks no uncompressed size; libarchive takes a local all-ones one as absent.
      {"judge: a local uncompressed size that differs without bit 3 is a cd_lfh_mismatch for 7-Zip and libarchive",
       [](scan::Entry& e) { e.lfh->uncompressed_size = 101; }, false,
       {{Code::cd_lfh_mismatch, Severity::error, refuse(Z | A)}}, EntryStatus::damaged},
      {"judge: a local uncompressed size of all ones without bit 3 is a cd_lfh_mismatch for 7-Zip",
       [](scan::Entry& e) { e.lfh->uncompressed_size = 0xFFFFFFFF; }, false,
       {{Code::cd_lfh_mismatch, Severity::error, refuse(Z)}}, EntryStatus::damaged},
      // 7-Zip's FlagsAreSame masks bits 1-2 (the deflate level) for Deflate (rule 34).
      {"judge: deflate level bits that differ on a deflated entry are no finding",
       [](scan::Entry& e) { e.lfh->flags |= 0x2; }, false, {}, EntryStatus::ok},
      {"judge: bit 1 that differs on a stored entry is a cd_lfh_mismatch error for 7-Zip",
       [](scan::Entry& e) {
         stored(e, 100);
         e.lfh->flags |= 0x2;
       },
       false, {{Code::cd_lfh_mismatch, Severity::error}}, EntryStatus::damaged},
      // Rule 32: unzip warns "mismatch between local and central GPF bit 11" even for ASCII names,
      // and reads the same bytes under the same name.
      {"judge: bit 11 differing on an ASCII name is a warning for unzip",
       [](scan::Entry& e) { e.lfh->flags |= zip::kFlagUtf8; }, false,
       {{Code::cd_lfh_mismatch, Severity::warning, warn(U)}}, EntryStatus::ok},
      // Rule 32: Python and libarchive decode each copy of a non-ASCII name with its own bit 11
      // and the two differ; unzip warns; 7-Zip refuses a non-ASCII name whose local header alone
      // has the bit (seed 77, mutant 2392), and reads on when only the directory has it.
      {"judge: bit 11 set only locally on a non-ASCII UTF-8 name is an error for Python and 7-Zip, a warning for unzip",
       [](scan::Entry& e) {
         rename(e, kUtf8Name);
         e.lfh->flags |= zip::kFlagUtf8;
       },
       false, {{Code::cd_lfh_mismatch, Severity::error, ReaderGroups{A | P | Z, U, 0}}}, EntryStatus::damaged},
      {"judge: bit 11 set only in the directory on a non-ASCII UTF-8 name is an error for Python",
       [](scan::Entry& e) {
         rename(e, kUtf8Name);
         e.flags |= zip::kFlagUtf8;
       },
       false, {{Code::cd_lfh_mismatch, Severity::error, ReaderGroups{A | P, U, 0}}}, EntryStatus::damaged},
      // Rule 71: unzip converts a FAT host's name from an OEM code page unless that copy has bit 11
      // and its record an extra field. Here the directory's copy has both and is left alone, the
      // local copy (no extra) is converted: unzip warns "mismatching local filename" and goes on
      // with the directory's name. docs/readers.md rule 71 gives this cd_lfh_mismatch severity
      // "error"; the code makes it a warning naming unzip (warn={unzip}).
      {"judge: a FAT name unzip converts in the local copy only is a warning for unzip",
       [](scan::Entry& e) {
         rename(e, kUtf8Name);
         e.version_made_by = kFat20;
         e.external_attr = 0x20;
         set_flags(e, zip::kFlagUtf8);
         cd_extra(e, kTimestamp);
       },
       false, {{Code::cd_lfh_mismatch, Severity::warning, warn(U)}}, EntryStatus::ok},
      // The other way round: the local copy has the extra field (left alone), the directory's not.
      // docs/readers.md rule 71 says error; the code gives a warning (warn={unzip}).
      {"judge: a FAT name unzip converts in the directory copy only is a warning for unzip",
       [](scan::Entry& e) {
         rename(e, kUtf8Name);
         e.version_made_by = kFat20;
         e.external_attr = 0x20;
         set_flags(e, zip::kFlagUtf8);
         cd_extra(e, {}, kTimestamp);
       },
       false, {{Code::cd_lfh_mismatch, Severity::warning, warn(U)}}, EntryStatus::ok},
      // Both copies have bit 11 and an extra field: unzip takes both as UTF-8, alike.
      {"judge: a FAT name both of whose copies unzip takes as UTF-8 is no finding",
       [](scan::Entry& e) {
         rename(e, kUtf8Name);
         e.version_made_by = kFat20;
         e.external_attr = 0x20;
         set_flags(e, zip::kFlagUtf8);
         cd_extra(e, kTimestamp, kTimestamp);
       },
       false, {}, EntryStatus::ok},
      // Rule 25: libarchive parses the local extra block strictly ("Extra data overflow").
      {"judge: a malformed local extra block is extra_field_malformed for libarchive",
       [](scan::Entry& e) { e.lfh->extra_malformed = true; }, false,
       {{Code::extra_field_malformed, Severity::error, refuse(A)}}, EntryStatus::damaged},
      {"judge: local sizes of 0xFFFFFFFF without a ZIP64 extra field are zip64_inconsistent",
       [](scan::Entry& e) { e.lfh->ff_without_zip64 = true; }, false, {{Code::zip64_inconsistent, Severity::error}},
       EntryStatus::damaged},
  });
}

TEST_CASE("judge: the directory record's own fields") {
  run_entry_rows({
      // Rule 20: Python refuses the archive above 6.3; rule 19: unzip skips the entry above 4.6
      // for a method it has (Deflate).
      {"judge: version needed 6.4 is version_unsupported for Python and unzip",
       [](scan::Entry& e) { e.version_needed = 64; }, false,
       {{Code::version_unsupported, Severity::error, refuse(U | P)}}, EntryStatus::damaged},
      {"judge: version needed 5.1 on a deflated entry is version_unsupported for unzip",
       [](scan::Entry& e) { e.version_needed = 51; }, false,
       {{Code::version_unsupported, Severity::error, refuse(U)}}, EntryStatus::damaged},
      // unzip's limit is 4.2 for a VMS host (high byte 2).
      {"judge: version needed 4.5 from a VMS host is version_unsupported for unzip",
       [](scan::Entry& e) { e.version_needed = 0x022D; }, false,
       {{Code::version_unsupported, Severity::error, refuse(U)}}, EntryStatus::damaged},
      // unzip lacks LZMA, so its version limit is moot there (the feature note says so); 6.3 is
      // Python's own limit, which it accepts.
      {"judge: version needed 6.3 on an LZMA entry is no finding",
       [](scan::Entry& e) {
         e.version_needed = 63;
         e.method = e.lfh->method = zip::kLzma;
       },
       false, {}, EntryStatus::ok},
      // Rule 22: 7-Zip reports that entry's data unavailable.
      {"judge: a disk number start other than 0 is disk_number_nonzero for 7-Zip",
       [](scan::Entry& e) { e.disk_start = 1; }, false, {{Code::disk_number_nonzero, Severity::error, refuse(Z)}},
       EntryStatus::damaged},
      // docs/readers.md rule 23 says extra_field_malformed (A P J); the code names refuse={libarchive,
      // Python} and leaves Java out.
      {"judge: a directory extra field that runs past its block is extra_field_malformed for Python and libarchive",
       [](scan::Entry& e) { e.cd_extra_malformed = true; }, false,
       {{Code::extra_field_malformed, Severity::error, refuse(A | P)}}, EntryStatus::damaged},
      // Rule 27: Java 17.0.8+ refuses a ZIP64 field of a size it does not know.
      {"judge: a well-formed directory extra field Java refuses is extra_field_malformed for Java",
       [](scan::Entry& e) { e.cd_extra_refused_by = J; }, false,
       {{Code::extra_field_malformed, Severity::error, refuse(J)}}, EntryStatus::damaged},
  });
}

TEST_CASE("judge: what the attributes make of an entry") {
  run_entry_rows({
      // Rule 67: a Unix host's link of 1 to 4,095 bytes is one all three extractors make, as
      // zip -y, bsdtar and 7z -snl write it (symlink_entry is the name judge's).
      {"judge: a Unix symlink mode with a short stored target is a link meant, no finding",
       [](scan::Entry& e) {
         stored(e, 10);
         e.external_attr = 0120777u << 16;
       },
       false, {}, EntryStatus::ok},
      // A target of 4,096 bytes or more: no extractor writes that link.
      {"judge: a Unix symlink mode on 5,000 bytes is entry_kind_differs for the three extractors",
       [](scan::Entry& e) {
         stored(e, 5000);
         e.external_attr = 0120777u << 16;
       },
       false, {{Code::entry_kind_differs, Severity::error, refuse(U | Z | A)}}, EntryStatus::damaged},
      // 7-Zip makes links for hosts 0, 3 and 11, unzip and libarchive not for MS-DOS.
      {"judge: a symlink mode on an MS-DOS host is entry_kind_differs for 7-Zip",
       [](scan::Entry& e) {
         stored(e, 10);
         e.version_made_by = kFat20;
         e.external_attr = (0120777u << 16) | 0x20;
       },
       false, {{Code::entry_kind_differs, Severity::error, refuse(Z)}}, EntryStatus::damaged},
      // libarchive reads a link's target only stored or deflated.
      {"judge: a Unix link compressed with bzip2 is entry_kind_differs for libarchive",
       [](scan::Entry& e) {
         stored(e, 10);
         e.method = e.lfh->method = zip::kBzip2;
         e.compressed_size = e.lfh->compressed_size = e.decoded->consumed = 40;
         e.external_attr = 0120777u << 16;
       },
       false, {{Code::entry_kind_differs, Severity::error, refuse(A)}}, EntryStatus::damaged},
      // Rule 47: walking the local headers, libarchive has no attributes and writes a file.
      {"judge: a meant link is entry_kind_differs for libarchive when it walks the local headers",
       [](scan::Entry& e) {
         stored(e, 10);
         e.external_attr = 0120777u << 16;
       },
       true, {{Code::entry_kind_differs, Severity::error, refuse(A)}}, EntryStatus::damaged},
      // libarchive's own "xl" field carries the attributes into the local header.
      {"judge: a meant link with libarchive's xl field is no finding when libarchive walks",
       [](scan::Entry& e) {
         stored(e, 10);
         e.external_attr = 0120777u << 16;
         e.lfh->xl = {true, true, 0x031e, 0120777u << 16};
       },
       true, {}, EntryStatus::ok},
      // Rule 65: 7-Zip and libarchive read the FAT directory bit and drop the data.
      {"judge: an MS-DOS directory bit on a file with data is directory_with_data for 7-Zip and libarchive",
       [](scan::Entry& e) {
         e.version_made_by = kFat20;
         e.external_attr = 0x10;
       },
       false, {{Code::directory_with_data, Severity::error, refuse(Z | A)}}, EntryStatus::damaged},
      // Rule 65: an empty one becomes a directory for 7-Zip and libarchive, an empty file for the
      // others; no byte differs, and Windows tools mark folders this way: a warning.
      {"judge: an MS-DOS directory bit on an empty file is an entry_kind_differs warning for 7-Zip and libarchive",
       [](scan::Entry& e) {
         e.version_made_by = kFat20;
         e.external_attr = 0x10;
         e.compressed_size = e.lfh->compressed_size = e.decoded->consumed = 2;
         e.uncompressed_size = e.lfh->uncompressed_size = e.decoded->produced = 0;
         e.crc32 = e.lfh->crc32 = e.decoded->crc = 0;
       },
       false, {{Code::entry_kind_differs, Severity::warning, warn(Z | A)}}, EntryStatus::ok},
      // A Unix directory mode on an empty file without a trailing '/' stays damage.
      {"judge: a Unix directory mode on an empty file is entry_kind_differs for 7-Zip and libarchive",
       [](scan::Entry& e) {
         e.version_made_by = 3 << 8 | 20;
         e.external_attr = 040755u << 16;
         e.compressed_size = e.lfh->compressed_size = e.decoded->consumed = 2;
         e.uncompressed_size = e.lfh->uncompressed_size = e.decoded->produced = 0;
         e.crc32 = e.lfh->crc32 = e.decoded->crc = 0;
       },
       false, {{Code::entry_kind_differs, Severity::error, refuse(Z | A)}}, EntryStatus::damaged},
      // docs/readers.md rule 66 says directory_with_data (ALL); the code names the table's readers,
      // refuse={unzip, 7-Zip, libarchive, Python} (Go and Java extract nothing).
      {"judge: a name ending in '/' with data is directory_with_data",
       [](scan::Entry& e) { rename(e, "d/"); }, false,
       {{Code::directory_with_data, Severity::error, refuse(U | Z | A | P)}}, EntryStatus::damaged},
      // Rule 73: libarchive writes a device node.
      {"judge: a Unix character device mode is entry_kind_differs for libarchive",
       [](scan::Entry& e) { e.external_attr = 0020644u << 16; }, false,
       {{Code::entry_kind_differs, Severity::error, refuse(A)}, {Code::mode_dropped, Severity::warning, kOwn}},
       EntryStatus::damaged},
      // Rule 80: libarchive takes the type and mode from its xl field (0x6c78), local or central,
      // reading the directory as much as walking; unzip and 7-Zip read the directory's attributes.
      {"judge: a local xl field that says symbolic link over a plain file is entry_kind_differs for libarchive",
       [](scan::Entry& e) {
         stored(e, 11);
         e.lfh->xl = {true, true, kUnix30, 0120777u << 16};
       },
       false, {{Code::entry_kind_differs, Severity::error, refuse(A)}}, EntryStatus::damaged},
      {"judge: a local xl field that says setuid is entry_kind_differs for libarchive and mode_dropped",
       [](scan::Entry& e) { e.lfh->xl = {true, true, kUnix30, 0104755u << 16}; }, false,
       {{Code::entry_kind_differs, Severity::error, refuse(A)}, {Code::mode_dropped, Severity::warning, kOwn}},
       EntryStatus::damaged},
      {"judge: a local xl field that says character device is entry_kind_differs and mode_dropped",
       [](scan::Entry& e) { e.lfh->xl = {true, true, kUnix30, 0020644u << 16}; }, false,
       {{Code::entry_kind_differs, Severity::error, refuse(A)}, {Code::mode_dropped, Severity::warning, kOwn}},
       EntryStatus::damaged},
      {"judge: a directory record's xl field that says setuid is entry_kind_differs for libarchive",
       [](scan::Entry& e) { with_cd_extra(e, xl_field(0104755u << 16)); }, false,
       {{Code::entry_kind_differs, Severity::error, refuse(A)}, {Code::mode_dropped, Severity::warning, kOwn}},
       EntryStatus::damaged},
      // bsdtar writes the field with the directory's own values: nothing differs.
      {"judge: an xl field that repeats the directory's attributes is no finding",
       [](scan::Entry& e) {
         e.lfh->xl = {true, true, kUnix30, kUnixFile};
         with_cd_extra(e, xl_field(kUnixFile));
       },
       false, {}, EntryStatus::ok},
      // Without "version made by" the host is the high byte of the local "version needed" (here
      // MS-DOS): libarchive gives a plain file 0664; only rwx bits differ from 0644.
      {"judge: an xl field read with an MS-DOS host gives a plain file, no finding",
       [](scan::Entry& e) { e.lfh->xl = {false, true, 0, 0104755u << 16}; }, false, {}, EntryStatus::ok},
      {"judge: a walking libarchive takes the local xl field too",
       [](scan::Entry& e) { e.lfh->xl = {true, true, kUnix30, 0104755u << 16}; }, true,
       {{Code::entry_kind_differs, Severity::error, refuse(A)}, {Code::mode_dropped, Severity::warning, kOwn}},
       EntryStatus::damaged},
      // What a restore does not write as the archive says: a warning of zipmedic's own.
      {"judge: a setuid file is mode_dropped", [](scan::Entry& e) { e.external_attr = 0104755u << 16; }, false,
       {{Code::mode_dropped, Severity::warning, kOwn}}, EntryStatus::ok},
      {"judge: a world-writable sticky folder is mode_dropped",
       [](scan::Entry& e) {
         rename(e, "tmp/");
         stored(e, 0);
         e.external_attr = 0041777u << 16;
       },
       false, {{Code::mode_dropped, Severity::warning, kOwn}}, EntryStatus::ok},
      // Info-ZIP's `zip -` writes stdin with a FIFO's mode (010600); every extractor writes a file.
      {"judge: a FIFO mode from zip - is no finding", [](scan::Entry& e) { e.external_attr = 0010600u << 16; },
       false, {}, EntryStatus::ok},
      {"judge: a link's rwxrwxrwx is no mode_dropped",
       [](scan::Entry& e) {
         stored(e, 10);
         e.external_attr = 0120777u << 16;
       },
       false, {}, EntryStatus::ok},
      {"judge: setuid bits on an MS-DOS host's attributes are no finding",
       [](scan::Entry& e) {
         e.version_made_by = kFat20;
         e.external_attr = (0104755u << 16) | 0x20;
       },
       false, {}, EntryStatus::ok},
      // Rule 72: unzip's IS_VOLID skips a volume label.
      {"judge: an MS-DOS volume label bit is entry_kind_differs for unzip",
       [](scan::Entry& e) {
         e.version_made_by = kFat20;
         e.external_attr = 0x08;
       },
       false, {{Code::entry_kind_differs, Severity::error, refuse(U)}}, EntryStatus::damaged},
      // Rule 75: 7-Zip takes a small file with the reparse-point bit for link data.
      {"judge: an NTFS reparse-point bit on a small file is entry_kind_differs for 7-Zip",
       [](scan::Entry& e) {
         e.version_made_by = kNtfs20;
         e.external_attr = 0x400 | 0x20;
       },
       false, {{Code::entry_kind_differs, Severity::error, refuse(Z)}}, EntryStatus::damaged},
  });
}

TEST_CASE("judge: data descriptors and a bit-3 local header") {
  run_entry_rows({
      {"judge: bit 3 with a descriptor that agrees is no finding", [](scan::Entry& e) { with_descriptor(e); }, false,
       {}, EntryStatus::ok},
      // Rule 39: Go compares the descriptor's CRC (reader.go readDataDescriptor).
      {"judge: bit 3 with a descriptor whose CRC differs is descriptor_mismatch for Go",
       [](scan::Entry& e) {
         with_descriptor(e);
         e.descriptor->crc32 = 0x12345678;
       },
       false, {{Code::descriptor_mismatch, Severity::error, refuse(G)}}, EntryStatus::damaged},
      // No reader checks a descriptor's sizes while it reads the directory.
      {"judge: bit 3 with a descriptor whose sizes alone differ is a descriptor_sizes_mismatch warning",
       [](scan::Entry& e) {
         with_descriptor(e);
         e.descriptor->compressed_size = 61;
       },
       false, {{Code::descriptor_sizes_mismatch, Severity::warning}}, EntryStatus::ok},
      // Rule 47: walking, libarchive checks the descriptor's sizes too ("ZIP compressed data is wrong size").
      {"judge: a descriptor whose sizes differ is descriptor_mismatch for libarchive when it walks",
       [](scan::Entry& e) {
         with_descriptor(e);
         e.descriptor->compressed_size = 61;
       },
       true, {{Code::descriptor_mismatch, Severity::error, refuse(A)}}, EntryStatus::damaged},
      // Rule 47: libarchive reads 8-byte descriptor sizes only after a local ZIP64 extra field
      // (LA_USED_ZIP64).
      {"judge: 8-byte descriptor sizes after a local header without ZIP64 are descriptor_mismatch for a walking libarchive",
       [](scan::Entry& e) { with_descriptor(e, 24); }, true,
       {{Code::descriptor_mismatch, Severity::error, refuse(A)}}, EntryStatus::damaged},
      // Rule 41: all six read the 24-byte layout while they read the directory.
      {"judge: 8-byte descriptor sizes after a local header without ZIP64 are no finding from the directory",
       [](scan::Entry& e) { with_descriptor(e, 24); }, false, {}, EntryStatus::ok},
      // Rule 47: walking, libarchive ends stored data only at a signed descriptor.
      {"judge: a stored entry's unsigned descriptor is descriptor_mismatch for a walking libarchive",
       [](scan::Entry& e) {
         stored(e, 100);
         with_descriptor(e, 12);
       },
       true, {{Code::descriptor_mismatch, Severity::error, refuse(A)}}, EntryStatus::damaged},
      // Rule 40: unzip and Go read the next header's bytes as the descriptor.
      {"judge: bit 3 and no descriptor after the data is descriptor_missing",
       [](scan::Entry& e) {
         with_descriptor(e);
         e.descriptor.reset();
       },
       false, {{Code::descriptor_missing, Severity::error, refuse(U | G)}}, EntryStatus::damaged},
      // Rule 37: libarchive compares a bit-3 local header's non-zero CRC with the directory's.
      {"judge: bit 3 with a non-zero local CRC that differs is local_descriptor_conflict for libarchive",
       [](scan::Entry& e) {
         with_descriptor(e);
         e.lfh->crc32 = 0x12345678;
       },
       false, {{Code::local_descriptor_conflict, Severity::error, refuse(A)}}, EntryStatus::damaged},
      // Rule 36 via 37: reading the directory, libarchive takes 0xFFFFFFFF as "not given".
      {"judge: bit 3 with a local size of 0xFFFFFFFF is no finding from the directory",
       [](scan::Entry& e) {
         with_descriptor(e);
         e.lfh->uncompressed_size = zip::kMax32;
       },
       false, {}, EntryStatus::ok},
      // Rule 47: walking, libarchive gives the entry that size (bsdtar -x writes 4 GiB).
      {"judge: bit 3 with a local size of 0xFFFFFFFF is local_descriptor_conflict when libarchive walks",
       [](scan::Entry& e) {
         with_descriptor(e);
         e.lfh->uncompressed_size = zip::kMax32;
       },
       true, {{Code::local_descriptor_conflict, Severity::error, refuse(A)}}, EntryStatus::damaged},
  });
}

TEST_CASE("judge: entries whose data is not verified") {
  run_entry_rows({
      {"judge: an encrypted entry without a password is password_needed with status encrypted",
       [](scan::Entry& e) {
         set_flags(e, zip::kFlagEncrypted);
         e.crypt = scan::CryptOutcome::no_password;
         e.decoded.reset();
       },
       false, {{Code::password_needed, Severity::error}}, EntryStatus::encrypted},
      {"judge: an encrypted entry whose password check fails is password_wrong with status encrypted",
       [](scan::Entry& e) {
         set_flags(e, zip::kFlagEncrypted);
         e.crypt = scan::CryptOutcome::wrong_password;
         e.decoded.reset();
       },
       false, {{Code::password_wrong, Severity::error}}, EntryStatus::encrypted},
      // WinZip AES's HMAC over the ciphertext: the bytes were changed.
      {"judge: an AES entry whose authentication code differs is auth_mismatch and damaged",
       [](scan::Entry& e) {
         set_flags(e, zip::kFlagEncrypted);
         e.crypt = scan::CryptOutcome::auth_failed;
       },
       false, {{Code::auth_mismatch, Severity::error}}, EntryStatus::damaged},
      // Decrypted data is judged like any other.
      {"judge: a decrypted entry whose data is sound is ok",
       [](scan::Entry& e) {
         set_flags(e, zip::kFlagEncrypted);
         e.crypt = scan::CryptOutcome::decrypted;
       },
       false, {}, EntryStatus::ok},
      {"judge: strong encryption is encrypted_entry", [](scan::Entry& e) {
         set_flags(e, zip::kFlagEncrypted | zip::kFlagStrongEncryption);
         e.decoded.reset();
       },
       false, {{Code::encrypted_entry, Severity::error}}, EntryStatus::encrypted},
      {"judge: an implode entry is unsupported_method with status unsupported",
       [](scan::Entry& e) {
         e.method = e.lfh->method = 6;
         e.decoded.reset();
       },
       false, {{Code::unsupported_method, Severity::error}}, EntryStatus::unsupported},
  });
}

namespace {

// A 64-bit little-endian ELF header with one program header inside the prefix: what 7-Zip parses.
std::vector<std::uint8_t> elf_stub(std::size_t len) {
  std::vector<std::uint8_t> h(len, 0);
  std::memcpy(h.data(), "\x7f" "ELF", 4);
  h[4] = 2;   // 64-bit
  h[5] = 1;   // little-endian
  h[6] = 1;   // version
  h[16] = 2;  // e_type: executable
  h[32] = 64;  // e_phoff
  h[52] = 64;  // e_ehsize
  h[54] = 56;  // e_phentsize
  h[56] = 1;   // e_phnum
  return h;
}
std::vector<std::uint8_t> text_of(std::size_t len) {
  std::vector<std::uint8_t> h(len);
  for (std::size_t i = 0; i < len; ++i) h[i] = "#!/bin/sh\necho self-extractor\n"[i % 30];
  return h;
}

}  // namespace

TEST_CASE("judge: a prefix before the first entry") {
  struct PrefixRow {
    const char* name;
    std::vector<std::uint8_t> head;
    bool offsets_skip_it;
    Expected want;
  };
  const std::vector<PrefixRow> rows = {
      // Rule 42: with offsets counting from the file's start all six read it, whatever the bytes.
      {"judge: a text prefix that the offsets count is prefix_bytes", text_of(1024), false,
       {Code::prefix_bytes, Severity::info}},
      // Rule 43: under a name its zip handler claims (a pipe counts as one), 7-Zip opens a shifted
      // archive only behind a program whose headers it parses; unzip warns "extra bytes".
      {"judge: a text prefix the offsets skip is prefix_unrecognised for 7-Zip", text_of(1024), true,
       {Code::prefix_unrecognised, Severity::error, ReaderGroups{Z, U, 0}}},
      // Rule 44: behind a program 7-Zip parses, only unzip's warning is left.
      {"judge: an ELF stub the offsets skip is a prefix_bytes warning for unzip", elf_stub(1024), true,
       {Code::prefix_bytes, Severity::warning, warn(U)}},
      // Rule 43: "ELF magic + zeros" does not pass 7-Zip's parser.
      {"judge: ELF magic and zeros the offsets skip is prefix_unrecognised for 7-Zip",
       [] {
         std::vector<std::uint8_t> h(1024, 0);
         std::memcpy(h.data(), "\x7f" "ELF", 4);
         return h;
       }(),
       true, {Code::prefix_unrecognised, Severity::error, ReaderGroups{Z, U, 0}}},
      // 8.5.3-8.5.4: zip -s writes the spanning signature when the set fit one volume.
      {"judge: a lone spanning signature is prefix_bytes", {'P', 'K', 7, 8}, false,
       {Code::prefix_bytes, Severity::info}},
  };
  for (const auto& row : rows) {
    SUBCASE(row.name) {
      const std::string row_name = row.name;
      CAPTURE(row_name);
      std::vector<report::Finding> out{check::judge_prefix(row.head, row.head.size(), row.offsets_skip_it)};
      check_findings(out, {row.want});
    }
  }
}

TEST_CASE("judge: one note per feature some readers lack") {
  struct FeatureRow {
    const char* name;
    std::vector<std::function<void(scan::Entry&)>> entries;
    std::vector<Expected> want;
  };
  const std::vector<FeatureRow> rows = {
      {"judge: deflated entries lack no reader", {[](scan::Entry&) {}}, {}},
      // Table 2: Go and Java have no bzip2 (Java refuses the whole archive).
      {"judge: a bzip2 entry is readers_lack_feature info lacking Go and Java",
       {[](scan::Entry& e) { e.method = zip::kBzip2; }},
       {{Code::readers_lack_feature, Severity::info, lack(G | J)}}},
      {"judge: two bzip2 entries are one note",
       {[](scan::Entry& e) { e.method = zip::kBzip2; },
        [](scan::Entry& e) {
          e.name = "b.txt";
          e.method = zip::kBzip2;
        }},
       {{Code::readers_lack_feature, Severity::info, lack(G | J)}}},
      // Go ignores bit 0 and hands out the ciphertext; Java refuses the archive.
      {"judge: a ZipCrypto entry is readers_lack_feature info lacking Go and Java",
       {[](scan::Entry& e) { e.flags = zip::kFlagEncrypted; }},
       {{Code::readers_lack_feature, Severity::info, lack(G | J)}}},
      {"judge: WinZip AES (method 99) lacks unzip, Python, Go and Java",
       {[](scan::Entry& e) {
         e.flags = zip::kFlagEncrypted;
         e.method = 99;
       }},
       {{Code::readers_lack_feature, Severity::info, lack(U | P | G | J)}}},
      {"judge: an LZMA entry and a ZipCrypto entry are two notes",
       {[](scan::Entry& e) { e.method = zip::kLzma; }, [](scan::Entry& e) { e.flags = zip::kFlagEncrypted; }},
       {{Code::readers_lack_feature, Severity::info}, {Code::readers_lack_feature, Severity::info}}},
  };
  for (const auto& row : rows) {
    SUBCASE(row.name) {
      const std::string row_name = row.name;
      CAPTURE(row_name);
      check::FeatureJudge judge;
      for (const auto& edit : row.entries) {
        scan::Entry e = sound_entry();
        edit(e);
        judge.add(e);
      }
      std::vector<report::Finding> out;
      judge.finish(out);
      check_findings(out, row.want);
    }
  }
}

TEST_CASE("judge: names across entries") {
  struct NameRow {
    const char* name;
    std::vector<std::function<void(scan::Entry&)>> entries;
    std::vector<Expected> want;
  };
  const std::vector<NameRow> rows = {
      {"judge: an ASCII name is no finding", {[](scan::Entry&) {}}, {}},
      // Rule 52: Python decodes a name without bit 11 as CP437.
      {"judge: a UTF-8 name without bit 11 is a name_charset_differs warning for Python",
       {[](scan::Entry& e) { rename(e, kUtf8Name); }},
       {{Code::name_charset_differs, Severity::warning, warn(P)}}},
      {"judge: a UTF-8 name with bit 11 is no finding",
       {[](scan::Entry& e) {
         rename(e, kUtf8Name);
         set_flags(e, zip::kFlagUtf8);
       }},
       {}},
      // Rule 71: unzip converts a FAT host's names from an OEM code page.
      // docs/readers.md rule 71 calls this name_charset_differs note "info"; the code (and
      // codes.def, and rule 52) make it a warning.
      {"judge: a UTF-8 name from a FAT host is a name_charset_differs warning for Python and one for unzip",
       {[](scan::Entry& e) {
         rename(e, kUtf8Name);
         e.version_made_by = kFat20;
         e.external_attr = 0x20;
       }},
       {{Code::name_charset_differs, Severity::warning, std::nullopt},
        {Code::name_charset_differs, Severity::warning, std::nullopt}}},
      // Rule 50: every extractor gives the last one; the first entry's bytes are unreachable.
      {"judge: the same name twice is duplicate_name",
       {[](scan::Entry&) {}, [](scan::Entry& e) { e.lfh_offset = 200; }},
       {{Code::duplicate_name, Severity::error}}},
      {"judge: two different names are no duplicate", {[](scan::Entry&) {}, [](scan::Entry& e) { rename(e, "b.txt"); }},
       {}},
      // Spellings of one path that a restore (and every extractor) writes to one file.
      {"judge: 'a.txt' and './a.txt' are duplicate_name",
       {[](scan::Entry&) {}, [](scan::Entry& e) { rename(e, "./a.txt"); }}, {{Code::duplicate_name, Severity::error}}},
      {"judge: 'd/a' and 'd//a' are duplicate_name",
       {[](scan::Entry& e) { rename(e, "d/a"); }, [](scan::Entry& e) { rename(e, "d//a"); }},
       {{Code::duplicate_name, Severity::error}}},
      {"judge: 'd/./a' and 'd/a' are duplicate_name",
       {[](scan::Entry& e) { rename(e, "d/./a"); }, [](scan::Entry& e) { rename(e, "d/a"); }},
       {{Code::duplicate_name, Severity::error}}},
      {"judge: a file 'x' and a folder 'x/' are duplicate_name",
       {[](scan::Entry& e) { rename(e, "x"); }, [](scan::Entry& e) { rename(e, "x/"); }},
       {{Code::duplicate_name, Severity::error}}},
      {"judge: NFC and NFD spellings of one name are duplicate_name",
       {[](scan::Entry& e) {
          rename(e, "caf\xc3\xa9");
          set_flags(e, zip::kFlagUtf8);
        },
        [](scan::Entry& e) {
          rename(e, "cafe\xcc\x81");
          set_flags(e, zip::kFlagUtf8);
        }},
       {{Code::duplicate_name, Severity::error}, {Code::name_charset_differs, Severity::warning, warn(A)}}},
      {"judge: a file 'x' that 'x/y' needs as a folder is duplicate_name",
       {[](scan::Entry& e) { rename(e, "x"); }, [](scan::Entry& e) { rename(e, "x/y"); }},
       {{Code::duplicate_name, Severity::error}}},
      {"judge: a file 'x' that a later 'x/d/y' needs as a folder is duplicate_name",
       {[](scan::Entry& e) { rename(e, "x/d/y"); }, [](scan::Entry& e) { rename(e, "x"); }},
       {{Code::duplicate_name, Severity::error}}},
      {"judge: a folder and the entries under it are no duplicate",
       {[](scan::Entry& e) { rename(e, "x/"); }, [](scan::Entry& e) { rename(e, "x/y"); },
        [](scan::Entry& e) { rename(e, "x/z/"); }, [](scan::Entry& e) { rename(e, "x/z/w"); }},
       {}},
      {"judge: './' and a file under it are no duplicate",
       {[](scan::Entry& e) { rename(e, "./"); }, [](scan::Entry& e) { rename(e, "./a"); }}, {}},
      {"judge: a file 'xy' beside 'x/y' is no conflict",
       {[](scan::Entry& e) { rename(e, "xy"); }, [](scan::Entry& e) { rename(e, "x/y"); }}, {}},
      // Rule 72: unzip skips a folder's entry with the volume-label bit (Java's jar writes
      // 0xFFFFFFFF), and makes the folder anyway for an entry under it: only an empty one is lost.
      {"judge: a volume-label folder with an entry under it is no finding",
       {[](scan::Entry& e) {
          rename(e, "META-INF/");
          e.version_made_by = kFat20;
          e.external_attr = 0xFFFFFFFF;
        },
        [](scan::Entry& e) { rename(e, "META-INF/MANIFEST.MF"); }},
       {}},
      {"judge: an empty volume-label folder is entry_kind_differs for unzip",
       {[](scan::Entry& e) {
          rename(e, "empty/");
          e.version_made_by = kFat20;
          e.external_attr = 0xFFFFFFFF;
        }},
       {{Code::entry_kind_differs, Severity::error, refuse(U)}}},
      // NAME_MAX: no extractor writes a 300-byte component on Linux; the archive is whole.
      {"judge: a 300-byte name component is a name_too_long warning",
       {[](scan::Entry& e) { rename(e, "d/" + std::string(300, 'n')); }}, {{Code::name_too_long, Severity::warning}}},
      {"judge: a 255-byte component is no finding",
       {[](scan::Entry& e) { rename(e, "d/" + std::string(255, 'n') + "/" + std::string(255, 'm')); }}, {}},
      // Rule 58.
      {"judge: a name with a '..' component is unsafe_path", {[](scan::Entry& e) { rename(e, "../x"); }},
       {{Code::unsafe_path, Severity::error}}},
      {"judge: an absolute name is unsafe_path", {[](scan::Entry& e) { rename(e, "/etc/x"); }},
       {{Code::unsafe_path, Severity::error}}},
      // Rule 51: Java refuses any invalid UTF-8 name; with bit 11 Python and libarchive too.
      {"judge: an invalid UTF-8 name with bit 11 is name_invalid for Java, Python and libarchive",
       {[](scan::Entry& e) {
         rename(e, "\xff.txt");
         set_flags(e, zip::kFlagUtf8);
       }},
       {{Code::name_invalid, Severity::error, refuse(J | P | A)}}},
      // Rule 51: without bit 11 the bytes are a code page's, which Java reads only when told it.
      {"judge: a code-page name without bit 11 is a feature Java lacks",
       {[](scan::Entry& e) { rename(e, "\xff.txt"); }},
       {{Code::readers_lack_feature, Severity::info, lack(J)}, {Code::name_charset_differs, Severity::warning, warn(U | P)}}},
      // docs/readers.md rule 54 says a control byte is unsafe_path or name_invalid, severity
      // warning; the code makes it name_invalid naming refuse={unzip} (unzip drops the byte: another
      // name), an error.
      {"judge: a control byte in a name is name_invalid for unzip",
       {[](scan::Entry& e) { rename(e, "a\x01.txt"); }}, {{Code::name_invalid, Severity::error, refuse(U)}}},
      // Rule 55: libarchive makes folders of backslashes in a name without '/'; unzip too for host
      // 0: the same bytes under another path, a warning.
      {"judge: a backslash in a Unix name without '/' is a name_invalid warning for libarchive",
       {[](scan::Entry& e) { rename(e, "a\\b.txt"); }}, {{Code::name_invalid, Severity::warning, warn(A)}}},
      {"judge: a backslash in an MS-DOS name without '/' is a name_invalid warning for libarchive and unzip",
       {[](scan::Entry& e) {
         rename(e, "a\\b.txt");
         e.version_made_by = kFat20;
         e.external_attr = 0x20;
       }},
       {{Code::name_invalid, Severity::warning, warn(A | U)}}},
      // Rule 67: a link its writer meant; a restore must not write through it.
      {"judge: a meant link is a symlink_entry warning",
       {[](scan::Entry& e) {
         stored(e, 10);
         e.external_attr = 0120777u << 16;
       }},
       {{Code::symlink_entry, Severity::warning}}},
  };
  for (const auto& row : rows) {
    SUBCASE(row.name) {
      const std::string row_name = row.name;
      CAPTURE(row_name);
      std::vector<scan::Entry> entries;
      for (const auto& edit : row.entries) {
        entries.push_back(sound_entry());
        edit(entries.back());
      }
      std::vector<report::Finding> out;
      check::judge_names(entries, out);
      check_findings(out, row.want);
    }
  }
}

TEST_CASE("judge: the two name_charset_differs notes of a FAT name name Python and unzip") {
  scan::Entry e = sound_entry();
  rename(e, kUtf8Name);
  e.version_made_by = kFat20;
  e.external_attr = 0x20;
  std::vector<report::Finding> out;
  check::judge_names({e}, out);
  REQUIRE(out.size() == 2);
  CHECK(groups_text(out[0].readers) == groups_text(warn(P)));
  CHECK(groups_text(out[1].readers) == groups_text(warn(U)));
}

namespace {

// The bytes between entries as a test states them: the headers found there and the file's head.
struct StubProbe : check::LayoutProbe {
  std::vector<check::FoundHeader> headers;
  std::vector<std::uint8_t> head;
  std::vector<check::FoundHeader> headers_in(std::uint64_t from, std::uint64_t to) override {
    std::vector<check::FoundHeader> in;
    for (const auto& h : headers)
      if (h.offset >= from && h.offset < to) in.push_back(h);
    return in;
  }
  std::vector<std::uint8_t> prefix_head(std::uint64_t len) override {
    return {head.begin(), head.begin() + std::min<std::uint64_t>(len, head.size())};
  }
};

}  // namespace

TEST_CASE("judge: the layout of entries, gaps and prefix") {
  struct LayoutRow {
    const char* name;
    std::vector<check::Extent> placed;  // in any order: judge_layout sorts them
    std::uint64_t cd_start;
    std::vector<check::FoundHeader> headers;
    std::uint64_t shift = 0;
    bool libarchive_walks = false;
    std::vector<Expected> want;
  };
  const std::vector<LayoutRow> rows = {
      {"judge: entries end to end up to the directory are no finding", {{0, 100, 0}, {100, 200, 1}}, 200, {}, 0, false,
       {}},
      // Rule 48: Python's and unzip's overlap checks (the zip-bomb layout).
      {"judge: two overlapping extents are overlapping_entries",
       {{0, 100, 0}, {50, 150, 1}}, 150, {}, 0, false,
       {{Code::overlapping_entries, Severity::error, refuse(U | P)}}},
      {"judge: two directory records pointing at one local header are overlapping_entries",
       {{0, 100, 0}, {0, 100, 1}}, 100, {}, 0, false, {{Code::overlapping_entries, Severity::error}}},
      {"judge: an entry that runs into the directory is overlapping_entries",
       {{0, 100, 0}, {100, 220, 1}}, 200, {}, 0, false, {{Code::overlapping_entries, Severity::error}}},
      // Rule 45: all six read it.
      {"judge: bytes between two entries are a gap_bytes warning", {{0, 100, 0}, {120, 200, 1}}, 200, {}, 0, false,
       {{Code::gap_bytes, Severity::warning}}},
      {"judge: bytes between the last entry and the directory are a gap_bytes warning",
       {{0, 100, 0}, {100, 200, 1}}, 230, {}, 0, false, {{Code::gap_bytes, Severity::warning}}},
      // Rule 46: ignored while libarchive reads the directory.
      {"judge: a local header in a gap is an unreferenced_local_header warning",
       {{0, 100, 0}, {150, 200, 1}}, 200, {{110, std::string("hidden.txt")}}, 0, false,
       {{Code::unreferenced_local_header, Severity::warning}}},
      // Rules 46 and 47: walking, libarchive extracts it as another file.
      {"judge: a local header in a gap is an unreferenced_local_header error when libarchive walks",
       {{0, 100, 0}, {150, 200, 1}}, 200, {{110, std::string("hidden.txt")}}, 0, true,
       {{Code::unreferenced_local_header, Severity::error, refuse(A)}}},
      // Rule 43: the prefix is script text and the offsets count from after it.
      {"judge: a text prefix the offsets skip is prefix_unrecognised",
       {{64, 164, 0}}, 164, {}, 64, false, {{Code::prefix_unrecognised, Severity::error, ReaderGroups{Z, U, 0}}}},
      // Rule 42.
      {"judge: a text prefix the offsets count is prefix_bytes", {{64, 164, 0}}, 164, {}, 0, false,
       {{Code::prefix_bytes, Severity::info}}},
      // Rule 47: libarchive's streaming reader bids only for a file that starts with "PK".
      {"judge: a prefix when libarchive walks is prefix_unrecognised for libarchive besides prefix_bytes",
       {{64, 164, 0}}, 164, {}, 0, true,
       {{Code::prefix_unrecognised, Severity::error, refuse(A)}, {Code::prefix_bytes, Severity::info}}},
  };
  for (const auto& row : rows) {
    SUBCASE(row.name) {
      const std::string row_name = row.name;
      CAPTURE(row_name);
      StubProbe probe;
      probe.headers = row.headers;
      probe.head = text_of(64);
      scan::EndRecords end;
      end.cd_start = row.cd_start;
      end.cd_offset = row.cd_start - row.shift;
      end.shift = row.shift;
      end.eocd_offset = row.cd_start + 100;
      end.libarchive_walks = row.libarchive_walks;
      std::vector<check::Extent> placed = row.placed;
      std::vector<report::Finding> out;
      check::judge_layout(
          placed, [](std::uint32_t i) { return check::Named{"e" + std::to_string(i), 0}; }, end,
          end.eocd_offset, probe, out);
      check_findings(out, row.want);
    }
  }
}

TEST_CASE("judge: an entry that overlaps another is damaged") {
  std::vector<scan::Entry> entries{sound_entry(), sound_entry()};
  rename(entries[1], "b.txt");
  entries[1].lfh_offset = 50;  // inside the first entry's data (0 to 95)
  entries[1].data_offset = 85;
  entries[1].end_offset = 145;
  for (auto& e : entries) e.status = EntryStatus::ok;
  StubProbe probe;
  scan::EndRecords end;
  end.cd_start = end.cd_offset = 145;
  end.eocd_offset = 245;
  std::vector<report::Finding> out;
  check::judge_layout(entries, end, end.eocd_offset, probe, out);
  check_findings(out, {{Code::overlapping_entries, Severity::error}});
  CHECK(entries[0].status == EntryStatus::ok);
  CHECK(entries[1].status == EntryStatus::damaged);
}

namespace {

// An encrypted entry as the judge left it: what became of the password, and its status.
scan::Entry judged_encrypted(std::uint64_t at, scan::CryptOutcome crypt, EntryStatus status) {
  scan::Entry e;
  e.name = "f" + std::to_string(at);
  e.flags = zip::kFlagEncrypted;
  e.lfh_offset = at;
  e.data_offset = at + 40;
  e.compressed_size = 60;
  e.end_offset = at + 100;
  e.crypt = crypt;
  e.status = status;
  return e;
}

}  // namespace

TEST_CASE("judge: a wrong password is one finding, damage under the right one stays damage") {
  using C = scan::CryptOutcome;
  auto finding = [](Code c, std::uint64_t at) {
    return report::make_finding(c, "f" + std::to_string(at), at + 40, "x", report::refusing(report::kAllReaders));
  };
  SUBCASE("ZipCrypto: one entry of many passed the check by chance and failed its CRC") {
    check::PasswordJudge pw;
    std::vector<report::Finding> out;
    for (std::size_t i = 0; i < 300; ++i) {
      const std::uint64_t at = i * 100;
      const bool chance = i == 137;
      pw.add(judged_encrypted(at, chance ? C::decrypted : C::wrong_password,
                              chance ? EntryStatus::damaged : EntryStatus::encrypted), i);
      out.push_back(chance ? finding(Code::crc_mismatch, at)
                           : report::make_finding(Code::password_wrong, "f" + std::to_string(at), at, "x", report::kOwnRule));
    }
    out.push_back(report::make_finding(Code::gap_bytes, std::nullopt, 30000, "x", report::kOwnRule));
    REQUIRE(pw.settle(out));
    REQUIRE(out.size() == 2);
    CHECK(out[0].code == Code::password_wrong);
    CHECK(out[0].message.find("fails the check of 299 of 300 encrypted entries, and the 1 that passed") != std::string::npos);
    CHECK(out[1].code == Code::gap_bytes);
    CHECK(pw.chance() == std::vector<std::size_t>{137});
  }
  SUBCASE("WinZip AES: the two-byte verifier passed by chance and the authentication code failed") {
    check::PasswordJudge pw;
    std::vector<report::Finding> out{finding(Code::auth_mismatch, 0)};
    pw.add(judged_encrypted(0, C::auth_failed, EntryStatus::damaged), 0);
    pw.add(judged_encrypted(100, C::wrong_password, EntryStatus::encrypted), 1);
    REQUIRE(pw.settle(out));
    REQUIRE(out.size() == 1);
    CHECK(out[0].code == Code::password_wrong);
    CHECK(pw.chance() == std::vector<std::size_t>{0});
  }
  SUBCASE("the right password: damaged entries beside ones that decoded are damage") {
    check::PasswordJudge pw;
    std::vector<report::Finding> out{finding(Code::crc_mismatch, 100), finding(Code::auth_mismatch, 200)};
    pw.add(judged_encrypted(0, C::decrypted, EntryStatus::ok), 0);
    pw.add(judged_encrypted(100, C::decrypted, EntryStatus::damaged), 1);
    pw.add(judged_encrypted(200, C::auth_failed, EntryStatus::damaged), 2);
    CHECK_FALSE(pw.settle(out));
    CHECK(out.size() == 2);
  }
  SUBCASE("every entry damaged and none failing the check: damage, as the right password opens it") {
    check::PasswordJudge pw;
    std::vector<report::Finding> out{finding(Code::crc_mismatch, 0)};
    pw.add(judged_encrypted(0, C::decrypted, EntryStatus::damaged), 0);
    CHECK_FALSE(pw.settle(out));
  }
  SUBCASE("one entry's check failing among many that decoded stays that entry's finding") {
    check::PasswordJudge pw;
    std::vector<report::Finding> out{report::make_finding(Code::password_wrong, "f0", 0, "x", report::kOwnRule)};
    pw.add(judged_encrypted(0, C::wrong_password, EntryStatus::encrypted), 0);
    for (std::size_t i = 1; i < 5; ++i) pw.add(judged_encrypted(i * 100, C::decrypted, EntryStatus::ok), i);
    CHECK_FALSE(pw.settle(out));
    CHECK(out[0].entry == std::optional<std::string>("f0"));
  }
}
