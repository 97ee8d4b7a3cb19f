// Options in, command out, exit status back. All logic lives below cli/.
#include <CLI/CLI.hpp>

#include <malloc.h>

#include <cstdlib>
#include <fstream>
#include <iterator>

#include "cli/commands.h"
#include "crypt/zip_crypto.h"

int main(int argc, char** argv) {
  using zm::cli::Exit;
  // Buffers of up to a few MiB come and go per walk and per worker (decoders, read caches):
  // served from the heap and kept there for reuse, instead of fresh pages the kernel zeroes
  // each time. What is kept is bounded by the same limits as the buffers themselves.
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
  CLI::App app{"zipmedic: check a ZIP backup before a restore, and rebuild the central directory of one that was "
               "cut short or never finished."};
  app.set_version_flag("--version", std::string("zipmedic ") + ZIPMEDIC_VERSION);
  app.require_subcommand(1);
  zm::cli::CommonOptions common;
  auto add_common = [&](CLI::App* sub) {
    sub->add_flag("--json", common.json, "Print one JSON report (schema zipmedic.report/1) on stdout");
    sub->add_flag("-q,--quiet", common.quiet, "No progress line and no text report; only the exit status and errors");
    sub->add_flag("-v,--verbose", common.verbose, "List every entry in the text report, however many");
    sub->add_option("-t,--threads", common.threads, "Entries decoded in parallel (default: one per core)")
        ->check(CLI::Range(1, 256));
  };
  // Encrypted SysReptor backups (.zip.crypt): the key as 64 hex digits, never echoed.
  std::string key_hex, key_file;
  auto add_key = [&](CLI::App* sub) {
    sub->add_option("--key", key_hex, "Key of an encrypted SysReptor backup, 64 hex digits (or ZIPMEDIC_KEY)");
    sub->add_option("--key-file", key_file, "Read that key from a file instead");
  };
  // Encrypted ZIP entries (ZipCrypto, WinZip AES): one password for the run, never echoed.
  std::optional<std::string> password;
  std::string password_file;
  auto add_password = [&](CLI::App* sub) {
    sub->add_option("--password", password,
                    "Password of encrypted ZIP entries, ZipCrypto or WinZip AES (or ZIPMEDIC_PASSWORD)");
    sub->add_option("--password-file", password_file, "Read that password from the first line of a file instead");
  };
  auto add_profile = [&](CLI::App* sub) {
    sub->add_option("--profile", common.profile, "Extra checks for one kind of backup: sysreptor")
        ->check(CLI::IsMember({"sysreptor"}));
  };

  std::string archive;
  auto* verify = app.add_subcommand("verify", "Decode every entry, check CRC-32, sizes, structure and names");
  verify->add_option("ARCHIVE", archive, "The ZIP file to check")->required();
  add_common(verify);
  add_key(verify);
  add_password(verify);
  add_profile(verify);

  auto* scan = app.add_subcommand("scan", "Walk the local headers front to back, trusting no directory");
  scan->add_option("ARCHIVE", archive, "The ZIP file to walk")->required();
  add_common(scan);
  add_key(scan);
  add_password(scan);
  add_profile(scan);

  zm::cli::RepairOptions repair_opt;
  auto* repair = app.add_subcommand("repair", "Rebuild the central directory from the entries that survive");
  repair->add_option("ARCHIVE", archive, "The damaged ZIP file, or - to read it from standard input")->required();
  auto* out = repair->add_option("-o,--output", repair_opt.output,
                                 "Write the repaired archive to this new file (- for standard output; a device or "
                                 "FIFO is written as it is)");
  repair->add_flag("--force", repair_opt.force, "Replace OUT if it exists (never the input)");
  auto* inplace = repair->add_flag("--in-place", repair_opt.in_place,
                                   "Append a new central directory to ARCHIVE itself; no existing byte changes");
  out->excludes(inplace);
  repair->add_flag("--salvage-partial", repair_opt.salvage_partial,
                   "Keep the intact start of a cut or damaged entry as NAME.partial (copy mode only)");
  repair->add_flag("--encrypt", repair_opt.encrypt,
                   "Write OUT as an encrypted SysReptor backup with the same key and a fresh nonce");
  add_common(repair);
  add_key(repair);
  add_password(repair);
  add_profile(repair);

  zm::cli::RestoreOptions restore_opt;
  auto* restore = app.add_subcommand("restore", "Verify, then extract only what verified (refuses a damaged archive)");
  restore->add_option("ARCHIVE", archive, "The ZIP file to restore, or - to read it from standard input")->required();
  restore->add_option("-C,--directory", restore_opt.directory, "Restore into this directory (created if missing)")
      ->required();
  restore->add_flag("--partial", restore_opt.partial,
                    "Restore the entries that verified even when others did not; report the rest");
  restore->add_flag("--force", restore_opt.force,
                    "Replace files and symbolic links already in DIR (by default nothing there is overwritten)");
  add_common(restore);
  add_password(restore);

  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return int(Exit::usage);
  }
  if (repair->parsed() && repair_opt.output.empty() && !repair_opt.in_place) {
    std::fprintf(stderr, "zipmedic repair: give -o OUT or --in-place\n");
    return int(Exit::usage);
  }
  if (repair->parsed() && repair_opt.in_place && repair_opt.salvage_partial) {
    std::fprintf(stderr, "zipmedic repair: --salvage-partial writes new data, so it works with -o only\n");
    return int(Exit::usage);
  }
  if (!key_hex.empty()) {
    common.key = key_hex;
  } else if (!key_file.empty()) {
    std::ifstream f(key_file);
    if (!f) {
      std::fprintf(stderr, "zipmedic: %s: cannot read the key file\n", key_file.c_str());
      return int(Exit::usage);
    }
    common.key = std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
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
  zm::zipcrypt::set_password(password);
  if (repair->parsed() && repair_opt.in_place && repair_opt.encrypt) {
    std::fprintf(stderr, "zipmedic repair: --encrypt writes a new file, so it works with -o only\n");
    return int(Exit::usage);
  }
  if (!common.profile.empty() && archive == "-") {
    std::fprintf(stderr, "zipmedic: --profile reads entries a second time, so it needs a file, not -\n");
    return int(Exit::usage);
  }
  if (verify->parsed()) return int(zm::cli::run_verify(archive, common));
  if (scan->parsed()) return int(zm::cli::run_scan(archive, common));
  if (repair->parsed()) return int(zm::cli::run_repair(archive, repair_opt, common));
  if (restore->parsed()) return int(zm::cli::run_restore(archive, restore_opt, common));
  return int(Exit::usage);
}
