#pragma once
#include <ctime>
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

// How the report is shown on standard output when it is not JSON.
enum class Format {
  text,    // the text report (one verdict line per archive for several)
  github,  // GitHub Actions workflow commands (::error, ::warning) and a verdict line per archive
};

struct CommonOptions {
  bool json = false;
  Format format = Format::text;
  // --report FILE: the JSON report (as --json prints it) written to FILE instead; --junit FILE: a
  // JUnit XML report. Each is written beside FILE and renamed into place when the run ends.
  std::string report_path, junit_path;
  bool sha256 = false;  // verify, scan, list --sha256: the archive's SHA-256 in the report
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
  // verify ARCHIVE PATTERN..., --include, --exclude: only these entries' data is checked (all
  // when both are empty), with restore's glob rules.
  std::vector<std::string> patterns, excludes;
  // verify --sample: a share of the entries (sample_share < 1), or about sample_bytes of the
  // archive's bytes (0: not asked), drawn with `seed`.
  double sample_share = 1;
  std::uint64_t sample_bytes = 0, seed = 0;
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

struct CatOptions {
  bool salvage = false;  // write a damaged entry's bytes too, and go on
};

struct RestoreOptions {
  std::string directory;
  bool force = false;    // existing files (and symbolic links) in DIR may be replaced
  bool partial = false;  // restore the entries that verified even when others did not
  bool preserve_permissions = false;  // keep setuid, setgid, sticky and world-writable bits
  std::vector<std::string> patterns;  // restore only the entries these globs select (all if none)
  std::vector<std::string> excludes;  // and leave out those these select
};

// A time as RFC 3339 in UTC to the second (the reports' `started` and an archive's mtime).
std::string rfc3339(std::time_t t);
std::string rfc3339_now();

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
  CatOptions cat;
  std::string sample;                  // verify --sample as given
  std::string seed;                    // verify --seed as given
  FetchOptions fetch;
};

// Runs the command: verify, scan or list over one archive or several (one verdict line each, or
// one JSON line each and a summary, and a tally; the worst status is returned), repair or
// restore; then commits the --report and --junit files, whatever the exit status.
Exit run(const Invocation& in);

}  // namespace zm::cli
