// restore: verify first, then extract only the entries verify accepted, through libarchive's
// disk writer with its security flags. No extraction code of our own.
#pragma once
#include <cstdint>
#include <string>

#include "report/report.h"

namespace zm::restore {

struct RestoreRequest {
  std::string archive;
  std::string directory;
  bool overwrite = false;  // --force: existing files and symbolic links in DIR may be replaced
  bool partial = false;    // --partial: restore the verified entries even when others are damaged
  unsigned threads = 0;
  std::string display;     // the archive's name in messages, when not `archive` (<stdin>)
};

struct RestoreResult {
  report::Report report;
  enum class Outcome { restored, refused, no_space } outcome = Outcome::refused;
  std::string message;
  std::size_t restored = 0, skipped = 0;  // restored: entries really written
  std::uint64_t bytes_needed = 0, bytes_available = 0;
};

RestoreResult restore_archive(const RestoreRequest& req);

}  // namespace zm::restore
