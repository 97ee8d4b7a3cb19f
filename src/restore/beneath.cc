#include "restore/beneath.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <vector>

namespace zm::restore {

Fd& Fd::operator=(Fd&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.release();
  }
  return *this;
}

Fd::~Fd() {
  if (fd_ >= 0) ::close(fd_);
}

int open_beneath_by_component(int dir, std::string_view path, int flags, mode_t mode) {
  if (path.empty()) return ::openat(dir, ".", flags | O_CLOEXEC, mode);
  Fd cur;
  int at = dir;
  std::size_t i = 0;
  for (std::size_t j; (j = path.find('/', i)) != std::string_view::npos; i = j + 1) {
    std::string comp(path.substr(i, j - i));
    Fd next(::openat(at, comp.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!next) return -1;
    cur = std::move(next);
    at = cur.get();
  }
  std::string last(path.substr(i));
  return ::openat(at, last.c_str(), flags | O_NOFOLLOW | O_CLOEXEC, mode);
}

int open_beneath(int dir, std::string_view path, int flags, mode_t mode) {
  // Once the kernel has said it has no openat2, it is not asked again.
  static std::atomic<bool> no_openat2{false};
  if (!no_openat2.load(std::memory_order_relaxed)) {
    std::string p = path.empty() ? std::string(".") : std::string(path);
    open_how how{};
    how.flags = std::uint64_t(flags | O_CLOEXEC);
    how.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    long fd;
    do fd = ::syscall(SYS_openat2, dir, p.c_str(), &how, sizeof how);
    while (fd < 0 && errno == EAGAIN);  // a rename elsewhere raced the lookup; it is safe to retry
    if (fd >= 0 || errno != ENOSYS) return int(fd);
    no_openat2.store(true, std::memory_order_relaxed);
  }
  return open_beneath_by_component(dir, path, flags, mode);
}

Fd open_dir_beneath(int dir, std::string_view path) {
  return Fd(open_beneath(dir, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW));
}

void remove_tree(int dir, const std::string& name) {
  if (::unlinkat(dir, name.c_str(), 0) == 0 || (errno != EISDIR && errno != EPERM)) return;
  Fd sub(::openat(dir, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!sub) return;
  std::vector<std::string> names;
  if (DIR* d = ::fdopendir(::dup(sub.get()))) {
    while (dirent* ent = ::readdir(d)) {
      std::string n = ent->d_name;
      if (n != "." && n != "..") names.push_back(std::move(n));
    }
    ::closedir(d);
  }
  for (const auto& n : names) remove_tree(sub.get(), n);
  ::unlinkat(dir, name.c_str(), AT_REMOVEDIR);
}

}  // namespace zm::restore
