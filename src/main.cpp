// Options in, command out, exit status back: main() parses with CLI11 and hands the command to
// cli::run. All logic lives below cli/.
#include <CLI/CLI.hpp>

#include <malloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iterator>
#include <random>
#include <string_view>

#include <fmt/format.h>

#include "cli/commands.h"
#include "io/cleanup.h"
#include "io/output.h"
#include "cli/version.h"
#include "report/progress.h"
#include "report/report.h"

namespace {

using zm::cli::Exit;

// The command words and their aliases: `t` and `test` as unzip -t and 7z t spell it, `l` as
// 7z l does.
struct Command {
  const char* name;
  std::vector<std::string> aliases;
};
const std::vector<Command> kCommands = {
    {"verify", {"t", "test"}}, {"scan", {}}, {"list", {"l"}}, {"repair", {}}, {"restore", {}}, {"cat", {}}, {"fetch", {}}};

// Options that every command takes, before or after the command word. Adding one is one line in
// main()'s table: its CLI11 names, whether it takes a value, and how it is registered.
struct Global {
  std::string names;  // "-t,--threads"
  bool takes_value;
  std::function<CLI::Option*(CLI::App*, const std::string&)> add;
};

std::vector<std::string> split_names(const std::string& names) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i <= names.size()) {
    std::size_t j = names.find(',', i);
    if (j == std::string::npos) j = names.size();
    out.push_back(names.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

// How many arguments `arg` (and what follows it) spans if it is a global option: 0 if it is not
// one, 2 when its value is the next argument.
int global_span(const std::vector<Global>& globals, std::string_view arg) {
  if (arg.size() < 2 || arg[0] != '-') return 0;
  for (const auto& g : globals)
    for (const auto& n : split_names(g.names)) {
      if (arg == n) return g.takes_value ? 2 : 1;
      if (g.takes_value && n.size() > 2 && arg.substr(0, n.size() + 1) == n + "=") return 1;
      if (g.takes_value && n.size() == 2 && arg.substr(0, 2) == n) return 1;  // -t4
    }
  // Grouped short flags (-qv): each letter a global flag without a value.
  if (arg[1] == '-') return 0;
  for (char c : arg.substr(1)) {
    bool known = false;
    for (const auto& g : globals)
      for (const auto& n : split_names(g.names)) known |= !g.takes_value && n.size() == 2 && n[1] == c;
    if (!known) return 0;
  }
  return 1;
}

// Optimal string alignment distance: a swapped pair of letters counts one, as people mistype.
std::size_t distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i)
    for (std::size_t j = 1; j <= b.size(); ++j) {
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1])});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[a.size()][b.size()];
}

const Command* find_command(std::string_view word) {
  for (const auto& c : kCommands) {
    if (word == c.name) return &c;
    for (const auto& a : c.aliases)
      if (word == a) return &c;
  }
  return nullptr;
}

std::string command_names() {
  std::string s;
  for (const auto& c : kCommands) s += (s.empty() ? "" : ", ") + std::string(c.name);
  return s;
}

Exit unknown_command(std::string_view word) {
  const Command* best = nullptr;
  std::size_t best_d = 3;  // two edits at most, or the guess is noise
  for (const auto& c : kCommands)
    if (std::size_t d = distance(word, c.name); d < best_d) best = &c, best_d = d;
  if (best)
    fmt::print(stderr, "zipmedic: unknown command '{}'; did you mean '{}'?\n", word, best->name);
  else
    fmt::print(stderr, "zipmedic: unknown command '{}'; the commands are {} (zipmedic --help)\n", word,
               command_names());
  return Exit::usage;
}

const char* kFooter =
    "ARCHIVE may be - to read standard input, an http:// or https:// URL, or s3://BUCKET/KEY.\n"
    "\n"
    "Exit status:\n"
    "  0: every archive verified, was repaired with nothing lost, or was restored\n"
    "  1: damage or danger found, entries lost in a repair, or a restore refused\n"
    "  2: a bad command line; nothing was read\n"
    "  3: cannot proceed: cannot open, not a ZIP, empty, nothing recoverable, an I/O error, no key\n"
    "\n"
    "Examples:\n"
    "  zipmedic verify backup.zip nightly-*.zip\n"
    "  zipmedic verify https://backups.example.org/nightly.zip s3://backups/nightly.zip\n"
    "  zipmedic fetch https://backups.example.org/nightly.zip -o nightly.zip\n"
    "  zipmedic repair cut.zip -o fixed.zip && zipmedic restore fixed.zip -C /srv/restore 'reports/*'\n";


// Given as text and settled after parsing: read from a file or the environment, or checked
// against iconv. The secrets among them are never echoed.
struct Unsettled {
  // Encrypted SysReptor backups (.zip.crypt): the key as 64 hex digits, or the file that holds it.
  std::string key_hex, key_file;
  // Encrypted ZIP entries (ZipCrypto, WinZip AES): the file whose first line is the password
  // (--password itself goes straight to CommonOptions::password).
  std::string password_file;
  // The code page of legacy names (bit 11 clear), for display only: the bytes cannot tell CP932
  // or KOI8-R from CP437, so it is never guessed (unzip -O asks the same of its user).
  std::string name_charset;
  std::string format = "text";  // --format: text or github
  std::string color = "auto";   // --color: auto, always or never
};

std::vector<Global> global_options(zm::cli::CommonOptions& common, Unsettled& raw) {
  return {
      {"--json", false, [&](CLI::App* s, const std::string& n) {
         return s->add_flag(n, common.json, "Print the JSON report on stdout (schema zipmedic.report/3): one line per "
                                            "archive, and a summary line after several");
       }},
      {"--report", true, [&](CLI::App* s, const std::string& n) {
         return s->add_option(n, common.report_path, "Write the JSON report (as --json prints it) to FILE, replaced "
                                                     "whole when the run ends, whatever the exit status; the text "
                                                     "still goes to stdout")
             ->type_name("FILE");
       }},
      {"--junit", true, [&](CLI::App* s, const std::string& n) {
         return s->add_option(n, common.junit_path, "Write a JUnit XML report to FILE: one test case per archive, a "
                                                    "failure per error finding")
             ->type_name("FILE");
       }},
      {"--format", true, [&](CLI::App* s, const std::string& n) {
         return s->add_option(n, raw.format, "How stdout shows the report: text, or github (::error and ::warning "
                                             "lines GitHub Actions shows on the run page, and a verdict line)")
             ->check(CLI::IsMember({"text", "github"}).description(""))
             ->type_name("FORMAT");
       }},
      {"--color", true, [&](CLI::App* s, const std::string& n) {
         return s->add_option(n, raw.color, "Colour the text: auto (a terminal, unless NO_COLOR; FORCE_COLOR forces "
                                            "it), always or never")
             ->check(CLI::IsMember({"auto", "always", "never"}).description(""))
             ->type_name("WHEN");
       }},
      {"-q,--quiet", false, [&](CLI::App* s, const std::string& n) {
         return s->add_flag(n, common.quiet, "No progress line and no text report; only the exit status and errors");
       }},
      {"-v,--verbose", false, [&](CLI::App* s, const std::string& n) {
         return s->add_flag(n, common.verbose, "List every entry in the text report, however many");
       }},
      {"-t,--threads", true, [&](CLI::App* s, const std::string& n) {
         return s->add_option(n, common.threads, "Entries decoded in parallel, 1 to 256 (default: one per core)")
             ->check(CLI::Range(1, 256).description(""))
             ->type_name("N");
       }},
      {"--key", true, [&](CLI::App* s, const std::string& n) {
         return s->add_option(n, raw.key_hex, "Key of an encrypted SysReptor backup (.zip.crypt), 64 hex digits (or "
                                              "ZIPMEDIC_KEY); not a ZIP password")
             ->type_name("HEX");
       }},
      {"--key-file", true, [&](CLI::App* s, const std::string& n) {
         return s->add_option(n, raw.key_file, "Read that key from a file instead")->type_name("FILE");
       }},
      {"--password", true, [&](CLI::App* s, const std::string& n) {
         return s->add_option(n, common.password, "Password of encrypted ZIP entries, ZipCrypto or WinZip AES (or "
                                                  "ZIPMEDIC_PASSWORD)")
             ->type_name("TEXT");
       }},
      {"--password-file", true, [&](CLI::App* s, const std::string& n) {
         return s->add_option(n, raw.password_file, "Read that password from the first line of a file instead")
             ->type_name("FILE");
       }},
      {"--name-charset", true, [&](CLI::App* s, const std::string& n) {
         return s->add_option(n, raw.name_charset, "Show names that lack the UTF-8 flag and are not UTF-8 in this "
                                                   "code page, as iconv names it: CP932, CP866, KOI8-R ... (default "
                                                   "CP437)")
             ->type_name("CHARSET");
       }},
      {"--connections", true, [&](CLI::App* s, const std::string& n) {
         return s->add_option(n, common.remote.connections, "Ranged reads in flight at once for an archive at a "
                                                            "URL or in S3, 1 to 64 (default 4)")
             ->check(CLI::Range(1, 64).description(""))
             ->type_name("N");
       }},
      {"--cacert", true, [&](CLI::App* s, const std::string& n) {
         return s->add_option(n, common.remote.cacert, "Trust this CA certificate (PEM) besides the system's for "
                                                       "https")
             ->type_name("FILE");
       }},
      {"--s3-endpoint", true, [&](CLI::App* s, const std::string& n) {
         return s->add_option(n, common.remote.s3_endpoint, "URL of an S3-compatible service for s3:// archives "
                                                            "(or AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL)")
             ->type_name("URL");
       }},
      {"--s3-path-style", false, [&](CLI::App* s, const std::string& n) {
         return s->add_flag(n, common.remote.s3_path_style, "Address s3:// objects as ENDPOINT/BUCKET/KEY, not "
                                                            "BUCKET.ENDPOINT/KEY");
       }},
      {"--timeout", true, [&](CLI::App* s, const std::string& n) {
         return s->add_option(n, common.remote.timeout, "Seconds a connection may go without a byte before it is "
                                                        "dropped and resumed (default 30)")
             ->check(CLI::Range(1, 3600).description(""))
             ->type_name("SECONDS");
       }},
      {"--retries", true, [&](CLI::App* s, const std::string& n) {
         return s->add_option(n, common.remote.retries, "Attempts in a row that bring no byte before a download "
                                                        "gives up (default 6)")
             ->check(CLI::Range(0, 100).description(""))
             ->type_name("N");
       }},
  };
}

// One command's subcommand: its word, aliases and help line. Its options follow, then the
// options every command takes (add_globals).
CLI::App* add_command(CLI::App& app, const char* name, const char* help) {
  auto* sub = app.add_subcommand(name, help);
  for (const auto& a : find_command(name)->aliases) sub->alias(a);
  return sub;
}

void add_globals(CLI::App* sub, const std::vector<Global>& globals) {
  for (const auto& g : globals) g.add(sub, g.names);
  sub->footer(kFooter);
}

void add_sha256(CLI::App* sub, zm::cli::CommonOptions& common) {
  sub->add_flag("--sha256", common.sha256,
                "Put the archive's SHA-256 in the JSON report (archive.sha256), hashed as the bytes are read");
}

void add_profile(CLI::App* sub, zm::cli::CommonOptions& common) {
  sub->add_option("--profile", common.profile, "Extra checks for one kind of backup: sysreptor")
      ->check(CLI::IsMember({"sysreptor"}).description(""))
      ->type_name("NAME");
}

void add_verify(CLI::App& app, const std::vector<Global>& globals, zm::cli::Invocation& inv) {
  auto* verify = add_command(app, "verify", "Decode every entry, check CRC-32, sizes, structure and names");
  verify->add_option("ARCHIVE", inv.archives,
                     "The ZIP files to check, or - to read one from standard input; or one archive and PATTERNs "
                     "(names that are no file): only the data of the entries they match is decoded")
      ->required()
      ->type_name("FILE|PATTERN");
  verify->add_option("--include", inv.common.patterns,
                     "Decode only the entries this glob matches, as restore matches them (repeatable; the structure "
                     "is still checked in full)")
      ->type_name("PATTERN");
  verify->add_option("--exclude", inv.common.excludes, "Do not decode the entries this glob matches (repeatable)")
      ->type_name("PATTERN");
  verify->add_option("--sample", inv.sample,
                     "Decode a random share of the entries (10%) or about that many bytes of them (2GiB, 500MB); "
                     "the structure is still checked in full")
      ->type_name("SHARE");
  verify->add_option("--seed", inv.seed, "The seed of --sample's draw: the same seed draws the same entries (default: "
                                         "a random one, reported)")
      ->type_name("N");
  add_globals(verify, globals);
  add_profile(verify, inv.common);
  add_sha256(verify, inv.common);
  verify->add_flag("--strict", inv.common.strict,
                   "Warnings fail too (exit 1): a reader that complains, or names an entry otherwise, fails the check");
}

void add_scan(CLI::App& app, const std::vector<Global>& globals, zm::cli::Invocation& inv) {
  auto* scan = add_command(app, "scan", "Walk the local headers front to back, trusting no directory");
  scan->add_option("ARCHIVE", inv.archives,
                   "The ZIP files to walk, or - to read one from standard input; or one archive and PATTERNs (names "
                   "that are no file): the others are walked past by their sizes, undecoded, where a record confirms "
                   "them (an entry with a data descriptor is decoded anyway)")
      ->required()
      ->type_name("FILE|PATTERN");
  scan->add_option("--include", inv.common.patterns,
                   "Decode only the entries this glob matches, as restore matches them (repeatable; every local "
                   "header is still walked, and an entry with a data descriptor decoded to find its end)")
      ->type_name("PATTERN");
  scan->add_option("--exclude", inv.common.excludes,
                   "Do not decode the entries this glob matches, unless the walk must to find their end (repeatable)")
      ->type_name("PATTERN");
  add_globals(scan, globals);
  add_profile(scan, inv.common);
  add_sha256(scan, inv.common);
}

void add_list(CLI::App& app, const std::vector<Global>& globals, zm::cli::Invocation& inv) {
  auto* list = add_command(app, "list", "List the entries from the central directory, decoding nothing");
  list->add_option("ARCHIVE", inv.archives, "The ZIP files to list, or - to read one from standard input")->required()->type_name("FILE");
  add_globals(list, globals);
  add_sha256(list, inv.common);
}

void add_repair(CLI::App& app, const std::vector<Global>& globals, zm::cli::Invocation& inv) {
  auto& opt = inv.repair;
  auto* repair = add_command(app, "repair", "Rebuild the central directory from the entries that survive");
  repair->add_option("ARCHIVE", inv.archive, "The damaged ZIP file, or - to read it from standard input")->required()->type_name("FILE");
  auto* out = repair->add_option("-o,--output", opt.output,
                                 "Write the repaired archive to this new file (- for standard output; a device or "
                                 "FIFO is written as it is)")
                  ->type_name("OUT");
  repair->add_flag("--force", opt.force, "Replace OUT if it exists (never the input)");
  auto* inplace = repair->add_flag("--in-place", opt.in_place,
                                   "Append a new central directory to ARCHIVE itself; no existing byte changes (not for "
                                   "a split archive: -o joins it)");
  out->excludes(inplace);
  repair->add_flag("--salvage-partial", opt.salvage_partial,
                   "Keep the intact start of a cut or damaged entry as NAME.partial (copy mode only)");
  repair->add_flag("--encrypt", opt.encrypt,
                   "Write OUT as an encrypted SysReptor backup with the same key and a fresh nonce");
  add_globals(repair, globals);
  add_profile(repair, inv.common);
}

void add_restore(CLI::App& app, const std::vector<Global>& globals, zm::cli::Invocation& inv) {
  auto& opt = inv.restore;
  auto* restore = add_command(app, "restore", "Verify, then extract only what verified (refuses a damaged archive)");
  restore->add_option("ARCHIVE", inv.archive, "The ZIP file to restore, or - to read it from standard input")->required()->type_name("FILE");
  restore->add_option("PATTERN", opt.patterns,
                      "Restore only the entries these globs match, as bsdtar matches them (* does not cross /; a "
                      "directory's name takes what is under it)")
      ->type_name("GLOB");
  restore->add_option("-C,--directory", opt.directory, "Restore into this directory (created if missing)")
      ->type_name("DIR")
      ->required();
  restore->add_option("--exclude", opt.excludes, "Leave out the entries this glob matches (repeatable)")
      ->type_name("PATTERN")
      ->take_last()
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  restore->add_flag("--partial", opt.partial,
                    "Restore the entries that verified even when others did not; report the rest");
  restore->add_flag("--force", opt.force,
                    "Replace files and symbolic links already in DIR (by default nothing there is overwritten); "
                    "directories already there are never removed, nor their mode or owner changed");
  restore->add_flag("--preserve-permissions", opt.preserve_permissions,
                    "Keep set-user-ID, set-group-ID, sticky and world-writable bits (dropped by default)");
  add_globals(restore, globals);
}

void add_fetch(CLI::App& app, const std::vector<Global>& globals, zm::cli::Invocation& inv) {
  auto& opt = inv.fetch;
  auto* fetch = add_command(app, "fetch", "Download an archive, resuming OUT.part, verifying entries as they arrive");
  fetch->add_option("URL", inv.archive, "http://, https:// or s3://BUCKET/KEY")->required()->type_name("URL");
  fetch->add_option("-o,--output", opt.output, "The file to write (OUT.part holds it until it is whole)")
      ->required()
      ->type_name("OUT");
  fetch->add_flag("--force", opt.force, "Replace OUT if it exists");
  add_globals(fetch, globals);
  fetch->add_flag("--strict", inv.common.strict, "Warnings fail too (exit 1), as verify --strict");
}

// The command word is found first, so that global options may stand before it and a mistyped
// command is named as such (CLI11 would only say that a subcommand is required). The arguments
// come back in the order CLI11 takes them: the word, then the global options, then the rest;
// `word` is the command's, or empty for zipmedic --help and --version.
std::optional<Exit> arrange_arguments(int argc, char** argv, const std::vector<Global>& globals,
                                      std::vector<std::string>& args, std::string& word) {
  std::vector<std::string> before, after;
  bool help = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (!word.empty()) {
      after.emplace_back(a);
      continue;
    }
    if (a == "--help" || a == "-h" || a == "--version") {
      help = true;
      before.emplace_back(a);
      continue;
    }
    if (a.size() > 1 && a[0] == '-') {
      int span = global_span(globals, a);
      before.emplace_back(a);
      if (span == 2 && i + 1 < argc) before.emplace_back(argv[++i]);
      continue;
    }
    word = std::string(a);
  }
  if (word == "help") {
    // `zipmedic help` and `zipmedic help verify`, as git and 7z answer them.
    word = after.empty() ? "" : after.front();
    after = {"--help"};
    help = true;
    if (word.empty()) before = {"--help"};
  }
  if (word.empty() && !help) {
    fmt::print(stderr, "zipmedic: a command is required: {} (zipmedic --help)\n", command_names());
    return Exit::usage;
  }
  if (!word.empty() && !find_command(word)) return unknown_command(word);
  args = {"zipmedic"};
  if (!word.empty()) args.push_back(word);
  args.insert(args.end(), before.begin(), before.end());
  args.insert(args.end(), after.begin(), after.end());
  return std::nullopt;
}

// The first argument that looks like an option the command does not have, with the nearest of its
// options' names (two edits at most): CLI11 only says that the argument was not expected.
std::optional<std::string> misspelt_option(CLI::App& app, const std::vector<std::string>& args,
                                           const std::string& word) {
  const Command* c = find_command(word);
  CLI::App* sub = c ? app.get_subcommand(c->name) : nullptr;
  if (!sub) return std::nullopt;
  std::vector<std::string> names;
  for (const CLI::Option* o : sub->get_options()) {
    for (const auto& l : o->get_lnames()) names.push_back("--" + l);
    for (const auto& n : o->get_snames()) names.push_back("-" + n);
  }
  for (const auto& a : args) {
    if (a.size() < 3 || a.rfind("--", 0) != 0) continue;
    std::string given = a.substr(0, a.find('='));
    if (std::find(names.begin(), names.end(), given) != names.end()) continue;
    std::string best;
    std::size_t best_d = 3;
    for (const auto& n : names)
      if (std::size_t d = distance(given, n); d < best_d) best = n, best_d = d;
    if (best.empty()) return fmt::format("unknown option '{}'", given);
    return fmt::format("unknown option '{}'; did you mean '{}'?", given, best);
  }
  return std::nullopt;
}

// CLI11's parse; --help and --version end the run here, and so does a bad command line, with
// CLI11's own words (or ours for a misspelt option), the prefix every message of ours has and
// where help is.
std::optional<Exit> parse(CLI::App& app, const std::vector<std::string>& args, const std::string& word) {
  std::vector<const char*> cargs;
  for (const auto& s : args) cargs.push_back(s.c_str());
  try {
    app.parse(int(cargs.size()), cargs.data());
  } catch (const CLI::Success& e) {
    app.exit(e);  // --help or --version, printed: exit 0
    return Exit::ok;
  } catch (const CLI::ParseError& e) {
    const Command* c = find_command(word);
    auto misspelt = dynamic_cast<const CLI::ExtrasError*>(&e) ? misspelt_option(app, args, word) : std::nullopt;
    fmt::print(stderr, "zipmedic: {}{}\nzipmedic: {} --help lists the options\n", c ? std::string(c->name) + ": " : "",
               misspelt ? *misspelt : std::string(e.what()), c ? "zipmedic " + std::string(c->name) : "zipmedic");
    return Exit::usage;
  }
  return std::nullopt;
}

// A usage error (exit 2): the command line asks for something that cannot be done; nothing has
// been read.
Exit usage(const std::string& message) {
  std::fprintf(stderr, "zipmedic: %s\n", message.c_str());
  return Exit::usage;
}

// The key from --key, --key-file or ZIPMEDIC_KEY, in that order; --key-file that cannot be
// read is a usage error.
std::optional<Exit> settle_key(const Unsettled& raw, zm::cli::CommonOptions& common) {
  if (!raw.key_hex.empty()) {
    common.key = raw.key_hex;
    common.key_typed = true;
  } else if (!raw.key_file.empty()) {
    std::ifstream f(raw.key_file);
    if (!f) return usage(raw.key_file + ": cannot read the key file");
    common.key = std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
    common.key_typed = true;
  } else if (const char* env = std::getenv("ZIPMEDIC_KEY"); env && *env) {
    common.key = env;
  }
  return std::nullopt;
}

// The password from --password, else the first line of --password-file (without a Windows
// line end), else ZIPMEDIC_PASSWORD.
std::optional<Exit> settle_password(const Unsettled& raw, zm::cli::CommonOptions& common) {
  auto& password = common.password;
  if (password && !raw.password_file.empty())
    return usage("--password and --password-file both give the password; give one of them");
  if (!raw.password_file.empty()) {
    std::ifstream f(raw.password_file, std::ios::binary);
    std::string line;
    if (!f || !std::getline(f, line)) return usage(raw.password_file + ": cannot read the password file");
    if (!line.empty() && line.back() == '\r') line.pop_back();
    password = line;
  } else if (const char* env = std::getenv("ZIPMEDIC_PASSWORD"); !password && env) {
    password = env;
  }
  return std::nullopt;
}

void add_cat(CLI::App& app, const std::vector<Global>& globals, zm::cli::Invocation& inv) {
  auto* cat = add_command(app, "cat", "Write the entries the patterns match to standard output, each checked as it goes");
  cat->add_option("ARCHIVE", inv.archive, "The ZIP file, or - to read it from standard input")->required()->type_name("FILE");
  cat->add_option("PATTERN", inv.common.patterns,
                  "The entries to write, in the directory's order: globs as restore matches them")
      ->required()
      ->type_name("GLOB");
  cat->add_option("--exclude", inv.common.excludes, "Leave out the entries this glob matches (repeatable)")
      ->type_name("PATTERN");
  cat->add_flag("--salvage", inv.cat.salvage,
                "Write a damaged entry's bytes too, as they decode, and go on (the exit status is still 1)");
  add_globals(cat, globals);
}

// verify (or scan) ARCHIVE PATTERN...: when no word after the first names a file, they are entry patterns
// (unzip -t ARCHIVE NAME... reads them so); when any does, they are all archives, as before (a
// missing one is then reported as such). --include takes a pattern that is also a file's name.
std::optional<Exit> split_patterns(zm::cli::Invocation& inv) {
  auto& words = inv.archives;
  if ((inv.command != "verify" && inv.command != "scan") || words.size() < 2) return std::nullopt;
  std::vector<std::string> files, patterns;
  for (std::size_t i = 1; i < words.size(); ++i) {
    struct stat st {};
    (words[i] == "-" || ::stat(words[i].c_str(), &st) == 0 ? files : patterns).push_back(words[i]);
  }
  if (patterns.empty() || !files.empty()) return std::nullopt;
  words.resize(1);
  inv.common.patterns.insert(inv.common.patterns.begin(), patterns.begin(), patterns.end());
  return std::nullopt;
}

// verify --sample 10% | 2GiB | 500MB | 1000000: a share of the entries, or a byte budget.
std::optional<Exit> settle_sample(zm::cli::Invocation& inv) {
  if (inv.sample.empty()) {
    if (!inv.seed.empty()) return usage("verify: --seed goes with --sample");
    return std::nullopt;
  }
  std::uint64_t seed = std::random_device{}();
  if (!inv.seed.empty()) {
    std::size_t used = 0;
    try {
      seed = std::stoull(inv.seed, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != inv.seed.size() || inv.seed[0] == '-') return usage("verify: --seed " + inv.seed + ": give a whole number");
  }
  static const std::vector<std::pair<std::string, double>> units = {
      {"%", 0}, {"KiB", 1024.0}, {"MiB", 1048576.0}, {"GiB", 1073741824.0}, {"TiB", 1099511627776.0},
      {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1}, {"", 1}};
  std::size_t used = 0;
  double n = -1;
  try {
    n = std::stod(inv.sample, &used);
  } catch (const std::exception&) {
  }
  const std::string unit = used ? inv.sample.substr(used) : "?";
  auto it = std::find_if(units.begin(), units.end(), [&](const auto& u) { return u.first == unit; });
  if (n < 0 || it == units.end() || (unit == "%" && n > 100))
    return usage("verify: --sample " + inv.sample + ": give a share (10%) or a size (2GiB, 500MB)");
  if (unit == "%")
    inv.common.sample_share = n / 100;
  else
    inv.common.sample_bytes = std::max<std::uint64_t>(1, std::uint64_t(n * it->second));
  inv.common.seed = seed;
  return std::nullopt;
}

// The checks that need the whole command line, the secrets read, and the process-wide settings
// (the names' code page, colour), in the order a user meets the errors.
std::optional<Exit> settle(const Unsettled& raw, zm::cli::Invocation& inv) {
  const auto& repair = inv.repair;
  const bool repairing = inv.command == "repair";
  if (repairing && repair.output.empty() && !repair.in_place) return usage("repair: give -o OUT or --in-place");
  if (repairing && repair.in_place && repair.salvage_partial)
    return usage("repair: --salvage-partial writes new data, so it works with -o only");
  if (!raw.name_charset.empty() && !zm::report::set_legacy_charset(raw.name_charset))
    return usage("--name-charset " + raw.name_charset + ": iconv knows no such code page (iconv -l lists them)");
  if (auto stop = split_patterns(inv)) return stop;
  if (auto stop = settle_sample(inv)) return stop;
  if (auto stop = settle_key(raw, inv.common)) return stop;
  if (auto stop = settle_password(raw, inv.common)) return stop;
  if (repairing && repair.in_place && repair.encrypt)
    return usage("repair: --encrypt writes a new file, so it works with -o only");
  const auto& archives = inv.archives;
  const bool stdin_arg = inv.archive == "-" || std::count(archives.begin(), archives.end(), "-") > 0;
  if (!inv.common.profile.empty() && stdin_arg)
    return usage("--profile reads entries a second time, so it needs a file, not -");
  if (std::count(archives.begin(), archives.end(), "-") > 0 && archives.size() > 1)
    return usage("- (standard input) can only be read alone, not among several archives");
  if (inv.command == "restore" && inv.restore.directory == "-")
    return usage("restore: -C takes a directory to restore into; - is not one (restore writes files, never to "
                 "standard output)");
  if (raw.format == "github") {
    if (inv.common.json) return usage("--format github and --json both write standard output: give one");
    inv.common.format = zm::cli::Format::github;
  }
  // Colour follows where the report goes: standard output, or standard error when the archive
  // itself is written to standard output.
  const int report_fd = repairing && repair.output == "-" ? STDERR_FILENO : STDOUT_FILENO;
  zm::report::set_colour(raw.color == "always" ? true
                         : raw.color == "never" ? false
                                                : zm::report::colour_wanted(report_fd));
  return std::nullopt;
}

// Standard output written to the end: a failed write, flush or close is exit 3 with the system's
// reason. A reader that went away (`zipmedic verify a.zip | head -1`) ends the run as it ends
// other tools, by SIGPIPE and without a word, once temporary files are gone.
int finish_stdout(zm::io::FdStreamBuf& out, Exit status) {
  std::cout.flush();
  int err = out.close();
  std::cout.rdbuf(nullptr);  // the buffer is static in main(): nothing may flush into it at exit
  if (!err) return int(status);
  if (err == EPIPE) {
    std::signal(SIGPIPE, SIG_DFL);
    std::raise(SIGPIPE);
  }
  std::fprintf(stderr, "zipmedic: <stdout>: write failed: %s\n", std::strerror(err));
  return int(Exit::cannot_proceed);
}

Exit parse_and_run(int argc, char** argv) {
  CLI::App app{"zipmedic: check a ZIP backup before a restore, and rebuild the central directory of one that was "
               "cut short or never finished.",
               "zipmedic"};
  app.set_version_flag("--version", zm::cli::version_text());
  app.require_subcommand(1);
  app.footer(kFooter);
  zm::cli::Invocation inv;
  Unsettled raw;
  const std::vector<Global> globals = global_options(inv.common, raw);
  for (auto add : {add_verify, add_scan, add_list, add_repair, add_restore, add_cat, add_fetch}) add(app, globals, inv);

  std::vector<std::string> args;
  std::string word;
  if (auto stop = arrange_arguments(argc, argv, globals, args, word)) return *stop;
  if (auto stop = parse(app, args, word)) return *stop;
  inv.command = app.get_subcommands().front()->get_name();
  if (auto stop = settle(raw, inv)) return *stop;
  return zm::cli::run(inv);
}

}  // namespace

int main(int argc, char** argv) {
  // Buffers of up to a few MiB come and go per walk and per worker (decoders, read caches):
  // served from the heap and kept there for reuse, instead of fresh pages the kernel zeroes
  // each time. What is kept is bounded by the same limits as the buffers themselves.
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
  // Every write to a closed pipe is then an EPIPE we see; signals clean up (io/cleanup.h).
  std::signal(SIGPIPE, SIG_IGN);
  zm::io::cleanup::install();
  static zm::io::FdStreamBuf out(STDOUT_FILENO);
  std::cout.rdbuf(&out);
  return finish_stdout(out, parse_and_run(argc, argv));
}
