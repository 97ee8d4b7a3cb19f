#include "cli/commands.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <iostream>
#include <set>
#include <sstream>

#include "check/judge.h"
#include "check/sysreptor_profile.h"
#include "check/verifier.h"
#include "cli/outputs.h"
#include "crypt/sysreptor_crypt.h"
#include "crypt/zip_crypto.h"
#include "io/digest.h"
#include "io/output.h"
#include "io/remote.h"
#include "io/source.h"
#include "repair/repair.h"
#include "report/progress.h"
#include "restore/cat.h"
#include "restore/restore.h"
#include "scan/central_directory.h"
#include "scan/end_records.h"
#include "scan/local_scanner.h"
#include "scan/volumes.h"

namespace zm::cli {

// A time as RFC 3339 in UTC to the second: the reports' start and an archive's mtime.
std::string rfc3339(std::time_t t) {
  std::tm utc{};
  ::gmtime_r(&t, &utc);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buf;
}

std::string rfc3339_now() { return rfc3339(std::time(nullptr)); }

namespace {

using io::Fail;
using io::Failure;


// One command's run: where its report goes, and whether one was printed (exactly one is, with
// --json, whatever the exit path).
struct Run {
  const char* command;
  std::string archive;
  const CommonOptions& o;
  Outputs& files;                  // --report and --junit
  std::ostream* out = &std::cout;  // standard error when the archive itself goes to stdout
  bool many = false;               // one of several archives: a verdict line, or one JSON line
  bool emitted = false;
  report::Verdict verdict = report::Verdict::unreadable;
  std::uint64_t size = 0;
  bool size_known = false;  // `size` is the archive's: it was opened (or the pipe read)
  // A JSON report on standard error (the archive went to stdout) is all that goes there, so
  // that it parses; its findings say what the message lines would.
  bool quiet_stderr() const { return o.json && out == &std::cerr; }
  // Its JSON is written somewhere: standard output (--json) or a --report file.
  bool json_wanted() const { return o.json || files.json(); }
  std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now();
  std::string started = rfc3339_now();
};

// What every report says of its run and of the archive file: when it began, and the file's
// modification time (none for a pipe, or when there is no file).
void stamp(const Run& run, report::Report& r) {
  r.started = run.started;
  struct stat st {};
  if (run.archive != "-" && ::stat(run.archive.c_str(), &st) == 0 && S_ISREG(st.st_mode))
    r.mtime = rfc3339(st.st_mtime);
}

// One of several archives, in one line: its verdict, its name, what it holds.
void write_verdict_line(std::ostream& os, const report::Report& r) {
  std::string detail;
  if (r.verdict == report::Verdict::unreadable) {
    std::string why = r.findings.empty() ? "" : r.findings.front().message;
    if (why.rfind(r.archive_path + ": ", 0) == 0) why.erase(0, r.archive_path.size() + 2);
    detail = why.empty() ? "" : "  " + why;
  } else {
    detail = fmt::format("  {}, {}", report::count_of(r.row_count(), "entry", "entries"),
                         report::human_size(r.archive_size));
    if (r.verdict != report::Verdict::ok || r.count(report::Severity::warning))
      detail += fmt::format("; {}, {}", report::count_of(r.count(report::Severity::error), "error", "errors"),
                            report::count_of(r.count(report::Severity::warning), "warning", "warnings"));
  }
  const char* v = report::to_string(r.verdict);
  std::string pad(v == std::string_view("unreadable") ? 1 : 11 - std::strlen(v), ' ');
  os << report::paint(v, r.verdict == report::Verdict::ok ? report::Tone::good : report::Tone::bad) << pad
     << r.archive_path << detail << '\n';
}

// The report to where it goes: --report's file and --junit's cases, and standard output as
// --json, --format github or the text; `shown` when the caller printed the text already (list).
void emit(Run& run, report::Report& r, bool shown = false) {
  stamp(run, r);
  r.settle_display_names();  // for the text and for summarize, which follows
  if (auto* file = run.files.json()) report::write_json(*file, r);
  if (run.files.junit()) {
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - run.t0).count();
    run.files.add_case(report::junit_case(r, run.o.strict, secs));
  }
  if (run.o.json) {
    report::write_json(*run.out, r);
  } else if (shown || run.o.quiet) {
    // Nothing more on standard output.
  } else if (run.o.format == Format::github) {
    report::write_github(*run.out, r, run.o.strict);
    write_verdict_line(*run.out, r);
  } else if (run.many && !run.o.verbose && r.command != "list") {
    write_verdict_line(*run.out, r);
  } else {
    report::write_text(*run.out, r, run.o.verbose);
  }
  run.out->flush();
  run.emitted = true;
  run.verdict = r.verdict;
}

// One line on stderr for the first error, naming file, entry and offset: what a CI log shows.
// Not when the text report, which holds that line, went to the same terminal.
void summarize(const Run& run, const report::Report& r) {
  if (run.quiet_stderr()) return;
  if (!run.many && !run.o.json && !run.o.quiet && run.out == &std::cout && ::isatty(STDOUT_FILENO) &&
      ::isatty(STDERR_FILENO))
    return;
  // Under --strict a warning failed the run when no error did: that warning is the reason.
  const auto failing = r.count(report::Severity::error) || !run.o.strict ? report::Severity::error
                                                                        : report::Severity::warning;
  for (const auto& f : r.findings) {
    if (f.severity != failing) continue;
    std::string where = r.archive_path;
    if (f.entry) where += fmt::format(": entry '{}'", report::shown_entry(f));
    if (f.offset) where += fmt::format(" at offset {}", *f.offset);
    const std::size_t more = r.count(failing) - 1;
    const char* kind = failing == report::Severity::error ? "error" : "warning";
    fmt::print(stderr, "zipmedic: {}: {}: {}{}\n", where, f.code, f.message,
               more ? fmt::format(" (and {} more {}{})", more, kind, more == 1 ? "" : "s") : "");
    return;
  }
}

// The one finding of an unreadable report, by the failure's kind.
report::Code code_of(Fail kind) {
  switch (kind) {
    case Fail::cannot_open: return report::Code::cannot_open;
    case Fail::empty: return report::Code::empty_file;
    case Fail::not_a_zip: return report::Code::not_a_zip;
    case Fail::key: return report::Code::key_needed;
    case Fail::password: return report::Code::password_wrong;
    default: return report::Code::io_failed;
  }
}

// A run that cannot proceed still makes a report for whatever shows one: JSON, a --junit case,
// GitHub's annotation, a verdict line among several. A lone text run has only the message.
bool unreadable_report_shown(const Run& run) {
  return run.json_wanted() || run.files.junit() || (!run.o.quiet && (run.many || run.o.format == Format::github));
}

// Exit status 3 with a message on stderr and, with --json, the one report: verdict unreadable
// and a finding that says why.
Exit unreadable(Run& run, report::Code code, const std::string& message) {
  if (!run.quiet_stderr()) fmt::print(stderr, "zipmedic: {}\n", message);
  run.verdict = report::Verdict::unreadable;
  if (unreadable_report_shown(run) && !run.emitted) {
    report::Report r;
    r.command = run.command;
    r.archive_path = run.archive == "-" ? "<stdin>" : io::redact_url(run.archive);
    r.archive_size = run.size;
    r.size_known = run.size_known;
    r.verdict = report::Verdict::unreadable;
    r.stats = {{"entries", 0},
               {"seconds", std::chrono::duration<double>(std::chrono::steady_clock::now() - run.t0).count()}};
    r.add(report::make_finding(code, std::nullopt, std::nullopt, message));
    emit(run, r);
  }
  return Exit::cannot_proceed;
}

template <class F>
Exit guarded(Run& run, F&& body) {
  try {
    return body();
  } catch (const Failure& e) {
    // The exit status follows from the kind, here and nowhere else: a usage error is 2 (nothing
    // was read or written), every other failure 3.
    if (e.kind != Fail::usage) return unreadable(run, code_of(e.kind), e.what());
    fmt::print(stderr, "zipmedic: {}: {}\n", run.command, e.what());
    return Exit::usage;
  } catch (const std::bad_alloc&) {
    return unreadable(run, report::Code::io_failed, io::redact_url(run.archive) + ": out of memory");
  } catch (const std::exception& e) {
    return unreadable(run, report::Code::io_failed, io::redact_url(run.archive) + ": " + e.what());
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
  // A split archive: its volumes, read as one run of bytes.
  std::optional<scan::VolumeSet> set;
  std::unique_ptr<io::VolumeSource> volumes;
  std::optional<crypt::Header> header;
  std::optional<crypt::Key> key;
  io::ByteSource* src = nullptr;
  bool encrypted = false;
  bool tag_ok = true;
  // A FIFO, device or socket named on the command line, opened to be read as `-` is.
  struct Fd {
    int fd = -1;
    ~Fd() {
      if (fd >= 0) ::close(fd);
    }
  } named_stream;
  // --sha256: the file's bytes hashed as the command reads them, or the stream's as they arrive
  // (a split set has none: each volume is a file of its own, for sha256sum).
  std::unique_ptr<io::HashingSource> hashing;
  std::unique_ptr<io::Sha256> stream_sha;
  // The SHA-256 of every byte of the archive, once the command is done with it.
  std::optional<std::string> digest() {
    if (hashing) return hashing->finish();
    if (!stream_sha) return std::nullopt;
    stream->drain();
    return stream_sha->hex();
  }
  // An archive at a URL or in S3 (last: it goes first, before the sources that read from it).
  std::unique_ptr<io::RemoteArchive> remote;
};

// A path that names no file to seek in: a FIFO, a character device, a socket, or /dev/fd/N of a
// pipe (process substitution, `verify <(curl ...)`). It is read once, as `-` is.
bool names_stream(const std::string& arg) {
  struct stat st {};
  return arg == "-" || (::stat(arg.c_str(), &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode) ||
                                                        S_ISSOCK(st.st_mode)));
}

int open_stream(Archive& a, const std::string& arg) {
  if (arg == "-") return STDIN_FILENO;
  a.named_stream.fd = ::open(arg.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (a.named_stream.fd < 0) throw Failure(Fail::cannot_open, arg + ": cannot open: " + std::strerror(errno));
  return a.named_stream.fd;
}

// A key given for a plain ZIP is not used; whoever typed it may have meant a ZIP password.
void key_note(const Run& run, const std::string& display) {
  if (!run.o.key_typed || run.quiet_stderr()) return;
  fmt::print(stderr,
             "zipmedic: note: {} is a plain ZIP, so the key was not used: --key is for SysReptor .zip.crypt "
             "backups, and ZIP passwords take --password\n",
             display);
}

enum class Access {
  stream,  // `-` is read once as it comes (verify, scan)
  file,    // `-` is spooled to a temporary file first (repair), in `spool_dir`
  ranged,  // as file, but a URL whose server answers ranges is read where it lies (restore)
};

// An archive at a URL or in S3: ranged reads where the server answers them, else a stream with
// a pipe's verdict. repair reads a copy in a temporary file, as it does a pipe's; so does restore
// when the server ignores Range (it reads the entries it writes, and then only their headers).
bool open_remote_archive(Run& run, Archive& a, const std::string& arg, Access how, const std::string& spool_dir) {
  a.remote = std::make_unique<io::RemoteArchive>(io::open_remote(arg, run.o.remote));
  auto& r = *a.remote;
  // A SysReptor .zip.crypt is decrypted with a whole read for its GCM tag before the archive in
  // it is read: over ranges that would fetch it twice, so it is read once into a copy, as a file.
  const bool sealed = r.ranged && r.ranged->size() > 0 && crypt::has_magic(*r.ranged);
  if (how == Access::file || (how == Access::ranged && !r.ranged) || sealed) {
    a.spool = std::make_unique<io::TempFile>(spool_dir);
    io::download(r, a.spool->fd());
    a.path = a.spool->path();
    a.remote.reset();
    return false;
  }
  a.src = &r.source();
  if (r.stream) {
    a.stream = std::move(r.stream);
    a.src = a.stream.get();
    if (crypt::has_magic(*a.stream))
      throw Failure(Fail::key, a.display + ": this is an encrypted SysReptor backup (.zip.crypt) on a server that "
                                           "ignores Range; decrypting a stream is not supported: zipmedic fetch it "
                                           "to a file and give --key");
  } else if (r.ranged->size() == 0) {
    throw Failure(Fail::empty, a.display + ": the object is empty (0 bytes); it is not a ZIP archive");
  }
  if (!a.stream) run.size = a.src->size();
  key_note(run, a.display);
  return true;
}

Archive open_archive(Run& run, const std::string& arg, Access how, const std::string& spool_dir = "") {
  Archive a;
  a.display = arg == "-" ? "<stdin>" : io::redact_url(arg);
  if (io::is_remote(arg) && open_remote_archive(run, a, arg, how, spool_dir)) return a;
  const bool streamed = !a.spool && names_stream(arg);
  if (streamed && how == Access::stream) {
    a.stream = std::make_unique<io::StreamSource>(open_stream(a, arg), a.display);
    if (run.o.sha256) {
      a.stream_sha = std::make_unique<io::Sha256>();
      a.stream->hash_with(a.stream_sha.get());
    }
    if (crypt::has_magic(*a.stream))
      throw Failure(Fail::key, a.display + ": this is an encrypted SysReptor backup (.zip.crypt); decrypting from a pipe "
                                           "is not supported, save it to a file and give --key");
    a.src = a.stream.get();
    key_note(run, a.display);
    return a;
  }
  if (!streamed && !a.spool) {
    if (auto set = scan::find_volume_set(arg)) {
      std::size_t present = 0;
      for (const auto& v : set->volumes) present += v.present;
      if (present == 0) throw Failure(Fail::cannot_open, arg + ": cannot open: no volume of the set is there");
      a.volumes = scan::open_volume_set(*set);
      a.set = std::move(set);
      a.display = a.set->name;
      a.src = a.volumes.get();
      run.size = a.volumes->size();
      run.size_known = true;
      if (run.size == 0)
        throw Failure(Fail::empty, a.display + ": the volumes are empty (0 bytes); it is not a ZIP archive");
      key_note(run, a.display);
      return a;
    }
  }
  if (a.spool) {
    // A remote archive, downloaded above.
  } else if (streamed) {
    // A pipe cannot be read twice: it is kept in a temporary file, which the filesystem must have
    // room for twice over (the spool and what is made from it).
    a.spool = std::make_unique<io::TempFile>(spool_dir);
    io::spool_stream(open_stream(a, arg), *a.spool, a.display, 1.0);
    a.path = a.spool->path();
  } else {
    a.path = arg;
  }
  a.file = std::make_unique<io::FileSource>(a.path);
  run.size = a.file->size();
  run.size_known = true;
  if (a.file->size() == 0)
    throw Failure(Fail::empty, a.display + ": the file is empty (0 bytes); it is not a ZIP archive");
  a.src = a.file.get();
  if (run.o.sha256) a.src = (a.hashing = std::make_unique<io::HashingSource>(*a.file)).get();
  io::ByteSource& raw = *a.src;
  if (!crypt::has_magic(raw)) {
    key_note(run, a.display);
    return a;
  }
  a.encrypted = true;
  if (!run.o.key)
    throw Failure(Fail::key, a.display + ": this is an encrypted SysReptor backup (.zip.crypt), not a broken ZIP; give its key "
                                 "with --key, --key-file or ZIPMEDIC_KEY");
  a.key = crypt::parse_key(*run.o.key);
  a.header = crypt::read_header(raw, a.display);
  a.tag_ok = crypt::tag_matches(raw, *a.header, *a.key);
  a.plain = std::make_unique<crypt::DecryptingSource>(raw, *a.header, *a.key, true);
  if (!a.tag_ok && !scan::locate_end_records(*a.plain)) {
    // No tag matched and no end record where a whole file would have one: the file was cut, so
    // there is no tag at all and every byte after the header is ciphertext (GCM is a counter
    // mode: what is there still decrypts).
    a.plain = std::make_unique<crypt::DecryptingSource>(raw, *a.header, *a.key, false);
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

// What a split archive adds to a report: its volumes, the ones missing or cut, where each finding
// lies in its volume, and which readers can read the set as it is.
std::vector<report::Finding> volume_findings(const Archive& a) {
  if (!a.set) return {};
  return scan::volume_findings(*a.set, *a.volumes, scan::locate_end_records(*a.volumes).has_value());
}

// `known`: the volume findings are in the report already (restore weighed them).
void add_volume_facts(const Archive& a, report::Report& r, bool known = false) {
  if (!a.set) return;
  const auto& set = *a.set;
  for (auto& f : r.findings)
    if (f.offset && f.code != report::Code::volume_missing && f.code != report::Code::volume_truncated)
      f.message += fmt::format(" ({})", scan::volume_place(*a.volumes, *f.offset));
  // First: a missing or cut volume explains the findings about entries in it.
  if (!known) {
    auto vf = volume_findings(a);
    r.findings.insert(r.findings.begin(), vf.begin(), vf.end());
  }
  const bool pkware = set.kind == scan::VolumeSet::Kind::pkware;
  nlohmann::json vols = nlohmann::json::array();
  for (const auto& v : set.volumes) vols.push_back({{"path", v.path}, {"present", v.present}, {"size", v.size}});
  r.extra["volumes"] = {{"set", set.name}, {"kind", pkware ? "pkware" : "numbered"}, {"volumes", vols}};
  if (r.command == "repair") return;  // its output is the one file the note would ask for
  auto note = report::make_finding(
      report::Code::readers_lack_feature, std::nullopt, std::nullopt,
      fmt::format("a split archive of {} volumes: only 7-Zip reads it as it is; unzip, libarchive, Python, Go and "
                  "Java need one file ({})",
                  set.volumes.size(),
                  pkware ? "zipmedic repair -o one.zip joins it" : "the pieces joined with cat, or zipmedic repair -o"));
  note.readers = report::lacking(report::kUnzip | report::kLibarchive | report::kPython | report::kGo | report::kJava);
  r.add(note);
}

Exit verdict_exit(const report::Report& r) {
  return r.verdict == report::Verdict::ok       ? Exit::ok
         : r.verdict == report::Verdict::locked ? Exit::cannot_proceed
                                                : Exit::damaged;
}

// A PATTERN that selected no entry fails the command, as a name unzip -t does not find does:
// the report (checked.unmatched) and standard error name it.
Exit selection_exit(const report::Report& r, Exit e) {
  if (!r.extra.contains("checked") || r.extra["checked"]["unmatched"].empty()) return e;
  for (const auto& p : r.extra["checked"]["unmatched"])
    std::cerr << fmt::format("zipmedic: {}: no entry matches {}\n", r.archive_path, p.get<std::string>());
  return e == Exit::ok ? Exit::damaged : e;
}

bool same_file(const struct stat& a, const struct stat& b) { return a.st_dev == b.st_dev && a.st_ino == b.st_ino; }

// The input is sacred: an output that is the input under any name (the same path, a symbolic
// link, a hard link, a descriptor redirected to it) is refused, and so is an existing file
// without --force. Judged before anything is read.
io::OutputTarget check_output(const std::string& input, const std::string& output, bool force) {
  io::OutputTarget t;
  t = io::classify_output(output);
  struct stat in {}, out {};
  bool have_in = input != "-" && ::stat(input.c_str(), &in) == 0;
  bool have_out = t.fd >= 0 ? ::fstat(t.fd, &out) == 0
                            : t.kind != io::OutputTarget::Kind::new_file && ::stat(t.path.c_str(), &out) == 0;
  if (have_in && have_out && same_file(in, out))
    throw Failure(Fail::usage, fmt::format("{} is the input {} (same device and inode): the input is never written; give "
                              "another -o, or --in-place to append a directory to it",
                              output == "-" ? "standard output" : output, input));
  if (t.kind == io::OutputTarget::Kind::existing_file && !force)
    throw Failure(Fail::usage, fmt::format("{} already exists; it is left as it is (--force replaces it)", output));
  return t;
}

}  // namespace

namespace {

Exit verify_in(Run& run) {
  const std::string& archive = run.archive;
  const CommonOptions& o = run.o;
  return guarded(run, [&] {
    Archive in = open_archive(run, archive, Access::stream);
    check::EntrySelection select{o.patterns, o.excludes, o.sample_share, o.seed};
    // A byte budget is drawn as the share of the archive it is (data is most of an archive).
    if (o.sample_bytes && in.src)
      select.share = std::min(1.0, double(o.sample_bytes) / double(std::max<std::uint64_t>(in.src->size(), 1)));
    const check::EntrySelection* selected = select.everything() ? nullptr : &select;
    if (in.stream) {
      // Only the report is kept: the walk's witnesses and the directory wait in a temporary file.
      check::VerifyOptions vo{o.threads, false};
      vo.keep_entries = false;
      vo.password = o.password_lent();
      vo.select = selected;
      auto v = check::verify_stream(*in.stream, in.display, vo);
      v.report.decide_verdict(o.strict);
      v.report.sha256 = in.digest();
      emit(run, v.report);
      summarize(run, v.report);
      return selection_exit(v.report, verdict_exit(v.report));
    }
    check::Verification v;
    try {
      check::VerifyOptions vo{o.threads, !o.quiet && !o.json && !in.encrypted};
      // The SysReptor profile looks at the entries themselves; otherwise only the report is kept.
      vo.keep_entries = o.profile == "sysreptor" || in.encrypted;
      vo.password = o.password_lent();
      vo.select = selected;
      v = check::verify_archive(*in.src, in.set || in.remote ? in.display : archive, vo);
    } catch (const Failure& e) {
      if (in.tag_ok || (e.kind != Fail::empty && e.kind != Fail::not_a_zip)) throw;
      // A wrong key turns the whole file into noise: the tag says so, and that is the finding.
      v.report.command = "verify";
      v.report.archive_path = archive;
      v.report.archive_size = in.file->size();
      v.report.stats = {{"entries", 0},
                        {"entries_ok", 0},
                        {"threads", o.threads ? o.threads : check::default_threads()},
                        {"seconds", std::chrono::duration<double>(std::chrono::steady_clock::now() - run.t0).count()}};
    }
    if (in.file) in.file->check_unchanged();
    if (in.encrypted) {
      v.report.archive_size = in.file->size();
      v.report.extra["encryption"] = {{"format", "sysreptor-aes-gcm"}, {"tag_ok", in.tag_ok}};
      if (!in.tag_ok) v.report.add(tag_finding(archive, false));
    }
    if ((o.profile == "sysreptor" || in.encrypted) && in.tag_ok)
      check::check_sysreptor_profile(*in.src, v.entries, v.report, false);
    add_volume_facts(in, v.report);
    v.report.decide_verdict(o.strict);
    v.report.sha256 = in.digest();
    emit(run, v.report);
    summarize(run, v.report);
    return selection_exit(v.report, verdict_exit(v.report));
  });
}

Exit scan_in(Run& run) {
  const std::string& archive = run.archive;
  const CommonOptions& o = run.o;
  return guarded(run, [&] {
    Archive in = open_archive(run, archive, Access::stream);
    io::ByteSource* src = in.src;
    const std::string& name = in.display;
    codec::Workspace ws;
    report::Progress progress(!o.quiet && !o.json && src->seekable(), src->seekable() ? src->size() : 0, "decoding");
    scan::ScanOptions so{&progress.counter(), 0, o.threads ? o.threads : check::default_threads()};
    so.password = o.password_lent();
    const check::EntrySelection select{o.patterns, o.excludes};
    if (!select.everything()) so.wanted = [&select](const std::string& entry) { return select.selects(entry); };
    // The SysReptor profile looks at every entry; otherwise entries are judged as the walk settles
    // them and only their rows are kept.
    const bool profile = o.profile == "sysreptor" || in.encrypted;
    auto tally = profile ? nullptr : std::make_shared<check::WalkTally>(*src);
    if (tally) so.settle = [&](std::vector<scan::Entry>& done) { tally->add(done); };
    auto s = scan::scan_local(*src, ws, so);
    progress.finish();
    if (in.stream) in.stream->drain();
    run.size = src->size();
    run.size_known = true;
    check::judge_walk(s, src->size(), tally.get());
    if (src->size() == 0) throw Failure(Fail::empty, name + ": the file is empty (0 bytes); it is not a ZIP archive");
    if (!s.found_any_header)
      throw Failure(Fail::not_a_zip, name + ": not a ZIP archive (no local file header found)");
    if (in.file) in.file->check_unchanged();
    report::Report r = repair::scan_report(s, name, src->size(), scan::locate_end_records(*src).has_value(), tally);
    r.stats["threads"] = so.threads;
    r.stats["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - run.t0).count();
    if (in.encrypted && !in.tag_ok) r.add(tag_finding(archive, false));
    if (profile) check::check_sysreptor_profile(*src, s.entries, r, false);
    add_volume_facts(in, r);
    // A row left unchecked was walked past by its sizes; a bit-3 entry the walk had to decode
    // to find its end counts as checked, selected or not.
    if (!select.everything())
      check::note_checked(r, select, [](const report::EntryRow& row) { return row.status != report::EntryStatus::unchecked; });
    r.decide_verdict();
    r.sha256 = in.digest();
    emit(run, r);
    summarize(run, r);
    return selection_exit(r, verdict_exit(r));
  });
}

// 4.4.6: MS-DOS date and time (date in the high half), local time of the writer; a date of 0
// means none was written.
std::string dos_time(std::uint32_t stamp) {
  unsigned date = stamp >> 16, time = stamp & 0xFFFF;
  if (date == 0) return "";
  return fmt::format("{:04}-{:02}-{:02} {:02}:{:02}", 1980 + (date >> 9), (date >> 5) & 15, date & 31, time >> 11,
                     (time >> 5) & 63);
}

// How an entry is encrypted, as the list shows it: "-", "zipcrypto", "aes-128/192/256", "strong"
// (PKWARE's, bit 6), or "?" for a scheme zipmedic does not know (an AES field it cannot read).
std::string encryption_of(const scan::Entry& e) {
  if (!e.encrypted()) return "-";
  if (e.flags & zip::kFlagStrongEncryption) return "strong";
  const auto s = zipcrypt::scheme_of(scan::crypt_fields(e));
  if (s.kind == zipcrypt::Scheme::Kind::traditional) return "zipcrypto";
  if (s.kind == zipcrypt::Scheme::Kind::aes) return fmt::format("aes-{}", 64 + 64 * unsigned(s.aes.strength));
  return "?";
}

// The list's own text: what unzip -l and 7z l show, with a header and a totals line.
void write_listing(std::ostream& os, const report::Report& r, const std::vector<std::uint32_t>& modified,
                   const std::vector<std::string>& encryption, bool from_directory) {
  using report::paint;
  using report::Tone;
  std::string out = fmt::format("list: {} ({}), {}\n", r.archive_path, report::human_size(r.archive_size),
                                from_directory ? "from the central directory"
                                               : "from a walk of the local headers (no central directory was read)");
  out += paint(fmt::format("  {:>12} {:>12} {:>5}  {:<16}  {:<8} {:<8} {:<9} {}", "size", "compressed", "ratio",
                           "modified", "crc-32", "method", "crypt", "name"),
               Tone::bold) +
         "\n";
  std::uint64_t size = 0, comp = 0;
  auto ratio = [](std::uint64_t u, std::uint64_t c) {
    // Space saved, as unzip -v's Cmpr column shows it; negative when the data grew.
    if (u == 0) return std::string("-");
    return fmt::format("{:.0f}%", 100.0 - 100.0 * double(c) / double(u));
  };
  for (std::size_t i = 0; i < r.entries.size(); ++i) {
    const auto& e = r.entries[i];
    size += e.uncompressed_size;
    comp += e.compressed_size;
    fmt::format_to(std::back_inserter(out), "  {:>12} {:>12} {:>5}  {:<16}  {:08x} {:<8} {:<9} {}\n", e.uncompressed_size,
                   e.compressed_size, ratio(e.uncompressed_size, e.compressed_size), dos_time(modified[i]), e.crc32, e.method,
                   encryption[i], report::shown_name(e));
    if (out.size() >= (64u << 10)) {
      os << out;
      out.clear();
    }
  }
  out += fmt::format("  {:>12} {:>12} {:>5}  {:<16}  {:<8} {:<8} {:<9} {}\n", size, comp, ratio(size, comp), "", "", "",
                     "", report::count_of(r.entries.size(), "entry", "entries"));
  out += fmt::format("  {} in {}, {} compressed\n", report::count_of(r.entries.size(), "entry", "entries"),
                     report::human_size(size), report::human_size(comp));
  for (const auto& f : r.findings) {
    out += paint(report::to_string(f.severity),
                 f.severity == report::Severity::error     ? Tone::bad
                 : f.severity == report::Severity::warning ? Tone::warn
                                                           : Tone::dim) +
           fmt::format(": {}", f.code);
    if (f.entry) out += fmt::format(" [{}]", report::shown_entry(f));
    if (f.offset) out += fmt::format(" at offset {}", *f.offset);
    out += ": " + f.message + "\n";
  }
  os << out;
}

// The entries as a walk of the local headers finds them (decoding, as scan does), with the
// walk's findings in `r`.
std::vector<scan::Entry> entries_from_walk(Run& run, Archive& in, report::Report& r) {
  const CommonOptions& o = run.o;
  io::ByteSource* src = in.src;
  codec::Workspace ws;
  report::Progress progress(!o.quiet && !o.json && src->seekable(), src->seekable() ? src->size() : 0, "decoding");
  scan::ScanOptions so{&progress.counter(), 0, o.threads ? o.threads : check::default_threads()};
  so.password = o.password_lent();
  auto s = scan::scan_local(*src, ws, so);
  progress.finish();
  if (in.stream) in.stream->drain();
  run.size = src->size();
  run.size_known = true;
  check::judge_walk(s, src->size(), nullptr);
  if (!s.found_any_header)
    throw Failure(Fail::not_a_zip, in.display + ": not a ZIP archive (no local file header found)");
  for (auto& f : s.findings) r.add(f);
  if (!s.directory_at) r.add(scan::eocd_missing_finding(src->size(), s.entries));
  return std::move(s.entries);
}

// What the list shows beside the report's rows: each entry's DOS time stamp and encryption.
struct ListColumns {
  std::vector<std::uint32_t> modified;
  std::vector<std::string> encryption;
  // One entry's row into the report and its columns here; its extra fields are not kept.
  void add(const scan::Entry& e, bool from_directory, report::Report& r) {
    auto row = scan::to_row(e);
    if (from_directory) row.status = report::EntryStatus::unchecked;
    r.entries.push_back(std::move(row));
    modified.push_back(std::uint32_t(e.mod_date) << 16 | e.mod_time);
    encryption.push_back(encryption_of(e));
  }
};

// The report's totals from its rows.
void list_totals(report::Report& r) {
  std::uint64_t size = 0, comp = 0;
  for (const auto& row : r.entries) size += row.uncompressed_size, comp += row.compressed_size;
  r.stats = {{"entries", r.entries.size()}, {"uncompressed_bytes", size}, {"compressed_bytes", comp}};
}

// The rows from the directory alone when it can be read whole: no entry's data is touched, which
// is what makes list cheap on a large archive. Each batch of records is tabulated as it is read,
// so that neither the entries nor their extra fields are held (64 KiB each, they may be). Nothing
// when there is no directory to read (a pipe has no end to seek to); the end records' and the
// directory's findings go to `r`.
std::optional<ListColumns> list_directory(io::ByteSource& src, report::Report& r) {
  if (!src.seekable()) return std::nullopt;
  auto end = scan::locate_end_records(src);
  if (!end) return std::nullopt;
  scan::DirectoryReader rd(src, *end);
  ListColumns c;
  report::Report rows;
  std::vector<scan::Entry> batch;
  while (rd.next(4096, batch))
    for (const auto& e : batch) c.add(e, true, rows);
  // An archive of no entries is one too: its end record says 0 and there is nothing to read.
  if (!rd.readable() && !(end->entries == 0 && rd.findings.empty())) return std::nullopt;
  for (auto& f : check::judge_end_records(*end)) r.add(f);
  for (auto& f : rd.findings) r.add(f);
  r.entries = std::move(rows.entries);
  return c;
}

// JSON `list`: where the entries came from and, under --json, the list's own columns.
void add_list_extra(report::Report& r, const ListColumns& c, bool from_directory, bool json) {
  r.extra["list"] = {{"source", from_directory ? "directory" : "walk"},
                     {"modified", nlohmann::json::array()},
                     {"encryption", nlohmann::json::array()}};
  if (!json) return;
  auto& modified = r.extra["list"]["modified"];
  for (auto t : c.modified) modified.push_back(t >> 16 ? nlohmann::json(dos_time(t)) : nlohmann::json(nullptr));
  auto& crypt = r.extra["list"]["encryption"];
  for (const auto& e : c.encryption) crypt.push_back(e);
}

Exit list_in(Run& run) {
  const std::string& archive = run.archive;
  const CommonOptions& o = run.o;
  return guarded(run, [&] {
    Archive in = open_archive(run, archive, Access::stream);
    report::Report r;
    r.command = "list";
    r.archive_path = in.display;
    auto listed = list_directory(*in.src, r);
    const bool from_directory = listed.has_value();
    if (!from_directory) {
      listed.emplace();
      for (const auto& e : entries_from_walk(run, in, r)) listed->add(e, false, r);
    }
    const ListColumns& columns = *listed;
    list_totals(r);
    if (in.file) in.file->check_unchanged();
    r.archive_size = in.file ? in.file->size() : in.src->size();
    if (in.encrypted && !in.tag_ok) r.add(tag_finding(archive, false));
    add_volume_facts(in, r);
    add_list_extra(r, columns, from_directory, run.json_wanted());
    r.decide_verdict();
    r.sha256 = in.digest();
    const bool listing = !o.json && !o.quiet && o.format == Format::text;
    if (listing) {
      r.settle_display_names();
      write_listing(*run.out, r, columns.modified, columns.encryption, from_directory);
    }
    emit(run, r, listing);
    summarize(run, r);
    return verdict_exit(r);
  });
}

// How many of several archives got each verdict (indexed by report::Verdict).
struct Tally {
  std::array<std::size_t, 4> of{};
  std::size_t operator[](report::Verdict v) const { return of[std::size_t(v)]; }
};

// "3 archives: 1 ok, 1 damaged, 1 locked": the verdicts in the order of their lines' words.
std::string tally_line(const Tally& t, std::size_t archives) {
  using report::paint;
  using report::Tone;
  using report::Verdict;
  const std::size_t ok = t[Verdict::ok];
  std::string line = fmt::format("{}: {}", report::count_of(archives, "archive", "archives"),
                                 paint(fmt::format("{} ok", ok), ok == archives ? Tone::good : Tone::bold));
  for (Verdict v : {Verdict::damaged, Verdict::locked, Verdict::unreadable})
    if (t[v]) line += ", " + paint(fmt::format("{} {}", t[v], report::to_string(v)), Tone::bad);
  return line;
}

// The last JSON line after several archives' reports: the tally and the exit status.
void write_summary(std::ostream& os, const std::string& command, const Tally& t, Exit status) {
  using report::Verdict;
  nlohmann::json verdicts = nlohmann::json::object();
  std::size_t archives = 0;
  for (Verdict v : {Verdict::ok, Verdict::damaged, Verdict::locked, Verdict::unreadable}) {
    verdicts[report::to_string(v)] = t[v];
    archives += t[v];
  }
  nlohmann::json doc = {{"schema", report::kSchema},
                        {"command", command},
                        {"summary", {{"archives", archives}, {"verdicts", verdicts}, {"exit_status", int(status)}}}};
  os << doc.dump() << '\n';
  os.flush();
}

// verify, scan or list over one archive or several.
Exit run_archives(const std::string& command, const std::vector<std::string>& given, const CommonOptions& o,
                  Outputs& files) {
  auto one = command == "verify" ? verify_in : command == "scan" ? scan_in : list_in;
  // `verify backup.z*` names every volume of one split set: the set is read once.
  std::vector<std::string> archives;
  std::set<std::string> sets;
  for (const auto& a : given) {
    auto set = a == "-" ? std::nullopt : scan::find_volume_set(a);
    if (!set || sets.insert(set->name).second) archives.push_back(a);
  }
  if (archives.size() == 1) {
    Run run{command.c_str(), archives[0], o, files};
    return one(run);
  }
  Exit worst = Exit::ok;
  Tally tally;
  for (const auto& a : archives) {
    Run run{command.c_str(), a, o, files};
    run.many = true;
    Exit e = one(run);
    // 3 outranks 1: an archive that could not be read at all is the worse news.
    if (int(e) > int(worst)) worst = e;
    // Counted by the verdict its line shows, so that the tally and the lines agree.
    ++tally.of[std::size_t(run.verdict)];
    if (command == "list" && !o.json && !o.quiet) std::cout << '\n';
  }
  if (auto* file = files.json()) write_summary(*file, command, tally, worst);
  if (o.json) {
    write_summary(std::cout, command, tally, worst);
  } else if (!o.quiet) {
    std::cout << tally_line(tally, archives.size()) << '\n';
    std::cout.flush();
  }
  return worst;
}

// The selected entries' bytes to standard output; messages to standard error only.
Exit run_cat(const std::string& archive, const CatOptions& co, const CommonOptions& o, Outputs& files) {
  Run run{"cat", archive, o, files};
  run.out = &std::cerr;
  return guarded(run, [&] {
    Archive in = open_archive(run, archive, Access::ranged);
    const restore::CatRequest req{{o.patterns, o.excludes}, co.salvage, o.password_lent()};
    const auto res = restore::cat_entries(*in.src, in.display, req, STDOUT_FILENO);
    for (const auto& p : res.unmatched)
      fmt::print(stderr, "zipmedic: cat: {}: no entry matches {}\n", in.display, report::printable_name(p));
    if (res.failure)
      fmt::print(stderr, "zipmedic: cat: {}: {}{}\n", in.display, *res.failure,
                 co.salvage ? " (written as it decoded: --salvage)" : "; nothing more was written");
    return res.failure || !res.unmatched.empty() ? Exit::damaged : Exit::ok;
  });
}

Exit run_repair(const std::string& archive, const RepairOptions& ro, const CommonOptions& o, Outputs& files) {
  Run run{"repair", archive, o, files};
  return guarded(run, [&] {
    if (ro.in_place && names_stream(archive))
      throw Failure(Fail::usage, "--in-place appends to a file; a pipe has none (repair - -o OUT writes a new one)");
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
    if (ro.in_place && archive != "-")
      if (auto set = scan::find_volume_set(archive))
        throw Failure(Fail::usage, fmt::format("{} is a split archive of {} volumes: appending a directory to its last volume "
                                  "would not make one archive of them, and no reader would take the result; "
                                  "repair -o OUT joins the set into one ZIP",
                                  set->name, set->volumes.size()));
    Archive in = open_archive(run, archive, Access::file, spool_dir);
    if (in.set && !ro.in_place)
      for (const auto& v : in.set->volumes)
        if (v.present && v.path != archive) check_output(v.path, ro.output, true);
    if (ro.in_place && in.encrypted)
      throw Failure(Fail::usage, archive + ": an encrypted backup cannot be repaired in place; use -o OUT (with --encrypt to "
                              "keep it encrypted)");
    repair::RepairRequest req;
    req.input = in.path;
    req.display = in.display;
    req.source = in.encrypted || in.set ? in.src : nullptr;
    req.output = ro.output;
    req.replace_output = ro.force;
    req.in_place = ro.in_place;
    req.salvage_partial = ro.salvage_partial;
    req.threads = o.threads;
    req.progress = !o.quiet && !o.json;
    req.profile_sysreptor = o.profile == "sysreptor" || in.encrypted;
    req.password = o.password_lent();
    if (ro.encrypt) {
      if (!o.key) throw Failure(Fail::usage, "--encrypt needs the key (--key, --key-file or ZIPMEDIC_KEY)");
      req.encrypt_key = crypt::parse_key(*o.key);
      if (in.header) req.encrypt_key_id = in.header->key_id;
    }
    auto result = repair::repair_archive(req);
    add_volume_facts(in, result.report);
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

const char* outcome_name(restore::RestoreResult::Outcome o) {
  switch (o) {
    case restore::RestoreResult::Outcome::restored: return "restored";
    case restore::RestoreResult::Outcome::refused: return "refused";
    case restore::RestoreResult::Outcome::no_space: return "no_space";
    case restore::RestoreResult::Outcome::failed: return "failed";
  }
  return "refused";
}

Exit run_restore(const std::string& archive, const RestoreOptions& ro, const CommonOptions& o, Outputs& files) {
  Run run{"restore", archive, o, files};
  return guarded(run, [&] {
    struct stat dir {};
    if (::stat(ro.directory.c_str(), &dir) == 0 && !S_ISDIR(dir.st_mode))
      throw Failure(Fail::usage, ro.directory + ": not a directory; -C takes the directory to restore into");
    Archive in = open_archive(run, archive, Access::ranged);
    if (in.encrypted)
      throw Failure(Fail::key, in.display + ": this is an encrypted SysReptor backup; restore works on a plain ZIP (zipmedic "
                                    "repair --key ... -o plain.zip gives one)");
    // The spool's bytes are on the disk already: a restore to the same filesystem needs room for
    // what it writes beside them, which its own check of free space sees.
    auto res = restore::restore_archive({in.path, ro.directory, ro.force, ro.partial, o.threads, in.display,
                                         ro.patterns, ro.excludes, in.set || in.remote ? in.src : nullptr,
                                         volume_findings(in),
                                         o.password_lent(), ro.preserve_permissions});
    add_volume_facts(in, res.report, true);
    res.report.extra["restore"] = {{"directory", ro.directory},
                                   {"outcome", outcome_name(res.outcome)},
                                   {"entries_restored", res.restored},
                                   {"entries_skipped", res.skipped},
                                   {"entries_not_selected", res.not_selected},
                                   {"entries_mode_stripped", res.stripped},
                                   {"bytes_needed", res.bytes_needed},
                                   {"bytes_available", res.bytes_available},
                                   {"inodes_needed", res.inodes_needed},
                                   {"inodes_available", res.inodes_available}};
    if (res.outcome == restore::RestoreResult::Outcome::failed) {
      // One message, as for any failure (FAILURES); the report only where one is shown.
      res.report.extra["restore"]["entries_not_written"] = res.planned;
      res.report.stats["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - run.t0).count();
      run.verdict = report::Verdict::unreadable;
      if (unreadable_report_shown(run)) emit(run, res.report);
      if (!run.quiet_stderr()) fmt::print(stderr, "zipmedic: {}: {}\n", in.display, res.message);
      return Exit::cannot_proceed;
    }
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
      case restore::RestoreResult::Outcome::failed:
        return Exit::cannot_proceed;
    }
    return Exit::cannot_proceed;
  });
}

// A report file must not be one of the archives read (the input is sacred: a rename would
// replace it) nor the other report file.
std::optional<std::string> report_path_problem(const Invocation& in) {
  std::vector<std::string> inputs = in.archives;
  if (!in.archive.empty()) inputs.push_back(in.archive);
  const std::string& rep = in.common.report_path;
  const std::string& junit = in.common.junit_path;
  if (!rep.empty() && rep == junit) return "--report and --junit name the same file, " + rep;
  for (const std::string* p : {&rep, &junit}) {
    struct stat target {};
    if (p->empty() || ::stat(p->c_str(), &target) != 0) continue;
    if (S_ISDIR(target.st_mode)) return *p + " is a directory; a report is written to a file";
    for (const auto& a : inputs) {
      struct stat archive {};
      if (a != "-" && ::stat(a.c_str(), &archive) == 0 && same_file(target, archive))
        return *p + " is the archive " + a + ": the input is never written; name another report file";
    }
  }
  return std::nullopt;
}

}  // namespace

Exit run(const Invocation& in) {
  if (auto problem = report_path_problem(in)) {
    fmt::print(stderr, "zipmedic: {}\n", *problem);
    return Exit::usage;
  }
  std::unique_ptr<Outputs> files;
  try {
    files = std::make_unique<Outputs>(in.common, rfc3339_now());
  } catch (const io::Failure& e) {
    fmt::print(stderr, "zipmedic: {}\n", e.what());
    return Exit::usage;
  }
  if (in.command == "fetch") return run_fetch(in.archive, in.fetch, in.common);
  Exit status = in.command == "cat"       ? run_cat(in.archive, in.cat, in.common, *files)
                : in.command == "repair"  ? run_repair(in.archive, in.repair, in.common, *files)
                : in.command == "restore" ? run_restore(in.archive, in.restore, in.common, *files)
                                          : run_archives(in.command, in.archives, in.common, *files);
  // A refusal (exit 2) read nothing and reports nothing: no file is left, an older one stays.
  if (status == Exit::usage) return status;
  try {
    files->commit(in.command);
  } catch (const io::Failure& e) {
    fmt::print(stderr, "zipmedic: {}\n", e.what());
    return Exit::cannot_proceed;
  }
  return status;
}

}  // namespace zm::cli
