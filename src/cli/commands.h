#pragma once
#include <optional>
#include <string>

namespace zm::cli {

// Exit statuses, documented in the man page (EXIT STATUS).
enum class Exit : int {
  ok = 0,              // valid / repaired with nothing lost / restored
  damaged = 1,         // damage or danger found / repaired with losses / restore refused
  usage = 2,           // bad command line
  cannot_proceed = 3,  // cannot open, not a ZIP, empty, nothing recoverable, I/O failure, no key
};

struct CommonOptions {
  bool json = false;
  bool quiet = false;
  bool verbose = false;
  unsigned threads = 0;
  std::string profile;             // "" or "sysreptor"
  std::optional<std::string> key;  // hex text from --key, --key-file or ZIPMEDIC_KEY; never printed
};

struct RepairOptions {
  std::string output;
  bool force = false;  // an existing OUT may be replaced (never the input)
  bool in_place = false;
  bool salvage_partial = false;
  bool encrypt = false;
};

struct RestoreOptions {
  std::string directory;
  bool force = false;    // existing files (and symbolic links) in DIR may be replaced
  bool partial = false;  // restore the entries that verified even when others did not
};

Exit run_verify(const std::string& archive, const CommonOptions& o);
Exit run_scan(const std::string& archive, const CommonOptions& o);
Exit run_repair(const std::string& archive, const RepairOptions& r, const CommonOptions& o);
Exit run_restore(const std::string& archive, const RestoreOptions& r, const CommonOptions& o);

}  // namespace zm::cli
