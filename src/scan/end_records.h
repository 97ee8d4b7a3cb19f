// Locating the end of central directory record (4.3.16) and its ZIP64 companions (4.3.14-15).
#pragma once
#include <cstdint>
#include <optional>
#include <vector>

#include "io/source.h"
#include "report/report.h"
#include "zip/records.h"

namespace zm::scan {

struct EndRecords {
  std::uint64_t eocd_offset = 0;
  zip::EndOfCentralDirectory eocd;
  std::optional<zip::Zip64Locator> locator;
  std::uint64_t locator_offset = 0;
  std::optional<zip::Zip64End> zip64;
  std::uint64_t zip64_offset = 0;
  // Effective values (ZIP64 where the classic field says to look there).
  std::uint64_t entries = 0, cd_size = 0, cd_offset = 0;
  // Where the directory really starts in the file: the declared offset plus `shift`, which is
  // the length of any program or junk put in front of the archive (self-extractors).
  std::uint64_t cd_start = 0;
  std::uint64_t shift = 0;
  std::uint64_t end_of_records = 0;  // one past the end record and its comment
  // libarchive's seekable reader does not take these end records (docs/readers.md, rule 47): it
  // then reads the local headers front to back, as its streaming reader does, and checks each
  // data descriptor against the data. Set by the judge (check::settle_end_records), not here.
  bool libarchive_walks = false;
  std::vector<report::Finding> findings;
};

// Searches the last 65,535 + 22 bytes backwards. Returns nullopt when no plausible end record
// exists (eocd_missing is the caller's to report).
std::optional<EndRecords> locate_end_records(io::ByteSource& src);

}  // namespace zm::scan
