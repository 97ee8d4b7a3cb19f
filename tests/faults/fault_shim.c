/* A preloaded shim that makes one system call fail, for the fault sweep (tests/cli/fault_sweep.py):
 *   ZM_FAULT_OP     read | write | fsync | close  (read covers read and pread, write covers write
 *                   and pwrite)
 *   ZM_FAULT_N      the call of that kind to fail, counting from 1 (0: none, only counted)
 *   ZM_FAULT_ERRNO  ENOSPC | EIO | EINTR | EFBIG | SHORT (a read that returns 0 bytes, as at the
 *                   end of a file that shrank; a write that takes half of what it is given)
 *   ZM_FAULT_COUNT  a file to which the number of calls of that kind is written at exit
 * Standard error (descriptor 2) is never failed nor counted: the message must get out. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

enum { OP_NONE, OP_READ, OP_WRITE, OP_FSYNC, OP_CLOSE };
static int g_op = OP_NONE;
static long g_n = 0;
static int g_errno = EIO;
static int g_short = 0;
static atomic_long g_count;

typedef ssize_t (*read_fn)(int, void*, size_t);
typedef ssize_t (*pread_fn)(int, void*, size_t, off_t);
typedef ssize_t (*write_fn)(int, const void*, size_t);
typedef ssize_t (*pwrite_fn)(int, const void*, size_t, off_t);
typedef int (*fd_fn)(int);
#define REAL(name, type) \
  static type real_##name; \
  if (!real_##name) real_##name = (type)dlsym(RTLD_NEXT, #name)

static void __attribute__((constructor)) setup(void) {
  const char* op = getenv("ZM_FAULT_OP");
  const char* n = getenv("ZM_FAULT_N");
  const char* e = getenv("ZM_FAULT_ERRNO");
  if (!op) return;
  g_op = !strcmp(op, "read") ? OP_READ : !strcmp(op, "write") ? OP_WRITE : !strcmp(op, "fsync") ? OP_FSYNC
         : !strcmp(op, "close") ? OP_CLOSE : OP_NONE;
  g_n = n ? atol(n) : 0;
  if (e) {
    if (!strcmp(e, "ENOSPC")) g_errno = ENOSPC;
    else if (!strcmp(e, "EINTR")) g_errno = EINTR;
    else if (!strcmp(e, "EFBIG")) g_errno = EFBIG;
    else if (!strcmp(e, "SHORT")) g_short = 1;
    else g_errno = EIO;
  }
}

static void __attribute__((destructor)) report(void) {
  const char* path = getenv("ZM_FAULT_COUNT");
  if (!path || g_op == OP_NONE) return;
  char buf[32];
  int len = snprintf(buf, sizeof buf, "%ld\n", atomic_load(&g_count));
  int (*real_open)(const char*, int, ...) = (int (*)(const char*, int, ...))dlsym(RTLD_NEXT, "open");
  write_fn real_write = (write_fn)dlsym(RTLD_NEXT, "write");
  fd_fn real_close = (fd_fn)dlsym(RTLD_NEXT, "close");
  int fd = real_open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd >= 0) {
    (void)real_write(fd, buf, (size_t)len);
    real_close(fd);
  }
}

/* Whether this call is the one to fail. */
static int hit(int op, int fd) {
  if (op != g_op || fd == 2) return 0;
  long k = atomic_fetch_add(&g_count, 1) + 1;
  return g_n > 0 && k == g_n;
}



ssize_t read(int fd, void* buf, size_t n) {
  REAL(read, read_fn);
  if (hit(OP_READ, fd)) {
    if (g_short) return 0;
    errno = g_errno;
    return -1;
  }
  return real_read(fd, buf, n);
}

ssize_t pread64(int fd, void* buf, size_t n, off_t off) {
  REAL(pread64, pread_fn);
  if (hit(OP_READ, fd)) {
    if (g_short) return 0;
    errno = g_errno;
    return -1;
  }
  return real_pread64(fd, buf, n, off);
}

ssize_t pread(int fd, void* buf, size_t n, off_t off) { return pread64(fd, buf, n, off); }

ssize_t write(int fd, const void* buf, size_t n) {
  REAL(write, write_fn);
  if (hit(OP_WRITE, fd)) {
    if (g_short && n > 1) return real_write(fd, buf, n / 2);
    errno = g_errno;
    return -1;
  }
  return real_write(fd, buf, n);
}

ssize_t pwrite64(int fd, const void* buf, size_t n, off_t off) {
  REAL(pwrite64, pwrite_fn);
  if (hit(OP_WRITE, fd)) {
    if (g_short && n > 1) return real_pwrite64(fd, buf, n / 2, off);
    errno = g_errno;
    return -1;
  }
  return real_pwrite64(fd, buf, n, off);
}

ssize_t pwrite(int fd, const void* buf, size_t n, off_t off) { return pwrite64(fd, buf, n, off); }

int fsync(int fd) {
  REAL(fsync, fd_fn);
  if (hit(OP_FSYNC, fd)) {
    errno = g_errno;
    return -1;
  }
  return real_fsync(fd);
}

int close(int fd) {
  REAL(close, fd_fn);
  int rc = real_close(fd);
  if (rc == 0 && hit(OP_CLOSE, fd)) {
    /* Closed all the same, as Linux does when close reports an error. */
    errno = g_errno;
    return -1;
  }
  return rc;
}
