#include "cli/commands.h"

#include <fmt/format.h>

#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "check/verifier.h"
#include "io/source.h"
#include "report/progress.h"
#include "repair/repair.h"
#include "restore/restore.h"
#include "scan/local_scanner.h"

namespace zm::cli {
namespace {

void emit(const report::Report& r, const CommonOptions& o) {
  if (o.json) {
    // Every string is made valid UTF-8 by the model; replace is the backstop for a JSON document.
    std::cout << report::to_json(r).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  } else if (!o.quiet) {
    std::cout << report::render_text(r, o.verbose);
  }
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
  } catch (const std::bad_alloc&) {
    fmt::print(stderr, "zipmedic: {}: out of memory\n", archive);
  } catch (const std::exception& e) {
    fmt::print(stderr, "zipmedic: {}: {}\n", archive, e.what());
  }
  return Exit::cannot_proceed;
}

}  // namespace

Exit run_verify(const std::string& archive, const CommonOptions& o) {
  return guarded(archive, [&] {
    if (archive == "-") {
      io::StreamSource in(STDIN_FILENO, "<stdin>");
      auto v = check::verify_stream(in, "<stdin>", {o.threads, false});
      emit(v.report, o);
      summarize(v.report);
      return v.report.verdict == report::Verdict::ok ? Exit::ok : Exit::damaged;
    }
    io::FileSource src(archive);
    auto v = check::verify_archive(src, archive, {o.threads, !o.quiet && !o.json});
    emit(v.report, o);
    summarize(v.report);
    return v.report.verdict == report::Verdict::ok ? Exit::ok : Exit::damaged;
  });
}

Exit run_scan(const std::string& archive, const CommonOptions& o) {
  return guarded(archive, [&] {
    std::unique_ptr<io::ByteSource> src;
    std::string name = archive == "-" ? "<stdin>" : archive;
    if (archive == "-")
      src = std::make_unique<io::StreamSource>(STDIN_FILENO, name);
    else
      src = std::make_unique<io::FileSource>(archive);
    codec::Workspace ws;
    report::Progress progress(!o.quiet && !o.json && src->seekable(), src->seekable() ? src->size() : 0);
    auto s = scan::scan_local(*src, ws, {&progress.counter(), 0});
    progress.finish();
    if (auto* stream = dynamic_cast<io::StreamSource*>(src.get())) stream->drain();
    if (src->size() == 0) throw check::CannotProceed(name + ": the file is empty (0 bytes); it is not a ZIP archive");
    if (!s.found_any_header) throw check::CannotProceed(name + ": not a ZIP archive (no local file header found)");
    report::Report r = repair::scan_report(s, name, src->size());
    emit(r, o);
    summarize(r);
    return r.verdict == report::Verdict::ok ? Exit::ok : Exit::damaged;
  });
}

Exit run_repair(const std::string& archive, const RepairOptions& ro, const CommonOptions& o) {
  return guarded(archive, [&] {
    repair::RepairRequest req;
    req.input = archive;
    req.output = ro.output;
    req.in_place = ro.in_place;
    req.salvage_partial = ro.salvage_partial;
    req.threads = o.threads;
    req.progress = !o.quiet && !o.json;
    auto result = repair::repair_archive(req);
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
        return res.report.verdict == report::Verdict::ok ? Exit::ok : Exit::damaged;
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
