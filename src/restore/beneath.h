// Files under a restore's target directory, reached only through directory descriptors: every
// path is resolved beneath a directory that is already open, follows no symbolic link, and never
// leaves it, so that a folder swapped for a link while the restore runs cannot send a write
// elsewhere. docs/design.md, "restore".
#pragma once
#include <sys/types.h>

#include <string>
#include <string_view>

namespace zm::restore {

// An open descriptor, closed when it goes.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(o.release()) {}
  Fd& operator=(Fd&& o) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd();
  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  int release() {
    int f = fd_;
    fd_ = -1;
    return f;
  }

 private:
  int fd_ = -1;
};

// Opens `path` ('/'-separated components, none empty, "." or "..") beneath the directory `dir`:
// openat2 with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS, or, where the
// kernel has no openat2 (ENOSYS), open_beneath_by_component. An empty path opens `dir` itself.
// Returns -1 with errno set (ELOOP: a component is a symbolic link).
int open_beneath(int dir, std::string_view path, int flags, mode_t mode = 0);
// The fallback: one openat(O_NOFOLLOW | O_DIRECTORY) per parent component, then the last one
// with O_NOFOLLOW.
int open_beneath_by_component(int dir, std::string_view path, int flags, mode_t mode = 0);
// open_beneath for a directory to hold on to (O_RDONLY | O_DIRECTORY | O_NOFOLLOW).
Fd open_dir_beneath(int dir, std::string_view path);

// Removes `name` in `dir` and, if it is a directory, everything in it, following no link
// (unlinkat, and openat with O_NOFOLLOW to go down). Best effort: used to clean up.
void remove_tree(int dir, const std::string& name);

}  // namespace zm::restore
