// repair: a new central directory from the entries that survive (docs/design.md; the man page, repair).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "check/walk_tally.h"
#include "crypt/sysreptor_crypt.h"
#include "io/spill.h"
#include "repair/plan.h"
#include "report/report.h"
#include "scan/catalog.h"
#include "scan/local_scanner.h"
#include "zip/writer.h"

namespace zm::repair {

struct RepairRequest {
  std::string input;
  std::string display;  // the name in messages and the report, when not `input` (<stdin>)
  // The archive's bytes when they are not simply the input file (a decrypted .zip.crypt);
  // in-place mode needs the file itself.
  io::ByteSource* source = nullptr;
  std::string output;      // copy mode: a file, "-" or a device, FIFO or descriptor name
  bool replace_output = false;  // --force: an existing output file may be replaced
  bool in_place = false;   // append mode
  bool salvage_partial = false;
  unsigned threads = 0;
  bool progress = false;
  bool profile_sysreptor = false;
  // Walked entries handed on to be kept in the temporary file at a time (scan::ScanOptions::
  // settle_every); tests make it small to prove that settling changes nothing.
  std::size_t settle_every = 16384;
  // Write the output as a SysReptor .zip.crypt with this key and a fresh nonce.
  std::optional<crypt::Key> encrypt_key;
  std::string encrypt_key_id;
  // The password of encrypted entries (nullptr: none was given): the walk decrypts them with it,
  // and the proof reads the output's copies with it. Lent by the caller, never printed.
  const std::string* password = nullptr;
  // Tests only: called with the path of the written output before it is proven, to damage it
  // and see the proof refuse it.
  std::function<void(const std::string&)> before_proof;
};

struct RepairResult {
  report::Report report;
  bool written = false;
  std::string why_not;
  std::size_t recovered_entries = 0, lost_entries = 0;
};

// Scan, plan(), write() to the output's sink, prove(), then commit or roll back, and the report.
RepairResult repair_archive(const RepairRequest& req);

// The rebuilt archive at `path` (a temporary or the appended file) judged like `verify` does,
// decrypted first when a key is given. `known`: decode results that still stand (in place, the
// bytes just scanned; in copy mode, the bytes just copied), so that those entries' data is not
// decoded again while every other check runs: each record against its local header, the
// descriptors, the layout, the end records. `copied`: in copy mode, the input and where each
// entry's data was copied from and to; the copies are then compared with the input byte for
// byte (check_copies), so that a write that went wrong cannot hide behind a known result.
// `password`: the one of the encrypted entries that were kept (nullptr: none).
struct Proof {
  report::Verdict verdict = report::Verdict::unreadable;
  std::vector<report::Finding> findings;
  std::size_t entries = 0;
  std::string copy_failure;  // how a copy differs from the input's bytes, when one does
};
struct CopiesToCheck {
  io::ByteSource& input;
  io::Spill& copies;
};
Proof prove(const std::string& path, const std::string& display, const std::optional<crypt::Key>& key,
            const codec::KnownResults* known, unsigned threads, const std::string* password,
            const CopiesToCheck* copied = nullptr);

// The scan command's report: entries, findings, and where and why the walk stopped.
// `end_found`: end records were found where they belong (the last 64 KiB); a walk that met a
// directory signature says nothing of whether the archive was finished (Go's readme.notzip has
// one and no end record).
// `tally`: what the walk handed over as it went (ScanOptions::settle), if it did.
report::Report scan_report(const scan::ScanResult& s, const std::string& path, std::uint64_t size, bool end_found,
                           std::shared_ptr<check::WalkTally> tally = nullptr);

// The record writers moved to zip/writer.h, beside the parsers; these names stay for callers.
using zip::central_record_bytes;
using zip::end_records_bytes;
using zip::EntryRecord;
using zip::local_header_bytes;

}  // namespace zm::repair
