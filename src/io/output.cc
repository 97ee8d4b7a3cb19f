#include "io/output.h"

#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <vector>

#include "io/cleanup.h"
#include "io/source.h"

namespace zm::io {
namespace {

void write_all(int fd, std::string_view data, const std::string& what) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      throw Failure(Fail::cannot_write, what + ": write failed: " + std::strerror(errno));
    }
    data.remove_prefix(std::size_t(n));
  }
}

std::string dir_of(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

void fsync_dir(const std::string& path) {
  int d = ::open(dir_of(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (d >= 0) {
    ::fsync(d);
    ::close(d);
  }
}

std::string fmt_size_msg(const std::string& what, const std::string& where, std::uint64_t need,
                         std::uint64_t avail) {
  return what + ": not enough space in " + where + ": " + std::to_string(need) + " bytes are needed, " +
         std::to_string(avail) + " are available";
}

// A fresh name (`stem` + random digits), created with O_EXCL so that nothing there is reused.
int create_unique(const std::string& stem, std::string& path, mode_t mode = 0600) {
  std::random_device rd;
  int fd = -1;
  for (int tries = 0; tries < 16 && fd < 0; ++tries) {
    path = stem + std::to_string(rd() % 1000000);
    fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0 && errno != EEXIST) break;
  }
  return fd;
}

}  // namespace

std::string temp_dir() {
  const char* t = std::getenv("TMPDIR");
  return t && *t ? t : "/tmp";
}

std::uint64_t free_bytes(const std::string& path) {
  std::filesystem::path p = std::filesystem::absolute(path);
  std::error_code ec;
  while (p.has_parent_path() && p != p.parent_path() && !std::filesystem::exists(p, ec)) p = p.parent_path();
  struct statvfs st {};
  if (::statvfs(p.c_str(), &st) != 0) throw Failure(Fail::resource, path + ": cannot query free space: " + std::strerror(errno));
  return std::uint64_t(st.f_bavail) * st.f_frsize;
}

AtomicOutputFile::AtomicOutputFile(const std::string& target, bool replace) : target_(target), replace_(replace) {
  cleanup::Hold hold;
  fd_ = create_unique(target + ".zipmedic-tmp-", temp_, 0644);
  if (fd_ < 0) throw Failure(Fail::cannot_write, target + ": cannot create a temporary file beside it: " + std::strerror(errno));
  slot_ = cleanup::add_file(temp_);
}

AtomicOutputFile::~AtomicOutputFile() {
  if (!committed_) rollback();
}

void AtomicOutputFile::write(std::string_view data) {
  write_all(fd_, data, temp_);
  written_ += data.size();
}

std::uint64_t AtomicOutputFile::copy_from(int in_fd, std::uint64_t offset, std::uint64_t len) {
  std::uint64_t done = 0;
  while (done < len) {
    loff_t in = loff_t(offset + done), out = loff_t(written_);
    const ssize_t n = ::copy_file_range(in_fd, &in, fd_, &out, std::size_t(std::min<std::uint64_t>(len - done, 1u << 30)), 0);
    if (n > 0) {
      done += std::uint64_t(n);
      written_ += std::uint64_t(n);
      continue;
    }
    if (n == 0) break;  // the input ended early: the caller's read says how
    if (errno == EINTR) continue;
    // No copy across filesystems (EXDEV before Linux 5.19), none on this filesystem or kernel
    // (EINVAL, EOPNOTSUPP, ENOSYS): the caller copies the rest through memory. A real write
    // error (ENOSPC, EIO) is left for that write to meet and report.
    break;
  }
  // The caller's next write() goes on from the file's offset, which copy_file_range with explicit
  // offsets leaves where it was.
  if (done && ::lseek(fd_, off_t(written_), SEEK_SET) < 0)
    throw Failure(Fail::cannot_write, temp_ + ": cannot seek after copying: " + std::strerror(errno));
  return done;
}

void AtomicOutputFile::finish() {
  if (::fsync(fd_) != 0) throw Failure(Fail::cannot_write, temp_ + ": fsync failed: " + std::strerror(errno));
  synced_ = true;
}

void AtomicOutputFile::commit() {
  if (!synced_) finish();
  if (::close(fd_) != 0) {
    fd_ = -1;
    throw Failure(Fail::cannot_write, temp_ + ": close failed: " + std::strerror(errno));
  }
  fd_ = -1;
  // Without --force the target must still not exist: a file that appeared since the checks is
  // someone's, and stays.
  unsigned flags = replace_ ? 0 : RENAME_NOREPLACE;
  int rc = ::renameat2(AT_FDCWD, temp_.c_str(), AT_FDCWD, target_.c_str(), flags);
  if (rc != 0 && errno == EINVAL && !replace_) {
    // A filesystem without RENAME_NOREPLACE (NFS, some FUSE): link() refuses an existing name too.
    rc = ::link(temp_.c_str(), target_.c_str());
    if (rc == 0) ::unlink(temp_.c_str());
  }
  if (rc != 0)
    throw Failure(Fail::cannot_write, target_ + (errno == EEXIST ? ": it appeared while the repair ran and is left as it is (--force replaces it)"
                                             : ": cannot rename the temporary file into place: " +
                                                   std::string(std::strerror(errno))));
  committed_ = true;
  cleanup::release(slot_);
  slot_ = -1;
  fsync_dir(target_);
}

void AtomicOutputFile::rollback() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  if (!committed_ && !temp_.empty()) ::unlink(temp_.c_str());
  cleanup::release(slot_);
  slot_ = -1;
  temp_.clear();
}

InPlaceAppender::InPlaceAppender(const std::string& path) : path_(path) {
  fd_ = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd_ < 0) throw Failure(Fail::cannot_open, path + ": cannot open for appending: " + std::strerror(errno));
  struct stat st {};
  ::fstat(fd_, &st);
  original_ = std::uint64_t(st.st_size);
  // A signal truncates back too; a file-size limit arrives as EFBIG from write() (io/cleanup.h).
  slot_ = cleanup::add_truncate(fd_, off_t(original_));
}

InPlaceAppender::~InPlaceAppender() {
  if (!done_) rollback();
  if (fd_ >= 0) ::close(fd_);
}

void InPlaceAppender::write(std::string_view data) {
  // pwrite at an explicit offset: nothing before original_ can ever be touched.
  std::uint64_t off = original_ + written_;
  while (!data.empty()) {
    ssize_t n = ::pwrite(fd_, data.data(), data.size(), off_t(off));
    if (n < 0) {
      if (errno == EINTR) continue;
      throw Failure(Fail::cannot_write, path_ + ": append failed at offset " + std::to_string(off) + ": " + std::strerror(errno));
    }
    data.remove_prefix(std::size_t(n));
    off += std::uint64_t(n);
    written_ += std::uint64_t(n);
  }
}

void InPlaceAppender::finish() {
  if (::fsync(fd_) != 0) throw Failure(Fail::cannot_write, path_ + ": fsync failed: " + std::strerror(errno));
}

void InPlaceAppender::commit() {
  finish();
  done_ = true;
  cleanup::release(slot_);
  slot_ = -1;
}

void InPlaceAppender::rollback() {
  if (fd_ >= 0) {
    (void)!::ftruncate(fd_, off_t(original_));
    ::fsync(fd_);
  }
  done_ = true;
  cleanup::release(slot_);
  slot_ = -1;
}


OutputTarget classify_output(const std::string& path) {
  OutputTarget t;
  t.path = path;
  // Names of descriptors this process already has: written through that descriptor, so that a
  // redirection keeps its offset (reopening /proc/self/fd/1 would start again at byte 0) and
  // the link itself is never replaced (a rename over /dev/stdout replaced the system's link).
  int fd = -1;
  if (path == "-" || path == "/dev/stdout") fd = STDOUT_FILENO;
  else if (path == "/dev/stderr") fd = STDERR_FILENO;
  else
    for (const char* prefix : {"/dev/fd/", "/proc/self/fd/"})
      if (path.rfind(prefix, 0) == 0 && path.size() > std::strlen(prefix) &&
          path.find_first_not_of("0123456789", std::strlen(prefix)) == std::string::npos)
        fd = std::atoi(path.c_str() + std::strlen(prefix));
  if (fd >= 0) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) throw Failure(Fail::usage, path + ": not an open descriptor: " + std::strerror(errno));
    t.kind = OutputTarget::Kind::stream;
    t.fd = fd;
    return t;
  }
  struct stat lst {}, st {};
  if (::lstat(path.c_str(), &lst) != 0) {
    if (errno != ENOENT) throw Failure(Fail::usage, path + ": cannot examine: " + std::strerror(errno));
    std::string dir = dir_of(path);
    struct stat dst {};
    if (::stat(dir.c_str(), &dst) != 0 || !S_ISDIR(dst.st_mode))
      throw Failure(Fail::usage, path + ": its directory " + dir + " does not exist");
    return t;
  }
  if (::stat(path.c_str(), &st) != 0)
    throw Failure(Fail::usage, path + ": a symbolic link to something missing (" + std::strerror(errno) +
                  "); give the path it should point to, or remove the link");
  if (S_ISDIR(st.st_mode)) throw Failure(Fail::usage, path + ": is a directory; give a file name for the repaired archive");
  if (!S_ISREG(st.st_mode)) {
    t.kind = OutputTarget::Kind::stream;
    return t;
  }
  t.kind = OutputTarget::Kind::existing_file;
  if (S_ISLNK(lst.st_mode)) {
    // Replacing the link would leave the file it points to as it was: the file is the output.
    char* real = ::realpath(path.c_str(), nullptr);
    if (!real) throw Failure(Fail::usage, path + ": cannot follow the symbolic link: " + std::strerror(errno));
    t.path = real;
    std::free(real);
  }
  return t;
}

StreamOutput::StreamOutput(const OutputTarget& target, std::uint64_t expected) : target_(target) {
  std::string dir = temp_dir();
  std::uint64_t avail = free_bytes(dir);
  if (expected > avail) throw Failure(Fail::resource, fmt_size_msg(target.shown() + " (spooled first)", dir, expected, avail));
  cleanup::Hold hold;
  fd_ = create_unique(dir + "/zipmedic-out-", spool_);
  if (fd_ < 0) throw Failure(Fail::cannot_write, dir + ": cannot create a temporary file for the output: " + std::strerror(errno));
  slot_ = cleanup::add_file(spool_);
}

StreamOutput::~StreamOutput() { rollback(); }

void StreamOutput::write(std::string_view data) {
  write_all(fd_, data, spool_);
  written_ += data.size();
}

void StreamOutput::finish() {}

void StreamOutput::commit() {
  // The target is opened only now, as it is: no O_CREAT, no O_TRUNC, never renamed over. A FIFO
  // waits here for its reader.
  bool own = target_.fd < 0;
  int out = own ? ::open(target_.path.c_str(), O_WRONLY | O_NOCTTY | O_CLOEXEC) : target_.fd;
  if (out < 0) throw Failure(Fail::cannot_write, target_.path + ": cannot open for writing: " + std::strerror(errno));
  // A reader that goes away must be an error we report, not a silent death by SIGPIPE.
  struct sigaction ign {}, old {};
  ign.sa_handler = SIG_IGN;
  sigemptyset(&ign.sa_mask);
  ::sigaction(SIGPIPE, &ign, &old);
  std::vector<char> buf(1 << 20);
  std::uint64_t off = 0;
  std::string name = target_.shown();
  try {
    while (off < written_) {
      ssize_t n = ::pread(fd_, buf.data(), std::size_t(std::min<std::uint64_t>(buf.size(), written_ - off)), off_t(off));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) throw Failure(Fail::cannot_read, spool_ + ": cannot read the spooled output back: " + std::strerror(errno));
      write_all(out, {buf.data(), std::size_t(n)}, name);
      off += std::uint64_t(n);
    }
  } catch (...) {
    ::sigaction(SIGPIPE, &old, nullptr);
    if (own) ::close(out);
    throw;
  }
  ::sigaction(SIGPIPE, &old, nullptr);
  if (own && ::close(out) != 0) throw Failure(Fail::cannot_write, name + ": close failed: " + std::strerror(errno));
  rollback();
}

void StreamOutput::rollback() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  if (!spool_.empty()) ::unlink(spool_.c_str());
  cleanup::release(slot_);
  slot_ = -1;
  spool_.clear();
}

TempFile::TempFile(const std::string& dir, const std::string& stem) {
  cleanup::Hold hold;
  fd_ = create_unique((dir.empty() ? temp_dir() : dir) + "/" + stem + "-", path_);
  if (fd_ < 0) throw Failure(Fail::cannot_write, (dir.empty() ? temp_dir() : dir) + ": cannot create a temporary file: " + std::strerror(errno));
  slot_ = cleanup::add_file(path_);
}

TempFile::~TempFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!path_.empty()) ::unlink(path_.c_str());
  cleanup::release(slot_);
}

FdStreamBuf::FdStreamBuf(int fd) : fd_(fd), buf_(64 << 10) { setp(buf_.data(), buf_.data() + buf_.size()); }

bool FdStreamBuf::drain() {
  const char* p = pbase();
  std::size_t left = std::size_t(pptr() - pbase());
  while (left && !error_) {
    ssize_t n = ::write(fd_, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {  // a non-blocking descriptor we were given: wait for room
      struct pollfd pf {fd_, POLLOUT, 0};
      ::poll(&pf, 1, -1);
      continue;
    }
    if (n <= 0) error_ = n < 0 ? errno : EIO;
    else p += n, left -= std::size_t(n);
  }
  setp(buf_.data(), buf_.data() + buf_.size());
  return !error_;
}

FdStreamBuf::int_type FdStreamBuf::overflow(int_type c) {
  if (!drain()) return traits_type::eof();
  if (!traits_type::eq_int_type(c, traits_type::eof())) sputc(traits_type::to_char_type(c));
  return traits_type::not_eof(c);
}

int FdStreamBuf::sync() { return drain() ? 0 : -1; }

int FdStreamBuf::close() {
  drain();
  // A network filesystem may report a failed write only when the file is closed.
  if (fd_ >= 0 && ::close(fd_) != 0 && errno != EINTR && errno != EBADF && !error_) error_ = errno;
  fd_ = -1;
  return error_;
}

std::uint64_t spool_stream(int in_fd, TempFile& out, const std::string& what, double reserve_factor) {
  constexpr std::uint64_t kCheckEvery = 64u << 20;
  auto check = [&](std::uint64_t have, std::uint64_t more) {
    std::uint64_t avail = free_bytes(out.path());
    std::uint64_t need = more + std::uint64_t(double(have + more) * reserve_factor);
    if (need > avail)
      throw Failure(Fail::resource, fmt_size_msg(what, out.path(), have + more + std::uint64_t(double(have + more) * reserve_factor),
                                 avail + have));
  };
  struct stat st {};
  if (::fstat(in_fd, &st) == 0 && S_ISREG(st.st_mode)) check(0, std::uint64_t(st.st_size));
  PageBuffer buf(1 << 20);
  std::uint64_t total = 0, next_check = 0;
  for (;;) {
    if (total >= next_check) {
      check(total, kCheckEvery);
      next_check = total + kCheckEvery;
    }
    ssize_t n = ::read(in_fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw Failure(Fail::cannot_read, what + ": read failed: " + std::strerror(errno));
    if (n == 0) break;
    write_all(out.fd(), {reinterpret_cast<const char*>(buf.data()), std::size_t(n)}, out.path());
    total += std::uint64_t(n);
  }
  return total;
}

}  // namespace zm::io
