#include "cli/commands.h"

#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cstdio>
#include <iostream>

#include "check/judge.h"
#include "check/sysreptor_profile.h"
#include "check/verifier.h"
#include "crypt/sysreptor_crypt.h"
#include "io/output.h"
#include "io/source.h"
#include "repair/repair.h"
#include "report/progress.h"
#include "restore/restore.h"
#include "scan/end_records.h"
#include "scan/local_scanner.h"

namespace zm::cli {
namespace {

// The archive cannot be judged at all, for a reason the JSON report names with `code`: exit 3.
struct Unreadable : std::runtime_error {
  Unreadable(report::Code c, const std::string& what) : std::runtime_error(what), code(c) {}
  report::Code code;
};

// A command line that asks for something zipmedic will not do (overwrite the input, replace a
// file without --force): exit 2, before any work.
struct Refused : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// One command's run: where its report goes, and whether one was printed (exactly one is, with
// --json, whatever the exit path).
struct Run {
  const char* command;
  std::string archive;
  const CommonOptions& o;
  std::ostream* out = &std::cout;  // standard error when the archive itself goes to stdout
  bool emitted = false;
  std::uint64_t size = 0;
  // A JSON report on standard error (the archive went to stdout) is all that goes there, so
  // that it parses; its findings say what the message lines would.
  bool quiet_stderr() const { return o.json && out == &std::cerr; }
};

void emit(Run& run, const report::Report& r) {
  if (run.o.json)
    report::write_json(*run.out, r);
  else if (!run.o.quiet)
    report::write_text(*run.out, r, run.o.verbose);
  run.out->flush();
  run.emitted = true;
}

// One line on stderr for the first error, naming file, entry and offset: what a CI log shows.
void summarize(const Run& run, const report::Report& r) {
  if (run.quiet_stderr()) return;
  for (const auto& f : r.findings) {
    if (f.severity != report::Severity::error) continue;
    std::string where = r.archive_path;
    if (f.entry) where += fmt::format(": entry '{}'", report::printable_name(*f.entry));
    if (f.offset) where += fmt::format(" at offset {}", *f.offset);
    std::size_t more = r.count(report::Severity::error) - 1;
    fmt::print(stderr, "zipmedic: {}: {}: {}{}\n", where, f.code, f.message,
               more ? fmt::format(" (and {} more error{})", more, more == 1 ? "" : "s") : "");
    return;
  }
}

// The verifiers say "empty" or "not a ZIP archive" through CannotProceed; which of the two it was
// is in its text.
report::Code code_of(const check::CannotProceed& e) {
  std::string_view m = e.what();
  if (m.find("empty (0 bytes)") != std::string_view::npos) return report::Code::empty_file;
  if (m.find("encrypted") != std::string_view::npos) return report::Code::key_needed;
  if (m.find("not a ZIP") != std::string_view::npos) return report::Code::not_a_zip;
  return report::Code::io_failed;
}

// Exit status 3 with a message on stderr and, with --json, the one report: verdict unreadable
// and a finding that says why.
Exit unreadable(Run& run, report::Code code, const std::string& message) {
  if (!run.quiet_stderr()) fmt::print(stderr, "zipmedic: {}\n", message);
  if (run.o.json && !run.emitted) {
    report::Report r;
    r.command = run.command;
    r.archive_path = run.archive == "-" ? "<stdin>" : run.archive;
    r.archive_size = run.size;
    r.verdict = report::Verdict::unreadable;
    r.add(report::make_finding(code, std::nullopt, std::nullopt, message));
    emit(run, r);
  }
  return Exit::cannot_proceed;
}

template <class F>
Exit guarded(Run& run, F&& body) {
  try {
    return body();
  } catch (const Refused& e) {
    fmt::print(stderr, "zipmedic {}: {}\n", run.command, e.what());
    return Exit::usage;
  } catch (const Unreadable& e) {
    return unreadable(run, e.code, e.what());
  } catch (const check::CannotProceed& e) {
    return unreadable(run, code_of(e), e.what());
  } catch (const io::IoError& e) {
    return unreadable(run, report::Code::io_failed, e.what());
  } catch (const crypt::CryptError& e) {
    return unreadable(run, report::Code::key_needed, e.what());
  } catch (const std::bad_alloc&) {
    return unreadable(run, report::Code::io_failed, run.archive + ": out of memory");
  } catch (const std::exception& e) {
    return unreadable(run, report::Code::io_failed, run.archive + ": " + e.what());
  }
}

// The archive as the command reads it: a stream, a file, or a pipe spooled to a temporary file;
// decrypted when it is a SysReptor .zip.crypt.
struct Archive {
  std::string display;  // the path, or <stdin>
  std::string path;     // a file that holds the bytes (the spool for -); empty for a stream
  std::unique_ptr<io::TempFile> spool;
  std::unique_ptr<io::StreamSource> stream;
  std::unique_ptr<io::FileSource> file;
  std::unique_ptr<crypt::DecryptingSource> plain;
  std::optional<crypt::Header> header;
  std::optional<crypt::Key> key;
  io::ByteSource* src = nullptr;
  bool encrypted = false;
  bool tag_ok = true;
};

enum class Access {
  stream,  // `-` is read once as it comes (verify, scan)
  file,    // `-` is spooled to a temporary file first (repair, restore), in `spool_dir`
};

Archive open_archive(Run& run, const std::string& arg, Access how, const std::string& spool_dir = "") {
  Archive a;
  a.display = arg == "-" ? "<stdin>" : arg;
  if (arg == "-" && how == Access::stream) {
    a.stream = std::make_unique<io::StreamSource>(STDIN_FILENO, a.display);
    if (crypt::has_magic(*a.stream))
      throw Unreadable(report::Code::key_needed,
                       "<stdin>: this is an encrypted SysReptor backup (.zip.crypt); decrypting from a pipe is not "
                       "supported, save it to a file and give --key");
    a.src = a.stream.get();
    return a;
  }
  if (arg == "-") {
    // A pipe cannot be read twice: it is kept in a temporary file, which the filesystem must have
    // room for twice over (the spool and what is made from it).
    a.spool = std::make_unique<io::TempFile>(spool_dir);
    io::spool_stream(STDIN_FILENO, *a.spool, "<stdin>", 1.0);
    a.path = a.spool->path();
  } else {
    a.path = arg;
  }
  try {
    a.file = std::make_unique<io::FileSource>(a.path);
  } catch (const io::IoError& e) {
    throw Unreadable(report::Code::cannot_open, e.what());
  }
  run.size = a.file->size();
  if (a.file->size() == 0)
    throw Unreadable(report::Code::empty_file, a.display + ": the file is empty (0 bytes); it is not a ZIP archive");
  a.src = a.file.get();
  if (!crypt::has_magic(*a.file)) return a;
  a.encrypted = true;
  if (!run.o.key)
    throw Unreadable(report::Code::key_needed,
                     a.display + ": this is an encrypted SysReptor backup (.zip.crypt), not a broken ZIP; give its key "
                                 "with --key, --key-file or ZIPMEDIC_KEY");
  a.key = crypt::parse_key(*run.o.key);
  a.header = crypt::read_header(*a.file, a.display);
  a.tag_ok = crypt::tag_matches(*a.file, *a.header, *a.key);
  a.plain = std::make_unique<crypt::DecryptingSource>(*a.file, *a.header, *a.key, true);
  if (!a.tag_ok && !scan::locate_end_records(*a.plain)) {
    // No tag matched and no end record where a whole file would have one: the file was cut, so
    // there is no tag at all and every byte after the header is ciphertext (GCM is a counter
    // mode: what is there still decrypts).
    a.plain = std::make_unique<crypt::DecryptingSource>(*a.file, *a.header, *a.key, false);
  }
  a.src = a.plain.get();
  return a;
}

report::Finding tag_finding(const std::string& path, bool repairing) {
  if (repairing)
    return report::make_finding(report::Code::crypt_unauthenticated, std::nullopt, std::nullopt,
                                path + ": the GCM tag did not match (the file is cut, changed, or the key is wrong): "
                                       "the decrypted data is used, but its authenticity could not be proven");
  return report::make_finding(report::Code::crypt_tag_mismatch, std::nullopt, std::nullopt,
                              "the GCM authentication tag did not match: the key is wrong or the file was changed "
                              "(the two cannot be told apart)");
}

Exit verdict_exit(const report::Report& r) {
  return r.verdict == report::Verdict::ok       ? Exit::ok
         : r.verdict == report::Verdict::locked ? Exit::cannot_proceed
                                                : Exit::damaged;
}

bool same_file(const struct stat& a, const struct stat& b) { return a.st_dev == b.st_dev && a.st_ino == b.st_ino; }

// The input is sacred: an output that is the input under any name (the same path, a symbolic
// link, a hard link, a descriptor redirected to it) is refused, and so is an existing file
// without --force. Judged before anything is read.
io::OutputTarget check_output(const std::string& input, const std::string& output, bool force) {
  io::OutputTarget t;
  try {
    t = io::classify_output(output);
  } catch (const io::IoError& e) {
    throw Refused(e.what());
  }
  struct stat in {}, out {};
  bool have_in = input != "-" && ::stat(input.c_str(), &in) == 0;
  bool have_out = t.fd >= 0 ? ::fstat(t.fd, &out) == 0
                            : t.kind != io::OutputTarget::Kind::new_file && ::stat(t.path.c_str(), &out) == 0;
  if (have_in && have_out && same_file(in, out))
    throw Refused(fmt::format("{} is the input {} (same device and inode): the input is never written; give "
                              "another -o, or --in-place to append a directory to it",
                              output == "-" ? "standard output" : output, input));
  if (t.kind == io::OutputTarget::Kind::existing_file && !force)
    throw Refused(fmt::format("{} already exists; it is left as it is (--force replaces it)", output));
  return t;
}

}  // namespace

Exit run_verify(const std::string& archive, const CommonOptions& o) {
  Run run{"verify", archive, o};
  return guarded(run, [&] {
    Archive in = open_archive(run, archive, Access::stream);
    if (in.stream) {
      auto v = check::verify_stream(*in.stream, in.display, {o.threads, false});
      emit(run, v.report);
      summarize(run, v.report);
      return verdict_exit(v.report);
    }
    check::Verification v;
    try {
      v = check::verify_archive(*in.src, archive, {o.threads, !o.quiet && !o.json && !in.encrypted});
    } catch (const check::CannotProceed&) {
      if (in.tag_ok) throw;
      // A wrong key turns the whole file into noise: the tag says so, and that is the finding.
      v.report.command = "verify";
      v.report.archive_path = archive;
      v.report.archive_size = in.file->size();
    }
    if (in.encrypted) {
      v.report.archive_size = in.file->size();
      v.report.extra["encryption"] = {{"format", "sysreptor-aes-gcm"}, {"tag_ok", in.tag_ok}};
      if (!in.tag_ok) v.report.add(tag_finding(archive, false));
    }
    if ((o.profile == "sysreptor" || in.encrypted) && in.tag_ok)
      check::check_sysreptor_profile(*in.src, v.entries, v.report, false);
    v.report.decide_verdict();
    emit(run, v.report);
    summarize(run, v.report);
    return verdict_exit(v.report);
  });
}

Exit run_scan(const std::string& archive, const CommonOptions& o) {
  Run run{"scan", archive, o};
  return guarded(run, [&] {
    Archive in = open_archive(run, archive, Access::stream);
    io::ByteSource* src = in.src;
    const std::string& name = in.display;
    codec::Workspace ws;
    report::Progress progress(!o.quiet && !o.json && src->seekable(), src->seekable() ? src->size() : 0);
    auto s = scan::scan_local(*src, ws, {&progress.counter(), 0, o.threads ? o.threads : check::default_threads()});
    progress.finish();
    if (in.stream) in.stream->drain();
    run.size = src->size();
    check::judge_walk(s, src->size());
    if (src->size() == 0) throw Unreadable(report::Code::empty_file, name + ": the file is empty (0 bytes); it is not a ZIP archive");
    if (!s.found_any_header)
      throw Unreadable(report::Code::not_a_zip, name + ": not a ZIP archive (no local file header found)");
    report::Report r = repair::scan_report(s, name, src->size());
    if (in.encrypted && !in.tag_ok) r.add(tag_finding(archive, false));
    if (o.profile == "sysreptor" || in.encrypted) check::check_sysreptor_profile(*src, s.entries, r, false);
    r.decide_verdict();
    emit(run, r);
    summarize(run, r);
    return verdict_exit(r);
  });
}

Exit run_repair(const std::string& archive, const RepairOptions& ro, const CommonOptions& o) {
  Run run{"repair", archive, o};
  return guarded(run, [&] {
    if (ro.in_place && archive == "-")
      throw Refused("--in-place appends to a file; a pipe has none (repair - -o OUT writes a new one)");
    std::string spool_dir;
    if (!ro.in_place) {
      io::OutputTarget t = check_output(archive, ro.output, ro.force);
      // The archive itself goes to standard output: the report moves out of its way.
      if (t.fd == STDOUT_FILENO) run.out = &std::cerr;
      // A pipe's spool goes beside OUT when OUT is a file (same filesystem, same free space).
      if (t.fd < 0 && t.kind != io::OutputTarget::Kind::stream) {
        auto slash = t.path.rfind('/');
        spool_dir = slash == std::string::npos ? "." : slash == 0 ? "/" : t.path.substr(0, slash);
      }
    }
    Archive in = open_archive(run, archive, Access::file, spool_dir);
    if (ro.in_place && in.encrypted)
      throw Refused(archive + ": an encrypted backup cannot be repaired in place; use -o OUT (with --encrypt to "
                              "keep it encrypted)");
    repair::RepairRequest req;
    req.input = in.path;
    req.display = in.display;
    req.source = in.encrypted ? in.src : nullptr;
    req.output = ro.output;
    req.replace_output = ro.force;
    req.in_place = ro.in_place;
    req.salvage_partial = ro.salvage_partial;
    req.threads = o.threads;
    req.progress = !o.quiet && !o.json;
    req.profile_sysreptor = o.profile == "sysreptor" || in.encrypted;
    if (ro.encrypt) {
      if (!o.key) throw Refused("--encrypt needs the key (--key, --key-file or ZIPMEDIC_KEY)");
      req.encrypt_key = crypt::parse_key(*o.key);
      if (in.header) req.encrypt_key_id = in.header->key_id;
    }
    auto result = repair::repair_archive(req);
    if (in.encrypted) {
      if (!in.tag_ok) result.report.add(tag_finding(archive, true));
      result.report.extra["encryption"] = {{"format", "sysreptor-aes-gcm"}, {"tag_ok", in.tag_ok}};
    }
    emit(run, result.report);
    if (!result.written) {
      if (!run.quiet_stderr()) fmt::print(stderr, "zipmedic: {}: nothing written: {}\n", in.display, result.why_not);
      return Exit::cannot_proceed;
    }
    if (result.lost_entries > 0) {
      summarize(run, result.report);
      return Exit::damaged;
    }
    return Exit::ok;
  });
}

Exit run_restore(const std::string& archive, const RestoreOptions& ro, const CommonOptions& o) {
  Run run{"restore", archive, o};
  return guarded(run, [&] {
    Archive in = open_archive(run, archive, Access::file);
    if (in.encrypted)
      throw Unreadable(report::Code::key_needed,
                       in.display + ": this is an encrypted SysReptor backup; restore works on a plain ZIP (zipmedic "
                                    "repair --key ... -o plain.zip gives one)");
    // The spool's bytes are on the disk already: a restore to the same filesystem needs room for
    // what it writes beside them, which its own check of free space sees.
    auto res = restore::restore_archive({in.path, ro.directory, ro.force, ro.partial, o.threads, in.display});
    res.report.extra["restore"] = {{"directory", ro.directory},
                                   {"outcome", res.outcome == restore::RestoreResult::Outcome::restored ? "restored"
                                               : res.outcome == restore::RestoreResult::Outcome::refused
                                                   ? "refused"
                                                   : "no_space"},
                                   {"entries_restored", res.restored},
                                   {"entries_skipped", res.skipped},
                                   {"bytes_needed", res.bytes_needed},
                                   {"bytes_available", res.bytes_available}};
    emit(run, res.report);
    if (!o.quiet || res.outcome != restore::RestoreResult::Outcome::restored)
      fmt::print(stderr, "zipmedic: {}: {}\n", in.display, res.message);
    switch (res.outcome) {
      case restore::RestoreResult::Outcome::restored:
        return verdict_exit(res.report);
      case restore::RestoreResult::Outcome::refused:
        summarize(run, res.report);
        // Refused for want of the right password only: exit 3, as verify says.
        return res.report.verdict == report::Verdict::locked ? Exit::cannot_proceed : Exit::damaged;
      case restore::RestoreResult::Outcome::no_space:
        return Exit::cannot_proceed;
    }
    return Exit::cannot_proceed;
  });
}

}  // namespace zm::cli
