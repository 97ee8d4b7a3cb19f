// Locating the end of central directory record (4.3.16) and its ZIP64 companions (4.3.14-15).
// This reports what it saw; what the readers make of it (findings, libarchive's choice of reader)
// is the judge's (check::judge_end_records).
#pragma once
#include <cstdint>
#include <optional>
#include <vector>

#include "io/source.h"
#include "zip/records.h"

namespace zm::scan {

struct EndRecords {
  std::uint64_t file_size = 0;
  std::uint32_t disks = 0;  // volumes of a split set; 0 for one file
  std::uint64_t eocd_offset = 0;
  zip::EndOfCentralDirectory eocd;
  std::optional<zip::Zip64Locator> locator;
  std::uint64_t locator_offset = 0;
  std::optional<zip::Zip64End> zip64;
  std::uint64_t zip64_offset = 0;
  // The ZIP64 end record was not where the locator says but right before the locator.
  bool zip64_found_by_search = false;
  // Effective values (ZIP64 where the classic field says to look there).
  std::uint64_t entries = 0, cd_size = 0, cd_offset = 0;
  // Where the directory really starts in the file: the declared offset plus `shift`, which is
  // the length of any program or junk put in front of the archive (self-extractors).
  std::uint64_t cd_start = 0;
  std::uint64_t shift = 0;
  std::uint64_t declared_cd_start = 0;  // the declared offset as a file position (a split set's volume added)
  std::uint64_t dir_end = 0;            // where the directory must end: the ZIP64 end record or the end record
  std::uint64_t end_of_records = 0;     // one past the end record and its comment
  // Python's _EndRecData takes an end record that ends the file with no comment, else the last
  // "PK\5\6" of the window wherever it lies: one after the record taken here (docs/readers.md,
  // rule 3), and whether 22 bytes follow it.
  std::optional<std::uint64_t> later_end_signature;
  bool later_end_whole = false;
  // An end record that describes entries before the one taken, which describes none (rules 43-44).
  std::optional<std::uint64_t> earlier_end_record;
  // Bytes follow the end records and the archive's first local header is not where the
  // directory's offsets say the archive starts (where Java looks for it).
  bool archive_start_unmarked = false;
  // Set by the judge: libarchive's seekable reader does not take these end records (rule 47),
  // so it reads the local headers front to back, as its streaming reader does.
  bool libarchive_walks = false;
};

// Searches the last 65,535 + 22 bytes backwards. Returns nullopt when no plausible end record
// exists (eocd_missing is the caller's to report).
std::optional<EndRecords> locate_end_records(io::ByteSource& src);

}  // namespace zm::scan
