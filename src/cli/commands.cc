#include "cli/commands.h"

#include <unistd.h>

#include <fmt/format.h>

#include <cstdio>
#include <iostream>

#include "check/sysreptor_profile.h"
#include "check/verifier.h"
#include "crypt/sysreptor_crypt.h"
#include "io/source.h"
#include "repair/repair.h"
#include "report/progress.h"
#include "restore/restore.h"
#include "scan/end_records.h"
#include "scan/local_scanner.h"

namespace zm::cli {
namespace {

void emit(const report::Report& r, const CommonOptions& o) {
  if (o.json)
    report::write_json(std::cout, r);
  else if (!o.quiet)
    report::write_text(std::cout, r, o.verbose);
  std::cout.flush();
}

// One line on stderr for the first error, naming file, entry and offset: what a CI log shows.
void summarize(const report::Report& r) {
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

template <class F>
Exit guarded(const std::string& archive, F&& body) {
  try {
    return body();
  } catch (const check::CannotProceed& e) {
    fmt::print(stderr, "zipmedic: {}\n", e.what());
  } catch (const io::IoError& e) {
    fmt::print(stderr, "zipmedic: {}\n", e.what());
  } catch (const crypt::CryptError& e) {
    fmt::print(stderr, "zipmedic: {}\n", e.what());
  } catch (const std::bad_alloc&) {
    fmt::print(stderr, "zipmedic: {}: out of memory\n", archive);
  } catch (const std::exception& e) {
    fmt::print(stderr, "zipmedic: {}: {}\n", archive, e.what());
  }
  return Exit::cannot_proceed;
}

// The archive as read from disk, decrypted when it is a SysReptor .zip.crypt.
struct Input {
  std::unique_ptr<io::FileSource> file;
  std::unique_ptr<crypt::DecryptingSource> plain;
  std::optional<crypt::Header> header;
  std::optional<crypt::Key> key;
  io::ByteSource* src = nullptr;
  bool encrypted = false;
  bool tag_ok = true;
};

Input open_input(const std::string& path, const CommonOptions& o) {
  Input in;
  in.file = std::make_unique<io::FileSource>(path);
  in.src = in.file.get();
  if (!crypt::has_magic(*in.file)) return in;
  in.encrypted = true;
  if (!o.key)
    throw check::CannotProceed(path + ": this is an encrypted SysReptor backup (.zip.crypt), not a broken ZIP; "
                               "give its key with --key, --key-file or ZIPMEDIC_KEY");
  in.key = crypt::parse_key(*o.key);
  in.header = crypt::read_header(*in.file, path);
  in.tag_ok = crypt::tag_matches(*in.file, *in.header, *in.key);
  in.plain = std::make_unique<crypt::DecryptingSource>(*in.file, *in.header, *in.key, true);
  if (!in.tag_ok && !scan::locate_end_records(*in.plain)) {
    // No tag matched and no end record where a whole file would have one: the file was cut, so
    // there is no tag at all and every byte after the header is ciphertext (GCM is a counter
    // mode: what is there still decrypts).
    in.plain = std::make_unique<crypt::DecryptingSource>(*in.file, *in.header, *in.key, false);
  }
  in.src = in.plain.get();
  return in;
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

Exit verdict_exit(const report::Report& r) { return r.verdict == report::Verdict::ok ? Exit::ok : Exit::damaged; }

void refuse_encrypted_stream(io::StreamSource& in) {
  if (crypt::has_magic(in))
    throw check::CannotProceed("<stdin>: this is an encrypted SysReptor backup (.zip.crypt); decrypting from a "
                               "pipe is not supported, save it to a file and give --key");
}

}  // namespace

Exit run_verify(const std::string& archive, const CommonOptions& o) {
  return guarded(archive, [&] {
    if (archive == "-") {
      io::StreamSource in(STDIN_FILENO, "<stdin>");
      refuse_encrypted_stream(in);
      auto v = check::verify_stream(in, "<stdin>", {o.threads, false});
      emit(v.report, o);
      summarize(v.report);
      return verdict_exit(v.report);
    }
    Input in = open_input(archive, o);
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
    emit(v.report, o);
    summarize(v.report);
    return verdict_exit(v.report);
  });
}

Exit run_scan(const std::string& archive, const CommonOptions& o) {
  return guarded(archive, [&] {
    std::unique_ptr<io::StreamSource> stream;
    std::optional<Input> in;
    io::ByteSource* src;
    std::string name = archive == "-" ? "<stdin>" : archive;
    if (archive == "-") {
      stream = std::make_unique<io::StreamSource>(STDIN_FILENO, name);
      refuse_encrypted_stream(*stream);
      src = stream.get();
    } else {
      in = open_input(archive, o);
      src = in->src;
    }
    codec::Workspace ws;
    report::Progress progress(!o.quiet && !o.json && src->seekable(), src->seekable() ? src->size() : 0);
    auto s = scan::scan_local(*src, ws, {&progress.counter(), 0, o.threads ? o.threads : check::default_threads()});
    progress.finish();
    if (stream) stream->drain();
    check::judge_walk(s, src->size());
    if (src->size() == 0) throw check::CannotProceed(name + ": the file is empty (0 bytes); it is not a ZIP archive");
    if (!s.found_any_header) throw check::CannotProceed(name + ": not a ZIP archive (no local file header found)");
    report::Report r = repair::scan_report(s, name, src->size());
    if (in && in->encrypted && !in->tag_ok) r.add(tag_finding(archive, false));
    if (o.profile == "sysreptor" || (in && in->encrypted)) check::check_sysreptor_profile(*src, s.entries, r, false);
    r.decide_verdict();
    emit(r, o);
    summarize(r);
    return verdict_exit(r);
  });
}

Exit run_repair(const std::string& archive, const RepairOptions& ro, const CommonOptions& o) {
  return guarded(archive, [&] {
    Input in = open_input(archive, o);
    repair::RepairRequest req;
    req.input = archive;
    req.source = in.encrypted ? in.src : nullptr;
    req.output = ro.output;
    req.in_place = ro.in_place;
    req.salvage_partial = ro.salvage_partial;
    req.threads = o.threads;
    req.progress = !o.quiet && !o.json;
    req.profile_sysreptor = o.profile == "sysreptor" || in.encrypted;
    if (ro.encrypt) {
      if (!o.key) throw check::CannotProceed("--encrypt needs the key (--key, --key-file or ZIPMEDIC_KEY)");
      req.encrypt_key = crypt::parse_key(*o.key);
      if (in.header) req.encrypt_key_id = in.header->key_id;
    }
    auto result = repair::repair_archive(req);
    if (in.encrypted) {
      if (!in.tag_ok) result.report.add(tag_finding(archive, true));
      result.report.extra["encryption"] = {{"format", "sysreptor-aes-gcm"}, {"tag_ok", in.tag_ok}};
    }
    emit(result.report, o);
    if (!result.written) {
      fmt::print(stderr, "zipmedic: {}: nothing written: {}\n", archive, result.why_not);
      return Exit::cannot_proceed;
    }
    if (result.lost_entries > 0) {
      summarize(result.report);
      return Exit::damaged;
    }
    return Exit::ok;
  });
}

Exit run_restore(const std::string& archive, const RestoreOptions& ro, const CommonOptions& o) {
  return guarded(archive, [&] {
    {
      io::FileSource probe(archive);
      if (crypt::has_magic(probe))
        throw check::CannotProceed(archive + ": this is an encrypted SysReptor backup; restore works on a plain "
                                             "ZIP (zipmedic repair --key ... -o plain.zip gives one)");
    }
    auto res = restore::restore_archive({archive, ro.directory, ro.force, o.threads});
    res.report.extra["restore"] = {{"directory", ro.directory},
                                   {"outcome", res.outcome == restore::RestoreResult::Outcome::restored ? "restored"
                                               : res.outcome == restore::RestoreResult::Outcome::refused
                                                   ? "refused"
                                                   : "no_space"},
                                   {"entries_restored", res.restored},
                                   {"entries_skipped", res.skipped},
                                   {"bytes_needed", res.bytes_needed},
                                   {"bytes_available", res.bytes_available}};
    emit(res.report, o);
    if (!o.quiet || res.outcome != restore::RestoreResult::Outcome::restored)
      fmt::print(stderr, "zipmedic: {}: {}\n", archive, res.message);
    switch (res.outcome) {
      case restore::RestoreResult::Outcome::restored:
        return verdict_exit(res.report);
      case restore::RestoreResult::Outcome::refused:
        summarize(res.report);
        return Exit::damaged;
      case restore::RestoreResult::Outcome::no_space:
        return Exit::cannot_proceed;
    }
    return Exit::cannot_proceed;
  });
}

}  // namespace zm::cli
