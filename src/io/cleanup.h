// What zipmedic leaves behind when it is stopped: nothing. Temporary files (an output before its
// rename, a pipe's spool) and an in-place append are registered here while they exist; SIGINT,
// SIGTERM and SIGHUP remove the files and truncate the append back to the archive's old length,
// then end the process by the same signal. SIGXFSZ is ignored, so that a file-size limit (ulimit
// -f) arrives as EFBIG from write(), a failure like any other, instead of killing the process.
#pragma once
#include <signal.h>
#include <sys/types.h>

#include <string>

namespace zm::io::cleanup {

// Installs the handlers (once; every add below does it too).
void install();

// A file to unlink if a signal ends the process; returns the slot to release, or -1 when every
// slot is taken (the file is then only removed on the ordinary ways out).
int add_file(const std::string& path);
// A file to truncate back to `length` through `fd`.
int add_truncate(int fd, off_t length);
// The object is gone or committed: nothing to undo for this slot any more.
void release(int slot);

// Holds SIGINT, SIGTERM and SIGHUP back in this thread while a temporary file is created and
// registered: a signal between the two would leave the file behind. Worker threads never take
// these signals (block_in_this_thread), so the held signal waits for this thread.
class Hold {
 public:
  Hold();
  ~Hold();
  Hold(const Hold&) = delete;
  Hold& operator=(const Hold&) = delete;

 private:
  sigset_t old_;
};
void block_in_this_thread();

}  // namespace zm::io::cleanup
