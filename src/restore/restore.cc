#include "restore/restore.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <fmt/format.h>

#include <clocale>
#include <filesystem>
#include <map>
#include <set>
#include <vector>

#include "check/readers.h"
#include "check/verifier.h"
#include "codec/codec.h"
#include "crypt/zip_crypto.h"
#include "io/source.h"
#include "scan/central_directory.h"
#include "scan/end_records.h"
#include "scan/volumes.h"

namespace zm::restore {
namespace fs = std::filesystem;

namespace {

// libarchive's words for its last failure. archive_error_string() is NULL when it set none (a
// read that came back short, for one), and a NULL in a message is a crash.
std::string libarchive_error(archive* a) {
  if (const char* s = archive_error_string(a)) return s;
  const int e = archive_errno(a);
  return e ? std::strerror(e) : "no reason given";
}

// Free bytes on the filesystem that holds `dir`, or on its nearest existing parent.
std::uint64_t available_bytes(const std::string& dir) {
  fs::path p = fs::absolute(dir);
  while (!p.empty() && !fs::exists(p)) p = p.parent_path();
  struct statvfs st {};
  if (::statvfs(p.c_str(), &st) != 0) throw io::Failure(io::Fail::resource, dir + ": cannot query free space: " + std::strerror(errno));
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

// The components of an entry's name as libarchive will place it: empty and "." ones dropped
// (verify has already refused "..", absolute names and backslashes).
std::vector<std::string> components(const std::string& name) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i <= name.size()) {
    std::size_t j = name.find('/', i);
    if (j == std::string::npos) j = name.size();
    std::string c = name.substr(i, j - i);
    if (!c.empty() && c != ".") out.push_back(std::move(c));
    i = j + 1;
  }
  return out;
}

std::string join(const std::vector<std::string>& parts, std::size_t n) {
  std::string p;
  for (std::size_t i = 0; i < n; ++i) p += (i ? "/" : "") + parts[i];
  return p;
}

struct Planned {
  std::string name;
  bool directory = false, symlink = false;
};

// What the restore would write through or over, judged before anything is written: the
// archive's own symbolic links (never followed, --force or not: an archive that writes
// `escape/pwned.txt` after making `escape` a link to elsewhere is refused whole), and what is
// already in DIR (a file, a link, a directory where a file goes), which only --force replaces.
void judge_targets(const std::vector<Planned>& plan, const std::string& dir, bool overwrite, report::Report& rep,
                   bool& through_own_link, std::size_t& conflicts) {
  std::set<std::string> links, dirs_made;
  for (const auto& p : plan)
    if (p.symlink) links.insert(join(components(p.name), components(p.name).size()));
  std::set<std::string> judged;
  for (const auto& p : plan) {
    auto parts = components(p.name);
    if (parts.empty()) continue;
    for (std::size_t k = 1; k < parts.size(); ++k) {
      std::string prefix = join(parts, k);
      if (links.count(prefix)) {
        rep.add(report::make_finding(report::Code::restore_through_symlink, p.name, std::nullopt,
                                     fmt::format("'{}' would be written through '{}', a symbolic link the archive "
                                                 "itself makes; the archive is refused whole",
                                                 report::printable_name(p.name), report::printable_name(prefix))));
        through_own_link = true;
        break;
      }
      if (!judged.insert(prefix).second) continue;
      struct stat st {};
      if (::lstat((dir + "/" + prefix).c_str(), &st) != 0 || S_ISDIR(st.st_mode)) continue;
      if (!overwrite) {
        bool link = S_ISLNK(st.st_mode);
        rep.add(report::make_finding(link ? report::Code::restore_through_symlink : report::Code::restore_target_exists,
                                     p.name, std::nullopt,
                                     fmt::format("{}/{} is already there as {}, where '{}' needs a directory; "
                                                 "--force replaces it",
                                                 dir, report::printable_name(prefix),
                                                 link ? "a symbolic link" : "a file", report::printable_name(p.name))));
        ++conflicts;
      }
    }
    std::string whole = join(parts, parts.size());
    struct stat st {};
    if (::lstat((dir + "/" + whole).c_str(), &st) != 0) continue;
    // A directory entry meeting a directory changes no file's bytes.
    if (p.directory && S_ISDIR(st.st_mode)) continue;
    if (!overwrite) {
      rep.add(report::make_finding(
          S_ISLNK(st.st_mode) ? report::Code::restore_through_symlink : report::Code::restore_target_exists, p.name,
          std::nullopt,
          fmt::format("{}/{} is already there ({}); it is left as it is (--force replaces it)", dir,
                      report::printable_name(whole),
                      S_ISLNK(st.st_mode) ? "a symbolic link" : S_ISDIR(st.st_mode) ? "a directory" : "a file")));
      ++conflicts;
    }
  }
}

// libarchive reads a source of ours through callbacks: the seekable ZIP reader needs seek, and
// an exception must not cross libarchive's C frames, so it waits here until libarchive returns.
struct CallbackReader {
  io::ByteSource* src = nullptr;
  std::uint64_t pos = 0;
  std::vector<std::uint8_t> buf = std::vector<std::uint8_t>(1 << 16);
  std::exception_ptr error;
};

la_ssize_t read_callback(archive*, void* ctx, const void** out) {
  auto* r = static_cast<CallbackReader*>(ctx);
  try {
    std::size_t n = r->src->read_at(r->pos, r->buf);
    r->pos += n;
    *out = r->buf.data();
    return la_ssize_t(n);
  } catch (...) {
    r->error = std::current_exception();
    return ARCHIVE_FATAL;
  }
}

la_int64_t seek_callback(archive*, void* ctx, la_int64_t offset, int whence) {
  auto* r = static_cast<CallbackReader*>(ctx);
  la_int64_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? la_int64_t(r->pos) : la_int64_t(r->src->size());
  if (base + offset < 0) return ARCHIVE_FATAL;
  r->pos = std::uint64_t(base + offset);
  return la_int64_t(r->pos);
}

la_int64_t skip_callback(archive*, void* ctx, la_int64_t n) {
  auto* r = static_cast<CallbackReader*>(ctx);
  std::uint64_t left = r->src->size() > r->pos ? r->src->size() - r->pos : 0;
  std::uint64_t k = std::min<std::uint64_t>(left, std::uint64_t(std::max<la_int64_t>(n, 0)));
  r->pos += k;
  return la_int64_t(k);
}

// Decodes the entry with codec/ (decrypting it first when it is ZipCrypto) into the file whose
// header libarchive's disk writer has just made, so that its security checks, permissions and
// times still apply. The data verified a moment ago; a different result now is an I/O failure.
void extract_ourselves(io::ByteSource& src, scan::Entry e, archive* out, const std::string& shown,
                       const std::string& dir, const std::string* password) {
  codec::Workspace ws;
  auto req = scan::sized_request(e);
  la_int64_t at = 0;
  bool write_failed = false;
  req.sink = [&](std::span<const std::uint8_t> b) {
    if (write_failed || b.empty()) return;
    if (archive_write_data_block(out, b.data(), b.size(), at) != ARCHIVE_OK) write_failed = true;
    at += la_int64_t(b.size());
  };
  auto d = scan::decode_data(ws, src, req, e, password);
  if (write_failed)
    throw io::Failure(io::Fail::cannot_write, fmt::format("{}: writing '{}' failed: {}", dir, report::printable_name(e.name),
                                  libarchive_error(out)));
  if (d.status != codec::DecodeResult::Status::ok || d.crc != e.crc32 || d.produced != e.uncompressed_size)
    throw io::Failure(io::Fail::cannot_read, fmt::format("{}: '{}' no longer decodes to the data verify checked{}", shown,
                                  report::printable_name(e.name), d.error.empty() ? "" : ": " + d.error));
}

// What libarchive reads: the archive's file, or a view of its bytes through the callbacks.
struct ReaderSource {
  CallbackReader callbacks;  // used when callbacks.src is set
  scan::JoinedView joined;
};

void open_reader(archive* in, const std::string& file, ReaderSource& from, const std::string& shown,
                 const std::string* password) {
  archive_read_support_format_zip_seekable(in);
  archive_read_support_filter_none(in);
  // Encrypted entries (ZipCrypto, WinZip AES) that verify proved under this password.
  if (password && archive_read_add_passphrase(in, password->c_str()) != ARCHIVE_OK)
    throw io::Failure(io::Fail::password, shown + ": libarchive did not take the password: " + libarchive_error(in));
  if (!from.callbacks.src) {
    if (archive_read_open_filename(in, file.c_str(), 1 << 16) != ARCHIVE_OK)
      throw io::Failure(io::Fail::cannot_read, shown + ": libarchive cannot open it: " + libarchive_error(in));
    return;
  }
  archive_read_set_callback_data(in, &from.callbacks);
  archive_read_set_read_callback(in, read_callback);
  archive_read_set_seek_callback(in, seek_callback);
  archive_read_set_skip_callback(in, skip_callback);
  if (archive_read_open1(in) != ARCHIVE_OK) {
    if (from.callbacks.error) std::rethrow_exception(from.callbacks.error);
    throw io::Failure(io::Fail::cannot_read, shown + ": libarchive cannot open it: " + libarchive_error(in));
  }
}

std::string strip_dots(std::string s) {
  while (s.size() >= 2 && s[0] == '.' && s[1] == '/') s.erase(0, 2);
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

}  // namespace

bool pattern_matches(const std::string& pattern, const std::string& name) {
  // FNM_PATHNAME keeps `*` inside one component; FNM_LEADING_DIR lets "docs" take "docs/a.txt",
  // as bsdtar -x docs does.
  return ::fnmatch(strip_dots(pattern).c_str(), strip_dots(name).c_str(), FNM_PATHNAME | FNM_LEADING_DIR) == 0;
}

bool exclude_matches(const std::string& pattern, const std::string& name) {
  // bsdtar anchors --exclude at no particular component: "b.bin" leaves out every b.bin.
  if (pattern_matches(pattern, name)) return true;
  for (std::size_t i = name.find('/'); i != std::string::npos && i + 1 < name.size(); i = name.find('/', i + 1))
    if (pattern_matches(pattern, name.substr(i + 1))) return true;
  return false;
}

namespace {

// What restore will write: the entries that verified and that the patterns select.
struct Selection {
  std::set<std::string> accepted;
  std::vector<Planned> plan;
  std::uint64_t needed = 0;  // their bytes
  // Entries libarchive cannot decode, extracted through codec/ instead, by name.
  std::map<std::string, scan::Entry> ours;
  // Modification times from NTFS extra fields, by name (libarchive 3.6.2 reads 0x5455 and the DOS
  // time, not 0x000a, which 7-Zip and Windows write).
  std::map<std::string, zip::UnixTime> ntfs_times;
};

void refuse(RestoreResult& res, std::string message) {
  res.outcome = RestoreResult::Outcome::refused;
  res.message = std::move(message);
}

// The whole archive verified, with the findings its bytes cannot show (a split set's volumes).
check::Verification verify(io::ByteSource& src, const RestoreRequest& req, const std::string& shown,
                           RestoreResult& res) {
  auto v = check::verify_archive(src, shown, {.threads = req.threads, .password = req.password});
  res.report = std::move(v.report);
  res.report.command = "restore";
  if (!req.findings.empty()) {
    res.report.findings.insert(res.report.findings.begin(), req.findings.begin(), req.findings.end());
    res.report.decide_verdict();
  }
  return v;
}

bool selected(const RestoreRequest& req, const std::string& name) {
  bool take = req.patterns.empty();
  for (const auto& p : req.patterns) take = take || pattern_matches(p, name);
  for (const auto& p : req.excludes) take = take && !exclude_matches(p, name);
  return take;
}

// A pattern that takes nothing is most likely mistyped: said before anything is written, as
// bsdtar says "Not found in archive".
std::optional<std::string> unmatched_pattern(const RestoreRequest& req, const std::vector<scan::Entry>& entries,
                                             const std::string& shown) {
  for (const auto& p : req.patterns) {
    bool any = false;
    for (const auto& e : entries) any = any || pattern_matches(p, e.name);
    if (!any)
      return fmt::format("refused: no entry matches '{}'; nothing was written (zipmedic list {} shows the names)",
                         report::printable_name(p), shown);
  }
  return std::nullopt;
}

// An entry is accepted when it verified and no error names it (unsafe path, duplicate name).
Selection select(const RestoreRequest& req, const std::vector<scan::Entry>& entries, RestoreResult& res) {
  std::set<std::string> flagged;
  for (const auto& f : res.report.findings)
    if (f.severity == report::Severity::error && f.entry) flagged.insert(*f.entry);
  Selection sel;
  std::size_t considered = 0;
  for (const auto& e : entries) {
    if (!selected(req, e.name)) {
      ++res.not_selected;
      continue;
    }
    ++considered;
    if (e.status != report::EntryStatus::ok || flagged.count(e.name)) continue;
    sel.accepted.insert(e.name);
    // What libarchive cannot decode and zipmedic can (Deflate64: "Unsupported ZIP compression
    // method (9)") is written by zipmedic. Plain and ZipCrypto entries keep their method in the
    // field; a WinZip AES entry's inner method is in its extra field, which the verification has
    // dropped by now, so it stays libarchive's.
    if (!check::readers::has_method(report::kLibarchive, e.method) && codec::method_supported(e.method))
      sel.ours.emplace(e.name, e);
    sel.needed += e.uncompressed_size;
    std::uint32_t type = e.unix_mode() & S_IFMT;
    sel.plan.push_back({e.name, e.is_directory() || type == S_IFDIR, type == S_IFLNK});
  }
  res.skipped = considered - sel.accepted.size();
  return sel;
}

std::optional<std::string> unverified_refusal(const RestoreRequest& req, const check::Verification& v,
                                              const Selection& sel, const RestoreResult& res) {
  if (res.report.verdict != report::Verdict::ok && !req.partial) {
    auto errors = res.report.count(report::Severity::error);
    return fmt::format("refused: verify found {} {}, nothing was written; --partial restores the {} that verified "
                       "and reports the rest",
                       errors, errors == 1 ? "error" : "errors",
                       sel.accepted.size() == 1 ? "1 entry" : fmt::format("{} entries", sel.accepted.size()));
  }
  if (!v.from_directory)
    return "refused: the archive has no readable central directory; run zipmedic repair first, then restore the "
           "repaired archive";
  return std::nullopt;
}

// The verification has let go of the extra fields; the directory is read again for its times.
std::map<std::string, zip::UnixTime> ntfs_times(io::ByteSource& src, const std::set<std::string>& accepted) {
  std::map<std::string, zip::UnixTime> times;
  if (auto end = scan::locate_end_records(src)) {
    for (const auto& e : scan::read_central_directory(src, *end).entries) {
      if (!accepted.count(e.name)) continue;
      const auto& x = e.cd_extra();
      if (auto t = zip::ntfs_modified({reinterpret_cast<const std::uint8_t*>(x.data()), x.size()}))
        times.emplace(e.name, *t);
    }
  }
  return times;
}

std::optional<std::string> target_refusal(const RestoreRequest& req, const Selection& sel, RestoreResult& res) {
  bool through_own_link = false;
  std::size_t conflicts = 0;
  judge_targets(sel.plan, req.directory, req.overwrite, res.report, through_own_link, conflicts);
  if (!through_own_link && !conflicts) return std::nullopt;
  res.report.decide_verdict();
  if (through_own_link)
    return "refused: an entry would be written through a symbolic link that the archive itself makes; nothing was "
           "written";
  return fmt::format("refused: {} path{} in {} already exist{}; nothing was written (--force replaces them)",
                     conflicts, conflicts == 1 ? "" : "s", req.directory, conflicts == 1 ? "s" : "");
}

bool room_for(const RestoreRequest& req, const Selection& sel, RestoreResult& res) {
  res.bytes_needed = sel.needed;
  res.bytes_available = available_bytes(req.directory);
  // Each file may round up to a block; a small margin per entry keeps the estimate honest.
  std::uint64_t with_margin = sel.needed + sel.accepted.size() * 4096;
  if (with_margin <= res.bytes_available) return true;
  res.outcome = RestoreResult::Outcome::no_space;
  res.message = fmt::format("{}: not enough space: the restore needs {} bytes, {} are available", req.directory,
                            with_margin, res.bytes_available);
  return false;
}

// libarchive knows no volumes, so it reads a split set's bytes as one ordinary ZIP; and it stops
// at the first local header it cannot read, so with --partial it is shown a directory of only the
// entries that verified (a view; nothing is copied to disk).
std::optional<std::string> view_for_libarchive(const RestoreRequest& req, io::ByteSource& src, const Selection& sel,
                                               const RestoreResult& res, const std::string& shown,
                                               ReaderSource& from) {
  if (!req.source && !res.skipped) return std::nullopt;
  from.joined = scan::joined_view(src, res.skipped ? &sel.accepted : nullptr);
  if (!from.joined.src)
    return fmt::format("refused: the directory of {} cannot be rebuilt for libarchive ({}); nothing was written; "
                       "zipmedic repair -o fixed.zip keeps what verified, then restore fixed.zip",
                       shown, from.joined.why);
  from.callbacks.src = from.joined.src;
  return std::nullopt;
}

// The accepted entries, read by libarchive and written by its disk writer into DIR, which is the
// working directory meanwhile.
class Extraction {
 public:
  Extraction(const RestoreRequest& req, const std::string& shown, io::ByteSource& src, ReaderSource& from,
             const Selection& sel, RestoreResult& res);
  void run();

 private:
  bool appeared_meanwhile(archive_entry* entry, const char* name);
  void write_entry(archive_entry* entry, const char* name);
  void copy_data(const char* name);
  void rethrow_reader_error() const {
    if (from_.callbacks.error) std::rethrow_exception(from_.callbacks.error);
  }

  const RestoreRequest& req_;
  const std::string& shown_;
  io::ByteSource& src_;
  ReaderSource& from_;
  const Selection& sel_;
  RestoreResult& res_;
  std::set<std::string> done_;  // accepted entries written, or left because they appeared meanwhile
  std::unique_ptr<archive, ArchiveCloser> in_;
  std::unique_ptr<archive, WriterCloser> out_;
  std::optional<CwdGuard> cwd_;  // back out of DIR before the writer is freed
};

Extraction::Extraction(const RestoreRequest& req, const std::string& shown, io::ByteSource& src, ReaderSource& from,
                       const Selection& sel, RestoreResult& res)
    : req_(req), shown_(shown), src_(src), from_(from), sel_(sel), res_(res) {
  // libarchive converts names to the locale's character set; in the C locale a UTF-8 name
  // (bit 11, 4.4.4) cannot be converted and would not match the verified name.
  if (!std::setlocale(LC_CTYPE, "C.UTF-8")) std::setlocale(LC_CTYPE, "");
  std::error_code ec;
  fs::create_directories(req.directory, ec);
  if (ec) throw io::Failure(io::Fail::cannot_write, req.directory + ": cannot create the directory: " + ec.message());
  in_.reset(archive_read_new());
  open_reader(in_.get(), req.archive, from, shown, req.password);
  out_.reset(archive_write_disk_new());
  // Without --force nothing there is replaced: NO_OVERWRITE backs up judge_targets against a
  // file that appears meanwhile (libarchive then skips the entry quietly, so each target is
  // looked at again just before it is written, and only what was written is counted).
  archive_write_disk_set_options(out_.get(),
                                 ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_SECURE_NODOTDOT |
                                     ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                                     (req.overwrite ? ARCHIVE_EXTRACT_UNLINK : ARCHIVE_EXTRACT_NO_OVERWRITE));
  archive_write_disk_set_standard_lookup(out_.get());
  cwd_.emplace();
  if (::chdir(req.directory.c_str()) != 0)
    throw io::Failure(io::Fail::cannot_open, req.directory + ": cannot enter: " + std::strerror(errno));
}

void Extraction::run() {
  archive_entry* entry = nullptr;
  int r;
  while ((r = archive_read_next_header(in_.get(), &entry)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
    const char* name = archive_entry_pathname(entry);
    if (!name || !sel_.accepted.count(name) || appeared_meanwhile(entry, name)) {
      archive_read_data_skip(in_.get());
      continue;
    }
    write_entry(entry, name);
  }
  if (r != ARCHIVE_EOF) {
    rethrow_reader_error();
    throw io::Failure(io::Fail::cannot_read, shown_ + ": libarchive stopped: " + libarchive_error(in_.get()));
  }
  archive_write_close(out_.get());
  for (const auto& name : sel_.accepted)
    if (!done_.count(name))
      throw io::Failure(io::Fail::cannot_read, fmt::format("{}: libarchive did not read '{}', which verified; {} entries were restored",
                                    shown_, report::printable_name(name), res_.restored));
}

// Without --force, a target that was not there when the targets were judged is left as it is.
bool Extraction::appeared_meanwhile(archive_entry* entry, const char* name) {
  if (req_.overwrite) return false;
  struct stat st {};
  bool is_dir = archive_entry_filetype(entry) == AE_IFDIR;
  if (::lstat(name, &st) != 0 || (is_dir && S_ISDIR(st.st_mode))) return false;
  res_.report.add(report::make_finding(report::Code::restore_target_exists, std::string(name), std::nullopt,
                                       fmt::format("{}/{} appeared while the restore ran; it is left as it is",
                                                   req_.directory, report::printable_name(name))));
  ++res_.skipped;
  done_.insert(name);
  return true;
}

void Extraction::write_entry(archive_entry* entry, const char* name) {
  if (auto t = sel_.ntfs_times.find(name); t != sel_.ntfs_times.end())
    archive_entry_set_mtime(entry, time_t(t->second.seconds), long(t->second.nanoseconds));
  if (archive_write_header(out_.get(), entry) != ARCHIVE_OK)
    throw io::Failure(io::Fail::cannot_write,
        fmt::format("{}: cannot restore '{}': {}", req_.directory, name, libarchive_error(out_.get())));
  if (auto own = sel_.ours.find(name); own != sel_.ours.end()) {
    extract_ourselves(src_, own->second, out_.get(), shown_, req_.directory, req_.password);
    archive_read_data_skip(in_.get());
  } else {
    copy_data(name);
  }
  if (archive_write_finish_entry(out_.get()) != ARCHIVE_OK)
    throw io::Failure(io::Fail::cannot_write,
        fmt::format("{}: finishing '{}' failed: {}", req_.directory, name, libarchive_error(out_.get())));
  ++res_.restored;
  done_.insert(name);
}

void Extraction::copy_data(const char* name) {
  const void* buf;
  size_t size;
  la_int64_t offset;
  int r;
  while ((r = archive_read_data_block(in_.get(), &buf, &size, &offset)) == ARCHIVE_OK) {
    if (archive_write_data_block(out_.get(), buf, size, offset) != ARCHIVE_OK)
      throw io::Failure(io::Fail::cannot_write,
          fmt::format("{}: writing '{}' failed: {}", req_.directory, name, libarchive_error(out_.get())));
  }
  if (r != ARCHIVE_EOF) {
    rethrow_reader_error();
    throw io::Failure(io::Fail::cannot_read,
                      fmt::format("{}: reading '{}' failed: {}", shown_, name, libarchive_error(in_.get())));
  }
}

std::string restored_message(const RestoreRequest& req, const RestoreResult& res) {
  return fmt::format("restored {} entr{} into {}{}{}", res.restored, res.restored == 1 ? "y" : "ies", req.directory,
                     res.skipped ? fmt::format("; {} that did not verify {} left out",
                                               res.skipped == 1 ? "1 entry" : fmt::format("{} entries", res.skipped),
                                               res.skipped == 1 ? "was" : "were")
                                 : "",
                     res.not_selected ? fmt::format("; {} not selected", res.not_selected) : "");
}

}  // namespace

RestoreResult restore_archive(const RestoreRequest& req) {
  RestoreResult res;
  const std::string& shown = req.display.empty() ? req.archive : req.display;
  std::unique_ptr<io::FileSource> file;
  if (!req.source) file = std::make_unique<io::FileSource>(req.archive);
  io::ByteSource& src = req.source ? *req.source : *file;
  Selection sel;
  {
    // The verification's catalogue is let go once the selection is made.
    const auto v = verify(src, req, shown, res);
    if (auto why = unmatched_pattern(req, v.entries, shown)) {
      refuse(res, std::move(*why));
      return res;
    }
    sel = select(req, v.entries, res);
    if (auto why = unverified_refusal(req, v, sel, res)) {
      refuse(res, std::move(*why));
      return res;
    }
    sel.ntfs_times = ntfs_times(src, sel.accepted);
  }
  if (auto why = target_refusal(req, sel, res)) {
    refuse(res, std::move(*why));
    return res;
  }
  if (!room_for(req, sel, res)) return res;
  ReaderSource from;
  if (auto why = view_for_libarchive(req, src, sel, res, shown, from)) {
    refuse(res, std::move(*why));
    return res;
  }
  Extraction(req, shown, src, from, sel, res).run();
  res.outcome = RestoreResult::Outcome::restored;
  res.message = restored_message(req, res);
  return res;
}

}  // namespace zm::restore
