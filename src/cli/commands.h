#pragma once
#include <optional>
#include <string>
#include <vector>

#include "io/remote.h"

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
  bool strict = false;  // verify --strict: warnings make the verdict damaged
  unsigned threads = 0;
  std::string profile;             // "" or "sysreptor"
  std::optional<std::string> key;  // hex text from --key, --key-file or ZIPMEDIC_KEY; never printed
  // --key or --key-file was typed (not the environment's ZIPMEDIC_KEY): a plain ZIP then gets a
  // note, since a user may have taken --key for a ZIP password.
  bool key_typed = false;
  // The password of encrypted ZIP entries from --password, --password-file or ZIPMEDIC_PASSWORD;
  // the one copy of the run, lent to the walk, the verifiers, repair and restore. Never printed.
  std::optional<std::string> password;
  const std::string* password_lent() const { return password ? &*password : nullptr; }
  // How archives at a URL or in S3 are read: connections, CA, S3 endpoint, timeout, retries.
  io::RemoteOptions remote;
};

struct FetchOptions {
  std::string output;
  bool force = false;  // an existing OUT may be replaced
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
  std::vector<std::string> patterns;  // restore only the entries these globs select (all if none)
  std::vector<std::string> excludes;  // and leave out those these select
};

Exit run_verify(const std::string& archive, const CommonOptions& o);
Exit run_scan(const std::string& archive, const CommonOptions& o);
// The entries as the central directory lists them (or as a walk finds them when there is none);
// no entry is decoded when there is a directory.
Exit run_list(const std::string& archive, const CommonOptions& o);
// verify, scan or list over several archives: one verdict line each (or one JSON report per line)
// and a tally; the worst status is returned.
Exit run_many(const std::string& command, const std::vector<std::string>& archives, const CommonOptions& o);
Exit run_repair(const std::string& archive, const RepairOptions& r, const CommonOptions& o);
Exit run_restore(const std::string& archive, const RestoreOptions& r, const CommonOptions& o);
// Downloads URL to OUT, resuming OUT.part, verifying the entries as their bytes arrive
// (cli/fetch.cc).
Exit run_fetch(const std::string& url, const FetchOptions& f, const CommonOptions& o);

// A command line as main() parsed it.
struct Invocation {
  std::string command;                // verify, scan, list, repair or restore (never an alias)
  std::vector<std::string> archives;  // verify, scan, list: one or more
  std::string archive;                // repair, restore, fetch (its URL)
  CommonOptions common;
  RepairOptions repair;
  RestoreOptions restore;
  FetchOptions fetch;
};

// Runs the command: one of the run_ functions above, run_many for several archives.
Exit run(const Invocation& in);

}  // namespace zm::cli
