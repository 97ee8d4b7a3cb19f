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

// Reads every record of the directory that `end` describes (4.3.12), resolving ZIP64 extras and
// the prefix shift. Stops at the first malformed record and reports it; never trusts the entry
// count for allocation (it may say 4 billion).
CentralDirectory read_central_directory(io::ByteSource& src, const EndRecords& end);

}  // namespace zm::scan
