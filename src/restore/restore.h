// restore: verify first, then extract only the entries verify accepted, through libarchive's
// disk writer with its security flags. No extraction code of our own.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "io/source.h"
#include "report/report.h"

namespace zm::restore {

struct RestoreRequest {
  std::string archive;
  std::string directory;
  bool overwrite = false;  // --force: existing files and symbolic links in DIR may be replaced
  bool partial = false;    // --partial: restore the verified entries even when others are damaged
  unsigned threads = 0;
  std::string display;     // the archive's name in messages, when not `archive` (<stdin>)
  // Globs that pick the entries to restore (all when empty) and globs that leave entries out.
  // The whole archive is verified either way.
  std::vector<std::string> patterns, excludes;
  // The archive's bytes when they are not simply the file `archive` (a split set's volumes).
  io::ByteSource* source = nullptr;
  // Findings about the archive that its bytes cannot show (a split set's missing or cut
  // volumes), weighed with the verification's before anything is restored.
  std::vector<report::Finding> findings;
  // The password of encrypted entries (nullptr: none was given), for verify and for libarchive's
  // reader; lent by the caller, never printed.
  const std::string* password = nullptr;
};

// bsdtar's matching of an entry name against a glob: `*` and `?` do not cross `/`, a leading
// "./" and a trailing "/" are ignored, and a pattern that names a directory takes what is under it.
bool pattern_matches(const std::string& pattern, const std::string& name);
// --exclude's matching: the same, tried at the start of every component of the name.
bool exclude_matches(const std::string& pattern, const std::string& name);

struct RestoreResult {
  report::Report report;
  enum class Outcome { restored, refused, no_space } outcome = Outcome::refused;
  std::string message;
  std::size_t restored = 0, skipped = 0;  // restored: entries really written
  std::size_t not_selected = 0;           // verified, but no PATTERN took them or --exclude left them
  std::uint64_t bytes_needed = 0, bytes_available = 0;
};

RestoreResult restore_archive(const RestoreRequest& req);

}  // namespace zm::restore
