#pragma once
#include <vector>

#include "scan/catalog.h"
#include "scan/end_records.h"

namespace zm::scan {

struct CentralDirectory {
  std::vector<Entry> entries;
  std::vector<report::Finding> findings;
  bool readable = false;  // the first record was where the end record said
};

// One directory record (4.3.12) as an Entry with its ZIP64 values resolved; lfh_offset is as
// recorded (the caller adds any prefix shift). `zip64_missing` is set when an all-ones field
// finds no value in the ZIP64 extra field.
Entry entry_from_record(const zip::CentralDirectoryHeader& h, bool* zip64_missing);

// Reads every record of the directory that `end` describes (4.3.12), resolving ZIP64 extras and
// the prefix shift. Stops at the first malformed record and reports it; never trusts the entry
// count for allocation (it may say 4 billion).
CentralDirectory read_central_directory(io::ByteSource& src, const EndRecords& end);

}  // namespace zm::scan
