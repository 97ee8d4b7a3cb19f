// zipmedic cat: the selected entries' bytes to standard output, each checked as verify checks
// it before its last bytes go out (unzip -p, with the check).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "check/select.h"
#include "io/source.h"

namespace zm::restore {

struct CatRequest {
  check::EntrySelection select;
  // Write a damaged entry's bytes too, and go on to the next (the exit status still says so).
  bool salvage = false;
  const std::string* password = nullptr;  // lent, never printed
};

struct CatResult {
  std::size_t written = 0;  // entries written whole and checked
  std::size_t damaged = 0;  // entries whose bytes were not the archive's claims
  // The first entry that failed its check, as a message naming it and its offset.
  std::optional<std::string> failure;
  std::vector<std::string> unmatched;  // patterns that selected no entry
};

// Reads the archive's central directory (one that has none is refused: io::Failure, cannot_read),
// and for each entry the selection takes, in directory order, decodes it to `out_fd`, holding
// back the last piece decoded until the CRC and sizes are known to match: a damaged entry's last
// bytes never go out, and without `salvage` nothing after it does either. Throws io::Failure (cannot_write) when
// `out_fd` cannot be written (a closed pipe).
CatResult cat_entries(io::ByteSource& src, const std::string& display, const CatRequest& req, int out_fd);

}  // namespace zm::restore
