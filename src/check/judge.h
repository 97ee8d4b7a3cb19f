// The one judge (DESIGN.md, "One judge"). Every front end — verify from a file, verify from a
// pipe, scan, and repair's proof of its output — fills scan::Entry with what each witness
// claimed (directory record, local header, data descriptor, decoding) and calls these; no
// front end compares claims on its own.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <span>
#include <vector>

#include "report/report.h"
#include "scan/catalog.h"
#include "scan/end_records.h"
#include "scan/local_scanner.h"

namespace zm::check {

// Sets e.status and appends the entry's findings: the local header against the directory, the
// data against every witness that claims its CRC and sizes, the descriptor, and the rules of the
// readers (docs/readers.md) that concern one entry. `source_size` is the archive's length.
void judge_entry(scan::Entry& e, std::uint64_t source_size, std::vector<report::Finding>& out);

// The local header a directory record points to could be this entry's (same name, method and
// bit 3): only then are the bytes behind it decoded as the entry's data.
bool local_header_is_its_own(const scan::Entry& e);

// Where a directory entry's bytes end (data and descriptor), by its directory's sizes: the same
// for a file and a pipe, so that the layout judge sees the same extents.
void settle_extent(scan::Entry& e);

// Judges every entry a local-header walk found (no directory) and puts their findings among the
// walk's own, in file order.
void judge_walk(scan::ScanResult& walk, std::uint64_t source_size);

// What the layout judge asks of the bytes between entries. A file searches them; a pipe, long
// past them, answers from what its walk met there.
struct FoundHeader {
  std::uint64_t offset;
  std::optional<std::string> name;
};
struct LayoutProbe {
  virtual ~LayoutProbe() = default;
  // Plausible local headers in [from, to), in order.
  virtual std::vector<FoundHeader> headers_in(std::uint64_t from, std::uint64_t to) = 0;
  // The first kPrefixHead bytes (or `len`, if fewer) of the file.
  virtual std::vector<std::uint8_t> prefix_head(std::uint64_t len) = 0;
};

// The one layout judge for an archive with a directory: overlaps (the zip-bomb layout), gaps,
// local headers that no directory record points to, the prefix, and bytes between the directory
// and the end records. `cd_end` is where the directory's records really ended. Sets the status of
// an entry that overlaps another to damaged.
void judge_layout(std::vector<scan::Entry>& entries, const scan::EndRecords& end, std::uint64_t cd_end,
                  LayoutProbe& probe, std::vector<report::Finding>& out);

// Bytes before the first local header that hold no header (a self-extractor stub): info, unless
// the archive's offsets do not count them and they are no ELF or PE program, which 7-Zip then
// cannot open (docs/readers.md, rule 41). `head` is the prefix's first kPrefixHead bytes or all.
inline constexpr std::size_t kPrefixHead = 4096;
report::Finding judge_prefix(std::span<const std::uint8_t> head, std::uint64_t prefix_len, bool offsets_skip_it);

// One note (readers_lack_feature, info) per method or encryption scheme that some readers lack:
// not damage, but an admin should know which readers cannot restore the archive.
void judge_features(const std::vector<scan::Entry>& entries, std::vector<report::Finding>& out);

// Names across entries: unsafe paths, symlinks, duplicates.
void judge_names(const std::vector<scan::Entry>& entries, std::vector<report::Finding>& out);

}  // namespace zm::check
