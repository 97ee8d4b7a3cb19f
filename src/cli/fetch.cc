// zipmedic fetch URL -o OUT: a download that resumes, and a verify that runs as the bytes arrive.
// The bytes go to OUT.part, which keeps the validator (ETag, else Last-Modified) and size of the
// object it holds in extended attributes, so that a later run continues it only when the object
// is still the same; OUT appears, by a rename, only when every byte is there.
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <fmt/format.h>

#include <condition_variable>
#include <cstring>
#include <iostream>
#include <mutex>
#include <thread>

#include "check/verifier.h"
#include "cli/commands.h"
#include "io/output.h"
#include "io/remote.h"
#include "report/progress.h"
#include "report/report.h"

namespace zm::cli {
namespace {

constexpr const char* kValidator = "user.zipmedic.validator";
constexpr const char* kSize = "user.zipmedic.size";

std::string get_attr(int fd, const char* name) {
  char buf[512];
  ssize_t n = ::fgetxattr(fd, name, buf, sizeof buf);
  return n > 0 ? std::string(buf, std::size_t(n)) : "";
}

// OUT.part, opened to go on from where an earlier run stopped when it holds the start of the
// same object, else emptied.
struct Part {
  std::string path;
  int fd = -1;
  std::uint64_t start = 0;
  std::string note;  // why an existing OUT.part was not continued
  ~Part() {
    if (fd >= 0) ::close(fd);
  }
};

void open_part(Part& p, const std::string& out, const io::RemoteObject& obj) {
  p.path = out + ".part";
  p.fd = ::open(p.path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (p.fd < 0) throw io::RemoteReadError(p.path + ": cannot open: " + std::strerror(errno));
  struct stat st {};
  ::fstat(p.fd, &st);
  const std::uint64_t have = std::uint64_t(st.st_size);
  const std::string size = std::to_string(obj.size);
  if (have > 0) {
    if (obj.validator().empty() || !obj.size_known)
      p.note = "the server gives no ETag or Last-Modified, so what it held cannot be matched: starting over";
    else if (get_attr(p.fd, kValidator) != obj.validator() || get_attr(p.fd, kSize) != size || have > obj.size)
      p.note = "it holds another version of the object (ETag or size differ): starting over";
    else
      p.start = have;
  }
  if (p.start == 0 && (have > 0 && ::ftruncate(p.fd, 0) != 0))
    throw io::RemoteReadError(p.path + ": cannot empty: " + std::strerror(errno));
  ::fsetxattr(p.fd, kValidator, obj.validator().data(), obj.validator().size(), 0);
  ::fsetxattr(p.fd, kSize, size.data(), size.size(), 0);
}

// The download, on a thread of its own, and the verifier's view of it: pull() gives the file's
// bytes in order as they are written, waiting for them.
struct Download {
  std::mutex mu;
  std::condition_variable more;
  std::uint64_t written = 0, pulled = 0;
  bool done = false;
  std::exception_ptr error;
  std::atomic<std::uint64_t>* counter = nullptr;
  int fd = -1;

  void run(const io::Remote& remote, const io::RemoteObject& obj) {
    try {
      if (!obj.size_known || written < obj.size) {
        io::Connection c;
        remote.read(c, obj, written, obj.size_known ? std::optional(obj.size - 1) : std::nullopt,
                    [&](std::span<const std::uint8_t> b) { append(b); });
      }
    } catch (...) {
      std::lock_guard lock(mu);
      error = std::current_exception();
    }
    std::lock_guard lock(mu);
    done = true;
    more.notify_all();
  }
  void append(std::span<const std::uint8_t> b) {
    std::size_t off = 0;
    while (off < b.size()) {
      ssize_t n = ::pwrite(fd, b.data() + off, b.size() - off, off_t(written + off));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw io::RemoteReadError(std::string("cannot write the download: ") + std::strerror(errno));
      off += std::size_t(n);
    }
    std::lock_guard lock(mu);
    written += b.size();
    if (counter) *counter = written;
    more.notify_all();
  }
  std::size_t pull(std::uint8_t* p, std::size_t n) {
    std::unique_lock lock(mu);
    more.wait(lock, [&] { return done || written > pulled; });
    if (written == pulled) {
      if (error) std::rethrow_exception(error);
      return 0;
    }
    const std::size_t take = std::size_t(std::min<std::uint64_t>(n, written - pulled));
    const std::uint64_t at = pulled;
    lock.unlock();
    ssize_t got = ::pread(fd, p, take, off_t(at));
    if (got <= 0) throw io::RemoteReadError(std::string("cannot read the download back: ") + std::strerror(errno));
    lock.lock();
    pulled += std::uint64_t(got);
    return std::size_t(got);
  }
};

void show(const report::Report& r, const CommonOptions& o) {
  if (o.json)
    report::write_json(std::cout, r);
  else if (!o.quiet)
    report::write_text(std::cout, r, o.verbose);
  std::cout.flush();
}

Exit verdict_of(const report::Report& r) {
  return r.verdict == report::Verdict::ok       ? Exit::ok
         : r.verdict == report::Verdict::locked ? Exit::cannot_proceed
                                                : Exit::damaged;
}

// Whether the archive was never finished (no end record): repair rebuilds its directory.
bool never_finished(const report::Report& r) {
  for (const auto& f : r.findings)
    if (f.code == report::Code::eocd_missing) return true;
  return false;
}

// OUT.part becomes OUT: synced, its attributes dropped, renamed without replacing an OUT that
// appeared meanwhile unless --force.
void commit(const Part& p, const std::string& out, bool force) {
  if (::fsync(p.fd) != 0) throw io::RemoteReadError(p.path + ": cannot sync: " + std::strerror(errno));
  ::fremovexattr(p.fd, kValidator);
  ::fremovexattr(p.fd, kSize);
  const int rc = force ? ::rename(p.path.c_str(), out.c_str())
                       : ::renameat2(AT_FDCWD, p.path.c_str(), AT_FDCWD, out.c_str(), RENAME_NOREPLACE);
  if (rc != 0) throw io::RemoteReadError(out + ": cannot put the download in place: " + std::strerror(errno));
}

Exit fetch_into(const std::string& url, const FetchOptions& f, const CommonOptions& o, report::Report& r) {
  const std::string shown = io::redact_url(url);
  io::Remote remote(url, o.remote);
  io::RemoteObject obj;
  {
    io::Connection c;
    obj = remote.head(c);
  }
  Part part;
  open_part(part, f.output, obj);
  if (!part.note.empty() && !o.quiet && !o.json) fmt::print(stderr, "zipmedic: {}: {}\n", part.path, part.note);
  Download d;
  d.fd = part.fd;
  d.written = part.start;
  report::Progress progress(!o.quiet && !o.json, obj.size_known ? obj.size : report::Progress::kUnsized,
                            "downloading");
  progress.counter() = part.start;
  d.counter = &progress.counter();
  std::thread downloader([&] { d.run(remote, obj); });
  check::VerifyOptions vo{o.threads, false};
  vo.keep_entries = false;
  vo.password = o.password_lent();
  io::StreamSource stream([&](std::uint8_t* p, std::size_t n) { return d.pull(p, n); }, f.output);
  std::exception_ptr verify_error;
  std::optional<check::Verification> v;
  try {
    v = check::verify_stream(stream, f.output, vo);
  } catch (...) {
    verify_error = std::current_exception();
  }
  downloader.join();  // a verifier that stopped early (not a ZIP) does not stop the download
  progress.finish();
  if (d.error) {
    try {
      std::rethrow_exception(d.error);
    } catch (const io::ObjectChanged&) {
      throw;
    } catch (const std::exception& e) {
      throw io::RemoteReadError(fmt::format("{}; {} keeps the {} bytes received: the same command resumes from there",
                                    e.what(), part.path, d.written));
    }
  }
  commit(part, f.output, f.force);
  if (verify_error) std::rethrow_exception(verify_error);
  const std::string started = r.started;
  r = std::move(v->report);
  r.command = "fetch";
  r.started = started;
  struct stat st {};
  if (::stat(f.output.c_str(), &st) == 0) r.mtime = rfc3339(st.st_mtime);
  r.extra["fetch"] = {{"url", shown}, {"resumed_from", part.start}, {"bytes", d.written}, {"etag", obj.etag}};
  r.decide_verdict(o.strict);
  r.settle_display_names();
  show(r, o);
  if (never_finished(r) && !o.json)
    fmt::print(stderr, "zipmedic: {}: the archive was never finished (no end of central directory); zipmedic repair "
                       "{} -o fixed.zip rebuilds its directory from the entries that arrived\n",
               f.output, f.output);
  return verdict_of(r);
}

}  // namespace

Exit run_fetch(const std::string& url, const FetchOptions& f, const CommonOptions& o) {
  if (!io::is_remote(url)) {
    fmt::print(stderr, "zipmedic: fetch: {} is not a URL (http://, https:// or s3://BUCKET/KEY)\n", url);
    return Exit::usage;
  }
  try {
    auto t = io::classify_output(f.output);
    if (t.kind == io::OutputTarget::Kind::stream) {
      fmt::print(stderr, "zipmedic: fetch: {} is not a regular file; fetch writes a file (and OUT.part beside it)\n",
                 f.output);
      return Exit::usage;
    }
    if (t.kind == io::OutputTarget::Kind::existing_file && !f.force) {
      fmt::print(stderr, "zipmedic: fetch: {} already exists; it is left as it is (--force replaces it)\n", f.output);
      return Exit::usage;
    }
  } catch (const io::Failure& e) {
    fmt::print(stderr, "zipmedic: fetch: {}\n", e.what());
    return Exit::usage;
  }
  report::Report r;
  r.command = "fetch";
  r.archive_path = f.output;
  r.started = rfc3339_now();
  try {
    return fetch_into(url, f, o, r);
  } catch (const std::exception& e) {
    const bool open = dynamic_cast<const io::RemoteOpenError*>(&e) != nullptr;
    fmt::print(stderr, "zipmedic: {}\n", e.what());
    if (o.json) {
      report::Report u;
      u.command = "fetch";
      u.archive_path = f.output;
      u.started = r.started;
      u.verdict = report::Verdict::unreadable;
      u.add(report::make_finding(open ? report::Code::cannot_open : report::Code::io_failed, std::nullopt,
                                 std::nullopt, e.what()));
      report::write_json(std::cout, u);
    }
    return Exit::cannot_proceed;
  }
}

}  // namespace zm::cli
