// restore: plan from the central directory (refusing before anything is written), decode every
// entry once into a staging folder inside DIR through descriptors that never follow a link, verify
// with those results, and move into place only what verify accepted. docs/design.md, "restore".
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "io/source.h"
#include "report/report.h"
#include "restore/plan.h"

namespace zm::restore {

struct RestoreRequest {
  std::string archive;
  std::string directory;
  bool overwrite = false;  // --force: existing files and symbolic links in DIR may be replaced
  bool partial = false;    // --partial: restore the verified entries even when others are damaged
  unsigned threads = 0;
  std::string display;     // the archive's name in messages, when not `archive` (<stdin>)
  // Globs that pick the entries to restore (all when empty) and globs that leave entries out.
  // The structure is verified in full either way; the data only of the entries selected.
  std::vector<std::string> patterns, excludes;
  // The archive's bytes when they are not simply the file `archive` (a split set's volumes).
  io::ByteSource* source = nullptr;
  // Findings about the archive that its bytes cannot show (a split set's missing or cut
  // volumes), weighed with the verification's before anything is restored.
  std::vector<report::Finding> findings;
  // The password of encrypted entries (nullptr: none was given), for verify and for decoding;
  // lent by the caller, never printed.
  const std::string* password = nullptr;
  // --preserve-permissions: keep set-user-ID, set-group-ID, sticky and world-writable bits.
  bool preserve_permissions = false;
};

// pattern_matches and exclude_matches (bsdtar's matching) are in restore/plan.h.

struct RestoreResult {
  report::Report report;
  // failed: a write (or a read of the archive) failed part-way; what was staged is removed and DIR
  // is as it was before, so nothing is half restored.
  enum class Outcome { restored, refused, no_space, failed } outcome = Outcome::refused;
  std::string message;
  std::size_t planned = 0;  // entries the restore set out to write (failed: none of them were)
  std::size_t restored = 0, skipped = 0;  // restored: entries really written
  std::size_t not_selected = 0;           // verified, but no PATTERN took them or --exclude left them
  std::size_t stripped = 0;               // restored with mode bits dropped
  std::uint64_t bytes_needed = 0, bytes_available = 0;
  std::uint64_t inodes_needed = 0, inodes_available = 0;
};

RestoreResult restore_archive(const RestoreRequest& req);

}  // namespace zm::restore
