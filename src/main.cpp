// Options in, command out, exit status back. All logic lives below cli/.
#include <CLI/CLI.hpp>

#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iterator>
#include <string_view>

#include <fmt/format.h>

#include "cli/commands.h"
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
    {"verify", {"t", "test"}}, {"scan", {}}, {"list", {"l"}}, {"repair", {}}, {"restore", {}}};

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
    "ARCHIVE may be - to read standard input.\n"
    "\n"
    "Exit status:\n"
    "  0: every archive verified, was repaired with nothing lost, or was restored\n"
    "  1: damage or danger found, entries lost in a repair, or a restore refused\n"
    "  2: a bad command line; nothing was read\n"
    "  3: cannot proceed: cannot open, not a ZIP, empty, nothing recoverable, an I/O error, no key\n"
    "\n"
    "Examples:\n"
    "  zipmedic verify backup.zip nightly-*.zip\n"
    "  zipmedic repair cut.zip -o fixed.zip && zipmedic restore fixed.zip -C /srv/restore 'reports/*'\n";

}  // namespace

int main(int argc, char** argv) {
  // Buffers of up to a few MiB come and go per walk and per worker (decoders, read caches):
  // served from the heap and kept there for reuse, instead of fresh pages the kernel zeroes
  // each time. What is kept is bounded by the same limits as the buffers themselves.
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
  CLI::App app{"zipmedic: check a ZIP backup before a restore, and rebuild the central directory of one that was "
               "cut short or never finished.",
               "zipmedic"};
  app.set_version_flag("--version", std::string("zipmedic ") + ZIPMEDIC_VERSION);
  app.require_subcommand(1);
  app.footer(kFooter);
  zm::cli::CommonOptions common;
  // Encrypted SysReptor backups (.zip.crypt): the key as 64 hex digits, never echoed.
  std::string key_hex, key_file;
  // Encrypted ZIP entries (ZipCrypto, WinZip AES): one password for the run, never echoed.
  std::optional<std::string>& password = common.password;
  std::string password_file;
  // The code page of legacy names (bit 11 clear), for display only: the bytes cannot tell CP932
  // or KOI8-R from CP437, so it is never guessed (unzip -O asks the same of its user).
  std::string name_charset;
  const std::vector<Global> globals = {
      {"--json", false, [&](CLI::App* s, const std::string& n) {
         return s->add_flag(n, common.json, "Print one JSON report (schema zipmedic.report/2) on stdout; one a line "
                                            "for several archives");
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
         return s->add_option(n, key_hex, "Key of an encrypted SysReptor backup (.zip.crypt), 64 hex digits (or "
                                          "ZIPMEDIC_KEY); not a ZIP password")
             ->type_name("HEX");
       }},
      {"--key-file", true, [&](CLI::App* s, const std::string& n) {
         return s->add_option(n, key_file, "Read that key from a file instead")->type_name("FILE");
       }},
      {"--password", true, [&](CLI::App* s, const std::string& n) {
         return s->add_option(n, password, "Password of encrypted ZIP entries, ZipCrypto or WinZip AES (or "
                                           "ZIPMEDIC_PASSWORD)")
             ->type_name("TEXT");
       }},
      {"--password-file", true, [&](CLI::App* s, const std::string& n) {
         return s->add_option(n, password_file, "Read that password from the first line of a file instead")
             ->type_name("FILE");
       }},
      {"--name-charset", true, [&](CLI::App* s, const std::string& n) {
         return s->add_option(n, name_charset, "Show names that lack the UTF-8 flag and are not UTF-8 in this code "
                                               "page, as iconv names it: CP932, CP866, KOI8-R ... (default CP437)")
             ->type_name("CHARSET");
       }},
  };
  auto add_globals = [&](CLI::App* sub) {
    for (const auto& g : globals) g.add(sub, g.names);
    sub->footer(kFooter);
  };
  auto add_profile = [&](CLI::App* sub) {
    sub->add_option("--profile", common.profile, "Extra checks for one kind of backup: sysreptor")
        ->check(CLI::IsMember({"sysreptor"}).description(""))
        ->type_name("NAME");
  };
  auto add_command = [&](const char* name, const char* help) {
    auto* sub = app.add_subcommand(name, help);
    for (const auto& a : find_command(name)->aliases) sub->alias(a);
    return sub;
  };

  std::vector<std::string> archives;
  std::string archive;
  auto* verify = add_command("verify", "Decode every entry, check CRC-32, sizes, structure and names");
  verify->add_option("ARCHIVE", archives, "The ZIP files to check, or - to read one from standard input")->required()->type_name("FILE");
  add_globals(verify);
  add_profile(verify);
  verify->add_flag("--strict", common.strict,
                   "Warnings fail too (exit 1): a reader that complains, or names an entry otherwise, fails the check");

  auto* scan = add_command("scan", "Walk the local headers front to back, trusting no directory");
  scan->add_option("ARCHIVE", archives, "The ZIP files to walk, or - to read one from standard input")->required()->type_name("FILE");
  add_globals(scan);
  add_profile(scan);

  auto* list = add_command("list", "List the entries from the central directory, decoding nothing");
  list->add_option("ARCHIVE", archives, "The ZIP files to list, or - to read one from standard input")->required()->type_name("FILE");
  add_globals(list);

  zm::cli::RepairOptions repair_opt;
  auto* repair = add_command("repair", "Rebuild the central directory from the entries that survive");
  repair->add_option("ARCHIVE", archive, "The damaged ZIP file, or - to read it from standard input")->required()->type_name("FILE");
  auto* out = repair->add_option("-o,--output", repair_opt.output,
                                 "Write the repaired archive to this new file (- for standard output; a device or "
                                 "FIFO is written as it is)")
                  ->type_name("OUT");
  repair->add_flag("--force", repair_opt.force, "Replace OUT if it exists (never the input)");
  auto* inplace = repair->add_flag("--in-place", repair_opt.in_place,
                                   "Append a new central directory to ARCHIVE itself; no existing byte changes (not for "
                                   "a split archive: -o joins it)");
  out->excludes(inplace);
  repair->add_flag("--salvage-partial", repair_opt.salvage_partial,
                   "Keep the intact start of a cut or damaged entry as NAME.partial (copy mode only)");
  repair->add_flag("--encrypt", repair_opt.encrypt,
                   "Write OUT as an encrypted SysReptor backup with the same key and a fresh nonce");
  add_globals(repair);
  add_profile(repair);

  zm::cli::RestoreOptions restore_opt;
  auto* restore = add_command("restore", "Verify, then extract only what verified (refuses a damaged archive)");
  restore->add_option("ARCHIVE", archive, "The ZIP file to restore, or - to read it from standard input")->required()->type_name("FILE");
  restore->add_option("PATTERN", restore_opt.patterns,
                      "Restore only the entries these globs match, as bsdtar matches them (* does not cross /; a "
                      "directory's name takes what is under it)")
      ->type_name("GLOB");
  restore->add_option("-C,--directory", restore_opt.directory, "Restore into this directory (created if missing)")
      ->type_name("DIR")
      ->required();
  restore->add_option("--exclude", restore_opt.excludes, "Leave out the entries this glob matches (repeatable)")
      ->type_name("PATTERN")
      ->take_last()
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  restore->add_flag("--partial", restore_opt.partial,
                    "Restore the entries that verified even when others did not; report the rest");
  restore->add_flag("--force", restore_opt.force,
                    "Replace files and symbolic links already in DIR (by default nothing there is overwritten)");
  add_globals(restore);

  // The command word is found first, so that global options may stand before it and a mistyped
  // command is named as such (CLI11 would only say that a subcommand is required).
  std::vector<std::string> before, after;
  std::string word;
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
    return int(Exit::usage);
  }
  if (!word.empty() && !find_command(word)) return int(unknown_command(word));
  std::vector<std::string> args{"zipmedic"};
  if (!word.empty()) args.push_back(word);
  args.insert(args.end(), before.begin(), before.end());
  args.insert(args.end(), after.begin(), after.end());
  std::vector<const char*> cargs;
  for (const auto& s : args) cargs.push_back(s.c_str());

  try {
    app.parse(int(cargs.size()), cargs.data());
  } catch (const CLI::Success& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // CLI11's own words, with the prefix every message of ours has and where help is.
    const Command* c = find_command(word);
    fmt::print(stderr, "zipmedic: {}{}\nzipmedic: {} --help lists the options\n", c ? std::string(c->name) + ": " : "",
               e.what(), c ? "zipmedic " + std::string(c->name) : "zipmedic");
    return int(Exit::usage);
  }
  if (repair->parsed() && repair_opt.output.empty() && !repair_opt.in_place) {
    std::fprintf(stderr, "zipmedic: repair: give -o OUT or --in-place\n");
    return int(Exit::usage);
  }
  if (repair->parsed() && repair_opt.in_place && repair_opt.salvage_partial) {
    std::fprintf(stderr, "zipmedic: repair: --salvage-partial writes new data, so it works with -o only\n");
    return int(Exit::usage);
  }
  if (!name_charset.empty() && !zm::report::set_legacy_charset(name_charset)) {
    std::fprintf(stderr, "zipmedic: --name-charset %s: iconv knows no such code page (iconv -l lists them)\n",
                 name_charset.c_str());
    return int(Exit::usage);
  }
  if (!key_hex.empty()) {
    common.key = key_hex;
    common.key_typed = true;
  } else if (!key_file.empty()) {
    std::ifstream f(key_file);
    if (!f) {
      std::fprintf(stderr, "zipmedic: %s: cannot read the key file\n", key_file.c_str());
      return int(Exit::usage);
    }
    common.key = std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
    common.key_typed = true;
  } else if (const char* env = std::getenv("ZIPMEDIC_KEY"); env && *env) {
    common.key = env;
  }
  if (!password && !password_file.empty()) {
    std::ifstream f(password_file, std::ios::binary);
    std::string line;
    if (!f || !std::getline(f, line)) {
      std::fprintf(stderr, "zipmedic: %s: cannot read the password file\n", password_file.c_str());
      return int(Exit::usage);
    }
    if (!line.empty() && line.back() == '\r') line.pop_back();
    password = line;
  } else if (const char* env = std::getenv("ZIPMEDIC_PASSWORD"); !password && env) {
    password = env;
  }
  if (repair->parsed() && repair_opt.in_place && repair_opt.encrypt) {
    std::fprintf(stderr, "zipmedic: repair: --encrypt writes a new file, so it works with -o only\n");
    return int(Exit::usage);
  }
  bool stdin_arg = archive == "-" || std::count(archives.begin(), archives.end(), "-") > 0;
  if (!common.profile.empty() && stdin_arg) {
    std::fprintf(stderr, "zipmedic: --profile reads entries a second time, so it needs a file, not -\n");
    return int(Exit::usage);
  }
  if (std::count(archives.begin(), archives.end(), "-") > 0 && archives.size() > 1) {
    std::fprintf(stderr, "zipmedic: - (standard input) can only be read alone, not among several archives\n");
    return int(Exit::usage);
  }
  // Colour follows where the report goes: standard output, or standard error when the archive
  // itself is written to standard output.
  zm::report::set_colour(zm::report::colour_wanted(repair->parsed() && repair_opt.output == "-" ? STDERR_FILENO
                                                                                                : STDOUT_FILENO));
  for (auto* sub : {verify, scan, list})
    if (sub->parsed() && archives.size() > 1) return int(zm::cli::run_many(sub->get_name(), archives, common));
  if (verify->parsed()) return int(zm::cli::run_verify(archives.front(), common));
  if (scan->parsed()) return int(zm::cli::run_scan(archives.front(), common));
  if (list->parsed()) return int(zm::cli::run_list(archives.front(), common));
  if (repair->parsed()) return int(zm::cli::run_repair(archive, repair_opt, common));
  if (restore->parsed()) return int(zm::cli::run_restore(archive, restore_opt, common));
  return int(Exit::usage);
}
