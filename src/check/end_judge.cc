// What the readers make of the end records that scan::locate_end_records found (4.3.14-4.3.16;
// docs/readers.md, rules 3-23 and 43-47).
#include <fmt/format.h>

#include "check/judge.h"
#include "check/readers.h"

namespace zm::check {
using report::Code;
using report::make_finding;

namespace {

struct EndJudging {
  const scan::EndRecords& r;
  std::vector<report::Finding>& out;
  void add(Code c, std::uint64_t at, std::string msg, report::Readers refuse) {
    out.push_back(refuse ? make_finding(c, std::nullopt, at, std::move(msg), report::refusing(refuse))
                         : make_finding(c, std::nullopt, at, std::move(msg)));
  }
};

// Bytes after the end records, and other end records that some reader takes instead.
void judge_other_end_records(EndJudging& j) {
  const auto& r = j.r;
  if (r.end_of_records < r.file_size && r.locator && r.locator_offset + zip::kZip64LocatorLen == r.eocd_offset)
    // Java finds the end records of a ZIP64 archive only when they end the file.
    j.add(Code::eocd_inconsistent, r.end_of_records,
          fmt::format("{} bytes follow the end records of a ZIP64 archive: Java's ZipFile cannot find them",
                      r.file_size - r.end_of_records),
          report::kJava);
  else if (r.end_of_records < r.file_size)
    j.add(Code::trailing_bytes, r.end_of_records,
          fmt::format("{} bytes follow the end record and its comment", r.file_size - r.end_of_records), 0);
  // A signature in the trailing bytes that is no record the others take: Python takes it, also
  // with fewer than 22 bytes after it, which it then refuses (seed 17, mutant 18206: 4 bytes
  // appended).
  if (r.later_end_signature)
    j.add(Code::eocd_inconsistent, *r.later_end_signature,
          fmt::format("an end-record signature at offset {}, after the end record at {}: Python takes the last one "
                      "and {}",
                      *r.later_end_signature, r.eocd_offset,
                      r.later_end_whole ? "reads another directory from it"
                                        : "cannot open the archive (too few bytes follow it)"),
          report::kPython);
  // An end record of an empty archive after one that describes entries (22 bytes appended to a
  // whole archive): unzip, libarchive, Python, Go and Java take the last and read nothing, 7-Zip
  // reads the entries (rule 3).
  if (r.earlier_end_record)
    j.add(Code::eocd_inconsistent, *r.earlier_end_record,
          fmt::format("a second end record at offset {} besides the one at {}: readers disagree on which one they take",
                      *r.earlier_end_record, r.eocd_offset),
          report::kSevenZip);
}

// The classic end record's disk numbers and counts, a field of all ones deferring to the ZIP64
// end record when there is one (4.4.1.4): a ZIP64 archive may say disk 65535 there, and all six
// readers then take the ZIP64 record's value.
struct DiskValues {
  std::uint64_t disk, cd_disk, entries_on_disk, entries_total;
};
DiskValues classic_disk_values(const scan::EndRecords& r) {
  const auto& e = r.eocd;
  DiskValues v{e.disk, e.cd_disk, e.entries_on_disk, e.entries_total};
  if (!r.zip64) return v;
  const auto& z = *r.zip64;
  if (e.disk == zip::kMax16) v.disk = z.disk;
  if (e.cd_disk == zip::kMax16) v.cd_disk = z.cd_disk;
  if (e.entries_on_disk == zip::kMax16) v.entries_on_disk = z.entries_on_disk;
  if (e.entries_total == zip::kMax16) v.entries_total = z.entries_total;
  return v;
}

// The classic end record's disk numbers and counts (4.3.16).
void judge_classic_disks(EndJudging& j) {
  const auto& r = j.r;
  const DiskValues v = classic_disk_values(r);
  if (r.disks) {
    // A split set (8.5): the end record is on the last volume and counts the volumes before it;
    // the directory may start on an earlier volume, so this volume holds only some of its records.
    // 7-Zip is the one reader of split sets here; the others lack the feature.
    if (r.eocd.disk != 0xFFFF && r.eocd.disk + 1u != r.disks)
      j.add(Code::eocd_inconsistent, r.eocd_offset,
            fmt::format("the end record says it is on volume {}, but the set has {} volumes", r.eocd.disk + 1u, r.disks),
            report::kSevenZip);
    if ((r.eocd.cd_disk != 0xFFFF && r.eocd.cd_disk > r.eocd.disk) || r.eocd.entries_on_disk > r.eocd.entries_total)
      j.add(Code::eocd_inconsistent, r.eocd_offset,
            "the end record's volume numbers or entry counts disagree with each other", report::kSevenZip);
  } else if (v.entries_on_disk != v.entries_total || v.disk != v.cd_disk ||
             r.eocd.entries_on_disk != r.eocd.entries_total) {
    if (v.disk == 0 && v.entries_on_disk == v.entries_total && r.eocd.entries_on_disk == r.eocd.entries_total) {
      // With ZIP64 end records a classic value that differs is unzip's refusal (judge_zip64_records),
      // one finding for it.
      if (r.zip64 && r.eocd.cd_disk != 0xFFFF && r.eocd.cd_disk != r.zip64->cd_disk) return;
      // Only the directory's disk number is off: unzip reads on, the others ignore it (measured:
      // unzip, 7-Zip, bsdtar, Python, Go and Java read every entry); libarchive then walks the
      // local headers, which the judge weighs through libarchive_walks.
      j.out.push_back(make_finding(Code::eocd_inconsistent, std::nullopt, r.eocd_offset,
                                   fmt::format("the end record says the directory starts on disk {} of a "
                                               "single-volume archive",
                                               v.cd_disk),
                                   report::warning(report::kUnzip)));
    } else if (const report::Readers refuse =
                 // 7-Zip: "Headers Error" when the classic record's own two counts differ as
                 // written, 0xFFFF included; the ZIP64 record's count for this disk it does not
                 // compare (measured: 11 there and 10 in all, with 0xFFFF in both classic fields,
                 // reads whole in every reader). libarchive walks (rule 47, judged there); unzip
                 // looks for other volumes (rules 4-6).
                 (r.eocd.entries_on_disk != r.eocd.entries_total || v.disk != v.cd_disk ? report::kSevenZip : 0) |
                 (v.disk != v.cd_disk ? report::kUnzip : 0))
      j.add(Code::eocd_inconsistent, r.eocd_offset, "the end record describes a multi-disk archive or disagrees with itself",
            refuse);
  } else if (v.disk != 0 && !(r.zip64 && r.eocd.disk == zip::kMax16)) {
    // 7-Zip refuses a single-volume archive that calls itself another disk; unzip warns (rule 22).
    // A classic 0xFFFF defers to the ZIP64 end record (4.4.1.4), whose disk judge_zip64 weighs:
    // one finding, not two.
    j.out.push_back(make_finding(Code::disk_number_nonzero, std::nullopt, r.eocd_offset,
                                 fmt::format("the end record says this is disk {} of a single-volume archive", v.disk),
                                 {report::kSevenZip, report::kUnzip, 0}));
  }
}

// The ZIP64 locator and end record (4.3.14-4.3.15).
void judge_zip64_records(EndJudging& j) {
  const auto& r = j.r;
  if (!r.locator) return;
  // OneDrive writes 0 total disks here: unzip then refuses the archive, and libarchive and Go
  // ignore the locator (rule 11), so only 1 is sound.
  if (r.locator->total_disks != (r.disks ? r.disks : 1u))
    j.add(Code::zip64_inconsistent, r.locator_offset,
          fmt::format("ZIP64 locator says the archive spans {} disks", r.locator->total_disks),
          report::kUnzip | report::kLibarchive | report::kGo | (r.locator->total_disks > 1 ? report::kPython : 0));
  // The disk holding the ZIP64 end record must be this one: Python calls the archive multi-disk,
  // unzip refuses it, Go and libarchive ignore the locator and then find no directory (or, with
  // real classic values, nothing in it) (rule 12).
  if (r.locator->cd_disk != 0)
    j.add(Code::disk_number_nonzero, r.locator_offset,
          fmt::format("the ZIP64 locator says the ZIP64 end record is on disk {} of a single-volume archive",
                      r.locator->cd_disk),
          report::kUnzip | report::kLibarchive | report::kPython | report::kGo);
  // Found where it must be, not where the locator says (a prefix the locator's offset does not
  // count is the usual cause): Go and Java follow the locator and refuse the archive; unzip warns
  // "End-of-centdir-64 signature not where expected (prepended bytes?)" and reads on; libarchive's
  // seekable reader does not take the records and its walk finds nothing behind the prefix; 7-Zip
  // finds the archive behind a prefix ("Offset = N", Python's exe_with_z64 test archive).
  if (r.zip64_found_by_search)
    j.out.push_back(make_finding(
        Code::zip64_inconsistent, std::nullopt, r.locator_offset,
        fmt::format("the ZIP64 locator points at offset {}, but the ZIP64 end record is at {}",
                    r.locator->zip64_end_offset, r.zip64_offset),
        {report::Readers(report::kGo | report::kJava | report::kLibarchive | (r.shift ? 0 : report::kSevenZip)),
         report::kUnzip, 0}));
  if (!r.zip64) {
    // Rule 17: a locator that leads nowhere.
    j.add(Code::zip64_inconsistent, r.locator->zip64_end_offset, "the ZIP64 locator points at no ZIP64 end record",
          report::kSevenZip | report::kGo | report::kJava);
    return;
  }
  const auto& z = *r.zip64;
  // unzip refuses, 7-Zip misses a volume, libarchive reads nothing (rule 23).
  if (r.disks ? z.disk + 1u != r.disks || z.cd_disk > z.disk : z.disk != 0 || z.cd_disk != 0)
    j.add(Code::disk_number_nonzero, r.zip64_offset,
          r.disks ? fmt::format("the ZIP64 end record says disk {} (directory on disk {}) of a set of {} volumes",
                                z.disk, z.cd_disk, r.disks)
                  : fmt::format("the ZIP64 end record says disk {} (directory on disk {}) of a single-volume archive",
                                z.disk, z.cd_disk),
          report::kUnzip | report::kLibarchive | (z.disk != 0 ? report::kSevenZip : 0));
  if (12 + z.record_size + r.zip64_offset != r.locator_offset)
    j.add(Code::zip64_inconsistent, r.zip64_offset,
          fmt::format("the ZIP64 end record's size field ({}) does not reach the locator", z.record_size),
          // Measured: 7-Zip "Headers Error"; unzip, when the size runs past the locator,
          // "overlapped components".
          report::kSevenZip | (12 + z.record_size + r.zip64_offset > r.locator_offset ? report::kUnzip : 0));
  // 4.4.1.4: a classic field of all ones defers to the ZIP64 record; other values must agree.
  auto agree = [&](const char* what, std::uint64_t classic, std::uint64_t all_ones, std::uint64_t z64) {
    if (classic != all_ones && classic != z64)
      j.add(Code::zip64_inconsistent, r.eocd_offset,
            fmt::format("the end record's {} ({}) disagrees with the ZIP64 end record ({})", what, classic, z64),
            report::kUnzip | report::kPython | report::kJava);
  };
  agree("entry count", r.eocd.entries_total, 0xFFFF, z.entries_total);
  agree("directory size", r.eocd.cd_size, 0xFFFFFFFF, z.cd_size);
  agree("directory offset", r.eocd.cd_offset, 0xFFFFFFFF, z.cd_offset);
  // unzip compares the disk numbers and the count on this disk too, and on any difference drops
  // the ZIP64 records and reads the classic one alone ("missing 8589892057 bytes in zipfile", or
  // with real classic values "76 extra bytes at beginning or within zipfile", exit 2 or 3; seed 77,
  // mutant 5637, and the counts measured each way). The others take the classic value or the
  // ZIP64 one without comparing them.
  auto unzip_agrees = [&](const char* what, std::uint16_t classic, std::uint64_t z64) {
    if (classic != 0xFFFF && classic != z64)
      j.add(Code::zip64_inconsistent, r.eocd_offset,
            fmt::format("the end record's {} ({}) disagrees with the ZIP64 end record ({})", what, classic, z64),
            report::kUnzip);
  };
  unzip_agrees("disk number", r.eocd.disk, z.disk);
  unzip_agrees("directory's disk number", r.eocd.cd_disk, z.cd_disk);
  unzip_agrees("entry count on this disk", r.eocd.entries_on_disk, z.entries_on_disk);
}

// Where the directory lies against where the end records say it does.
void judge_directory_place(EndJudging& j) {
  const auto& r = j.r;
  if (r.cd_size > r.dir_end)
    j.add(Code::eocd_inconsistent, r.eocd_offset,
          fmt::format("the directory size ({}) is larger than the bytes before the end record ({})", r.cd_size,
                      r.dir_end),
          report::kAllReaders);
  else if (r.dir_end - r.cd_size < r.declared_cd_start)
    j.add(Code::eocd_inconsistent, r.eocd_offset,
          fmt::format("the directory cannot start at offset {} and still end at {}", r.declared_cd_start, r.dir_end),
          report::kAllReaders);
  // Java's ZipFile takes an end record whose comment does not reach the end of the file only when
  // the archive's first local header is where the directory's offsets say the archive starts.
  if (r.archive_start_unmarked)
    j.add(Code::eocd_inconsistent, r.end_of_records,
          fmt::format("bytes follow the end record and the archive's offsets count from offset {}, where no local "
                      "header starts: Java's ZipFile cannot find the end record",
                      r.cd_start - r.cd_offset),
          report::kJava);
}

}  // namespace

std::vector<report::Finding> judge_end_records(scan::EndRecords& end) {
  std::vector<report::Finding> out;
  EndJudging j{end, out};
  judge_other_end_records(j);
  judge_classic_disks(j);
  judge_zip64_records(j);
  judge_directory_place(j);
  // zipstream-ng keeps real values in the classic record between 2 and 4 GiB (ZIP-NOTES), which
  // is valid: nothing to report for that.
  if (!end.disks) {
    const bool z64_at_locator = end.locator && end.zip64 && end.zip64_offset == end.locator->zip64_end_offset;
    end.libarchive_walks = !readers::libarchive_takes_end_records(
        {end.file_size, end.eocd_offset, end.eocd, end.locator ? &*end.locator : nullptr,
         z64_at_locator ? &*end.zip64 : nullptr});
  }
  return out;
}

}  // namespace zm::check
