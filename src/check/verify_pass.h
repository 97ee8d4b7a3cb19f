// What verify from a file and verify from a pipe share once the directory is there: one batch
// loop over its records and one ending for a walk settled as it went, so that the two front ends
// judge a million entries the same way in the same memory (the man page, MEMORY). Internal to check/.
#pragma once
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "check/judge.h"
#include "check/verifier.h"
#include "check/walk_tally.h"
#include "scan/end_records.h"
#include "scan/local_scanner.h"

namespace zm::check {

using FillWitnesses = std::function<void(scan::Entry&)>;

struct DirectoryPass {
  // Where the records are read back from for names and report rows, and the shift to add to
  // their offsets there.
  io::ByteSource& records;
  std::uint64_t shift = 0;
  const scan::EndRecords& end;
  std::size_t expected = 0;  // records the directory holds, at most (for reserving)
  // The next batch of records and where each starts; false once the directory is read.
  std::function<bool(std::vector<scan::Entry>& out, std::vector<std::uint64_t>& at)> next;
  std::uint64_t source_size = 0;
  // Made once for each thread that examines entries: fills one entry's witnesses besides the
  // record (a file reads its local header and decodes its data; a pipe reads what its walk met),
  // which the one judge then weighs.
  std::function<FillWitnesses()> witnesses;
  // After the last batch, before the layout judge (the directory's own findings go in then).
  std::function<void()> after_batches;
  LayoutProbe& probe;
  const char* source = "central_directory";
  // Kept alive with the report's rows, which read `records` when the report is written.
  std::shared_ptr<const void> owner = nullptr;
};

// Judges the directory a batch at a time, starting with `batch` (already read) and its record
// offsets: only each entry's extent, status and record offset are kept unless
// opt.keep_entries. Ends the report (names, features, rows, verdict, stats).
void judge_directory(Verification& v, DirectoryPass& pass, std::vector<scan::Entry>& batch,
                     std::vector<std::uint64_t>& records, const VerifyOptions& opt, unsigned threads,
                     std::chrono::steady_clock::time_point t0);

// Ends the report of a walk whose entries `tally` judged as it settled them (no directory):
// names, features, rows, verdict, stats. The caller has added the walk's findings.
void finish_walk_tally(Verification& v, scan::ScanResult& scan, const std::shared_ptr<WalkTally>& tally,
                       const char* source, unsigned threads, std::chrono::steady_clock::time_point t0);

// Ends the report of a walk made for want of a readable directory, for a file and a pipe alike:
// the missing end record (or the directory that could not be read when the walk found no entry
// either), the walk's findings, then names, features, rows, verdict and stats. `tally` judged the
// entries the walk settled, if it settled any; the caller has judged the walk (judge_walk).
void finish_walk(Verification& v, scan::ScanResult& scan, const std::optional<scan::EndRecords>& end,
                 std::uint64_t source_size, const std::shared_ptr<WalkTally>& tally, const char* source, bool rows,
                 unsigned threads, std::chrono::steady_clock::time_point t0);

// A selection that could not spare any entry's data (a pipe is read whole, and a walk decodes
// every entry to find where it ends): the report says every entry was checked, and which
// patterns matched none.
void note_checked_in_full(Verification& v, const EntrySelection& select);

}  // namespace zm::check
