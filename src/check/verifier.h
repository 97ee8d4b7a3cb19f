// verify: every structural rule, every entry decoded, every name judged.
#pragma once
#include <chrono>
#include <functional>
#include <span>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "io/source.h"
#include "io/worker_pool.h"
#include "report/report.h"
#include "check/judge.h"
#include "check/select.h"
#include "scan/catalog.h"

namespace zm::check {

struct VerifyOptions {
  unsigned threads = 0;  // 0: one per core
  bool progress = false;
  // Decode results this process already computed over the very same bytes, by local header
  // offset (an in-place repair re-verifying the file it just scanned): those entries are not
  // decoded again, but every other check runs as usual.
  const codec::KnownResults* known = nullptr;
  // False when only the verdict and findings are wanted (a repair proving its output): no report
  // row per entry is built.
  bool rows = true;
  // The password of encrypted entries (nullptr: none was given), lent by the caller; read-only,
  // so decode threads share it without a lock. Never printed.
  const std::string* password = nullptr;
  // False when the caller needs only the report (the verify command): the entries are judged a
  // batch at a time (or settled as the walk goes, without a directory) and the report's rows are
  // read back from the directory or the local headers when it is written, so that memory does
  // not grow with the names of a million entries. `entries` is then empty. From a pipe, the walk
  // settles its entries into a spill (see spill_in_memory) and the rows are read back from there.
  bool keep_entries = true;
  // Directory records judged at a time, or walked entries settled at a time when there is no
  // directory: small enough to hold (a few MiB of entries), large enough to keep every decode
  // thread busy between batches. Tests make it small.
  std::size_t batch = 16384;
  // verify -: bytes of what the walk saw that are held in memory before they go to a temporary
  // file (tests make it 0).
  std::size_t spill_in_memory = 4u << 20;
  // Bytes of entry data handed to the decode workers and not yet done with, at most: the runs of
  // a directory's batch, or the walk's entries (ScanOptions::max_in_flight).
  std::uint64_t max_in_flight = io::kEntryBytesInFlight;
  // verify PATTERN, --exclude: only the data of the entries this selects is decoded (from a
  // file's readable directory; a walk decodes every entry to find where it ends); everything
  // else is judged in full. nullptr: every entry.
  const EntrySelection* select = nullptr;
};

// The verified catalog (entries in directory order) is returned alongside the report so that
// repair and restore can act on it without a second pass.
struct Verification {
  report::Report report;
  std::vector<scan::Entry> entries;
  bool from_directory = false;
};

Verification verify_archive(io::ByteSource& src, const std::string& display_path, const VerifyOptions& opt);
// The same checks on an archive read once from a pipe (`verify -`).
Verification verify_stream(io::StreamSource& src, const std::string& display_path, const VerifyOptions& opt);


// The last step of both verifiers: name checks, entry rows, verdict and stats.
void finish_verification(Verification& v, std::vector<scan::Entry> entries, const char* source, unsigned threads,
                         std::chrono::steady_clock::time_point t0, bool rows = true);

// The workers a command starts without -t: one per processor the process may use
// (io::usable_cpus: its affinity and its cgroup's CPU quota).
unsigned default_threads();

// Where an entry's decoded bytes go as they come (zipmedic cat).
using DataSink = std::function<void(std::span<const std::uint8_t>)>;

// One entry of a directory (`e` as read from its record) examined as verify examines it: its
// local header, its data decoded (through `sink`), its descriptor, and the judge's findings on
// it, appended to `out`; e.status says whether its bytes are the ones the archive claims.
void examine_entry(io::ByteSource& src, codec::Workspace& ws, scan::Entry& e, const std::string* password,
                   const DataSink& sink, std::vector<report::Finding>& out, bool libarchive_walks);

}  // namespace zm::check
