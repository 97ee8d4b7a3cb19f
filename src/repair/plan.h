// What a repair will write, decided from what the scan found and what an old directory says,
// before any byte is written: pure, so that the choice of entries and fields can be tested alone.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "report/report.h"
#include "io/source.h"
#include "scan/catalog.h"
#include "zip/writer.h"

namespace zm::repair {

struct PlanOptions {
  bool in_place = false;         // the entries stay where they are; only a directory is appended
  bool salvage_partial = false;  // copy mode: keep the intact start of cut entries as NAME.partial
  std::uint64_t source_size = 0;
  // The old directory parsed without an error: only then can its name outvote a local header's
  // (an edited name length in a record shifts every field after it).
  bool directory_whole = false;
};

struct PlannedEntry {
  const scan::Entry* entry = nullptr;  // where its bytes are in the source
  // What the new directory says of it. In place, local_offset is the entry's own; in copy mode
  // write() sets it.
  zip::EntryRecord record;
};

struct RepairPlan {
  bool in_place = false;
  std::vector<PlannedEntry> keep;             // whole entries, in file order
  std::vector<const scan::Entry*> partials;   // cut entries whose start is salvaged (copy mode)
  std::vector<std::string> lost;              // names of entries left out
  std::vector<report::Finding> findings;      // what planning noticed (duplicates, disagreements)
  bool empty() const { return keep.empty() && partials.empty(); }
  // At most the bytes write() produces: what a spool must have room for.
  std::uint64_t size_bound() const;
};

// Entries the walk read wrongly because their local header is damaged (bit 3 or the sizes edited),
// while the old directory at the same offset is right: when the bytes decoded as the directory
// describes them give its CRC and sizes, the entry takes the directory's claims
// (claims_from_directory). Returns how many. The one step of planning that reads the source.
// In copy mode also when both decode to the verified data but the directory's method is one more
// readers have (a deflate stream is valid Deflate64 too: 8 edited to 9 decodes either way).
// In copy mode an LZMA entry's bit 1 is also set to whether its stream ends with a marker.
std::size_t rescue_from_directory(std::vector<scan::Entry>& found,
                                  const std::map<std::uint64_t, scan::Entry>& directory, io::ByteSource& src,
                                  bool in_place);

// `found`: every entry the scan met, in file order. `directory`: the old central directory's
// entries by local header offset, when one could be read (the only witness of attributes and
// comments).
RepairPlan plan(const std::vector<scan::Entry>& found, const std::map<std::uint64_t, scan::Entry>& directory,
                const PlanOptions& opt);

}  // namespace zm::repair
