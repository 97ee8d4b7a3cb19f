#include "restore/restore.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <fmt/format.h>

#include <clocale>
#include <filesystem>
#include <set>

#include "check/verifier.h"
#include "io/source.h"

namespace zm::restore {
namespace fs = std::filesystem;

namespace {

// Free bytes on the filesystem that holds `dir`, or on its nearest existing parent.
std::uint64_t available_bytes(const std::string& dir) {
  fs::path p = fs::absolute(dir);
  while (!p.empty() && !fs::exists(p)) p = p.parent_path();
  struct statvfs st {};
  if (::statvfs(p.c_str(), &st) != 0) throw io::IoError(dir + ": cannot query free space: " + std::strerror(errno));
  return std::uint64_t(st.f_bavail) * st.f_frsize;
}

struct ArchiveCloser {
  void operator()(archive* a) const {
    if (a) archive_read_free(a);
  }
};
struct WriterCloser {
  void operator()(archive* a) const {
    if (a) archive_write_free(a);
  }
};

// Back to the starting directory whatever happens (extraction runs with DIR as the working
// directory so that libarchive's refusal of absolute paths stays on).
struct CwdGuard {
  int fd = ::open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ~CwdGuard() {
    if (fd >= 0) {
      (void)!::fchdir(fd);
      ::close(fd);
    }
  }
};

}  // namespace

RestoreResult restore_archive(const RestoreRequest& req) {
  RestoreResult res;
  std::set<std::string> accepted;
  std::uint64_t needed = 0;
  {
    io::FileSource src(req.archive);
    auto v = check::verify_archive(src, req.archive, {req.threads, false});
    res.report = std::move(v.report);
    res.report.command = "restore";
    // An entry is accepted when it verified and no error names it (unsafe path, duplicate name).
    std::set<std::string> flagged;
    for (const auto& f : res.report.findings)
      if (f.severity == report::Severity::error && f.entry) flagged.insert(*f.entry);
    for (const auto& e : v.entries) {
      if (e.status == report::EntryStatus::ok && !flagged.count(e.name)) {
        accepted.insert(e.name);
        needed += e.uncompressed_size;
      }
    }
    res.skipped = v.entries.size() - accepted.size();
    if (res.report.verdict != report::Verdict::ok && !req.force) {
      res.outcome = RestoreResult::Outcome::refused;
      res.message = fmt::format("refused: verify found {} error(s), nothing was written; --force restores the {} "
                                "entr{} that verified and reports the rest",
                                res.report.count(report::Severity::error), accepted.size(),
                                accepted.size() == 1 ? "y" : "ies");
      return res;
    }
    if (!v.from_directory) {
      res.outcome = RestoreResult::Outcome::refused;
      res.message = "refused: the archive has no readable central directory; run zipmedic repair first, then restore "
                    "the repaired archive";
      return res;
    }
  }
  res.bytes_needed = needed;
  res.bytes_available = available_bytes(req.directory);
  // Each file may round up to a block; a small margin per entry keeps the estimate honest.
  std::uint64_t with_margin = needed + accepted.size() * 4096;
  if (with_margin > res.bytes_available) {
    res.outcome = RestoreResult::Outcome::no_space;
    res.message = fmt::format("{}: not enough space: the restore needs {} bytes, {} are available", req.directory,
                              with_margin, res.bytes_available);
    return res;
  }

  // libarchive converts names to the locale's character set; in the C locale a UTF-8 name
  // (bit 11, 4.4.4) cannot be converted and would not match the verified name.
  if (!std::setlocale(LC_CTYPE, "C.UTF-8")) std::setlocale(LC_CTYPE, "");
  fs::create_directories(req.directory);
  std::unique_ptr<archive, ArchiveCloser> in(archive_read_new());
  archive_read_support_format_zip_seekable(in.get());
  archive_read_support_filter_none(in.get());
  if (archive_read_open_filename(in.get(), req.archive.c_str(), 1 << 16) != ARCHIVE_OK)
    throw io::IoError(req.archive + ": libarchive cannot open it: " + archive_error_string(in.get()));
  std::unique_ptr<archive, WriterCloser> out(archive_write_disk_new());
  archive_write_disk_set_options(out.get(), ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_PERM |
                                                ARCHIVE_EXTRACT_SECURE_NODOTDOT |
                                                ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS |
                                                ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_UNLINK);
  archive_write_disk_set_standard_lookup(out.get());
  CwdGuard cwd;
  if (::chdir(req.directory.c_str()) != 0)
    throw io::IoError(req.directory + ": cannot enter: " + std::strerror(errno));
  archive_entry* entry = nullptr;
  int r;
  while ((r = archive_read_next_header(in.get(), &entry)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
    const char* name = archive_entry_pathname(entry);
    if (!name || !accepted.count(name)) {
      archive_read_data_skip(in.get());
      continue;
    }
    if (archive_write_header(out.get(), entry) != ARCHIVE_OK)
      throw io::IoError(fmt::format("{}: cannot restore '{}': {}", req.directory, name, archive_error_string(out.get())));
    const void* buf;
    size_t size;
    la_int64_t offset;
    while ((r = archive_read_data_block(in.get(), &buf, &size, &offset)) == ARCHIVE_OK) {
      if (archive_write_data_block(out.get(), buf, size, offset) != ARCHIVE_OK)
        throw io::IoError(fmt::format("{}: writing '{}' failed: {}", req.directory, name, archive_error_string(out.get())));
    }
    if (r != ARCHIVE_EOF)
      throw io::IoError(fmt::format("{}: reading '{}' failed: {}", req.archive, name, archive_error_string(in.get())));
    if (archive_write_finish_entry(out.get()) != ARCHIVE_OK)
      throw io::IoError(fmt::format("{}: finishing '{}' failed: {}", req.directory, name, archive_error_string(out.get())));
    ++res.restored;
  }
  if (r != ARCHIVE_EOF) throw io::IoError(req.archive + ": libarchive stopped: " + archive_error_string(in.get()));
  archive_write_close(out.get());
  res.outcome = RestoreResult::Outcome::restored;
  res.message = fmt::format("restored {} entr{} into {}{}", res.restored, res.restored == 1 ? "y" : "ies",
                            req.directory,
                            res.skipped ? fmt::format("; {} entr{} that did not verify were left out", res.skipped,
                                                      res.skipped == 1 ? "y" : "ies")
                                        : "");
  return res;
}

}  // namespace zm::restore
