// Writing results without ever destroying what is there: every way out of zipmedic is an
// OutputSink, and no sink makes its bytes visible at the target before commit().
#pragma once
#include <cstdint>
#include <streambuf>
#include <string>
#include <string_view>
#include <vector>

namespace zm::io {

// What an output path names, judged before any work (and again when it is opened).
struct OutputTarget {
  enum class Kind {
    new_file,       // nothing there yet: written beside it and renamed into place
    existing_file,  // a regular file (through a symbolic link: the file it points to)
    stream,         // standard output, a descriptor name, a FIFO, a device, a socket
  } kind = Kind::new_file;
  std::string path;  // the file itself once symbolic links are followed; as given for a stream
  int fd = -1;       // "-", /dev/stdout, /dev/fd/N, /proc/self/fd/N: that open descriptor
  std::string shown() const { return fd == 1 && (path == "-" || path.empty()) ? "<stdout>" : path; }
};
// Throws io::Failure when the path cannot be judged (a dangling symbolic link, a directory, a
// missing parent directory).
OutputTarget classify_output(const std::string& path);

// Where a repaired archive goes. Bytes are written in order; until commit() the target is as it
// was (a new file does not exist yet, an appended file has its old length, a device or pipe has
// received nothing). Destroyed without commit(), a sink leaves no trace.
class OutputSink {
 public:
  virtual ~OutputSink() = default;
  virtual void write(std::string_view data) = 0;
  // Appends `len` bytes of the file open as `in_fd` from `offset` without passing them through
  // user memory, where the kernel can (copy_file_range); returns how many it copied, 0 when it
  // cannot (another filesystem, a kernel without it, a sink that is not a plain file). The caller
  // writes the rest itself.
  virtual std::uint64_t copy_from(int /*in_fd*/, std::uint64_t /*offset*/, std::uint64_t /*len*/) { return 0; }
  // Everything is written: make it durable where it waits (fsync), ready to be read back.
  virtual void finish() {}
  // The archive offset of the first byte written: the old length when appending, else 0.
  virtual std::uint64_t base() const { return 0; }
  // A path from which the bytes written so far (after base()) can be read back for the proof.
  virtual const std::string& readback_path() const = 0;
  virtual void commit() = 0;
  virtual void rollback() = 0;
  // "copy", "in-place" or "stream": the report's output.mode.
  virtual const char* mode() const = 0;
};

// A new regular file: written to a temporary beside the target, fsynced, then renamed into
// place. Without `replace`, an existing target (one that appeared since the command line was
// checked) is left alone and commit() fails instead (renameat2 RENAME_NOREPLACE).
class AtomicOutputFile final : public OutputSink {
 public:
  explicit AtomicOutputFile(const std::string& target, bool replace = true);
  ~AtomicOutputFile() override;
  AtomicOutputFile(const AtomicOutputFile&) = delete;
  AtomicOutputFile& operator=(const AtomicOutputFile&) = delete;
  void write(std::string_view data) override;
  std::uint64_t copy_from(int in_fd, std::uint64_t offset, std::uint64_t len) override;
  void finish() override;
  const std::string& readback_path() const override { return temp_; }
  void commit() override;
  void rollback() override;
  const char* mode() const override { return "copy"; }
  int fd() const { return fd_; }
  std::uint64_t written() const { return written_; }
  const std::string& temp_path() const { return temp_; }

 private:
  std::string target_, temp_;
  int fd_ = -1;
  std::uint64_t written_ = 0;
  bool replace_ = true, synced_ = false, committed_ = false;
  int slot_ = -1;  // io::cleanup: the temporary file goes if a signal ends the run
};

// Appends to an existing file and nothing else. Until commit(), any failure, a destructor run
// during unwinding, or SIGINT/SIGTERM/SIGHUP truncates the file back to its original length.
class InPlaceAppender final : public OutputSink {
 public:
  explicit InPlaceAppender(const std::string& path);
  ~InPlaceAppender() override;
  InPlaceAppender(const InPlaceAppender&) = delete;
  InPlaceAppender& operator=(const InPlaceAppender&) = delete;
  std::uint64_t original_size() const { return original_; }
  std::uint64_t base() const override { return original_; }
  void write(std::string_view data) override;
  void finish() override;
  const std::string& readback_path() const override { return path_; }
  void commit() override;
  void rollback() override;
  const char* mode() const override { return "in-place"; }

 private:
  std::string path_;
  int fd_ = -1;
  std::uint64_t original_ = 0, written_ = 0;
  bool done_ = false;
  int slot_ = -1;  // io::cleanup: truncated back if a signal ends the run
};

// Standard output, a FIFO, a character device, a socket: targets that are written as they are,
// never replaced by a rename and never truncated. A stream cannot take bytes back, so the output
// is spooled to a temporary file (in TMPDIR) first, proven from there, and only copied to the
// target on commit(). `expected` bytes must fit in TMPDIR's free space.
class StreamOutput final : public OutputSink {
 public:
  // A descriptor target is written as it is; a path is opened without O_CREAT or O_TRUNC.
  StreamOutput(const OutputTarget& target, std::uint64_t expected);
  ~StreamOutput() override;
  StreamOutput(const StreamOutput&) = delete;
  StreamOutput& operator=(const StreamOutput&) = delete;
  void write(std::string_view data) override;
  void finish() override;
  const std::string& readback_path() const override { return spool_; }
  void commit() override;
  void rollback() override;
  const char* mode() const override { return "stream"; }

 private:
  OutputTarget target_;
  std::string spool_;
  int fd_ = -1;
  std::uint64_t written_ = 0;
  int slot_ = -1;  // io::cleanup
};

// A temporary file that is removed when this object goes: the spool of an archive read from a
// pipe (repair -, restore -).
class TempFile {
 public:
  // Created in `dir` (TMPDIR or /tmp when empty).
  explicit TempFile(const std::string& dir, const std::string& stem = "zipmedic-spool");
  ~TempFile();
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  const std::string& path() const { return path_; }
  int fd() const { return fd_; }

 private:
  std::string path_;
  int fd_ = -1;
  int slot_ = -1;  // io::cleanup
};

// Copies all of `in_fd` (a pipe) into `out`, checking before each 64 MiB that the filesystem
// keeps `reserve_factor` times what has been copied so far free (room for what is made from it:
// a repaired copy, an extracted tree). Returns the bytes copied; throws io::Failure naming `what`.
std::uint64_t spool_stream(int in_fd, TempFile& out, const std::string& what, double reserve_factor);

// Free bytes for an unprivileged user on the filesystem holding `path` (or its nearest existing
// parent).
std::uint64_t free_bytes(const std::string& path);

std::string temp_dir();

// Standard output for the reports: a buffer over write(2) that keeps the first error's errno
// (std::cout over stdio keeps only a bad bit), and writes nothing more after it. main() checks
// error() after the flush and the close, so that a full disk or a closed pipe is not an exit 0.
class FdStreamBuf final : public std::streambuf {
 public:
  explicit FdStreamBuf(int fd);
  int error() const { return error_; }
  // Flushes and closes the descriptor; the errno of the first failure, or 0.
  int close();

 protected:
  int_type overflow(int_type c) override;
  int sync() override;

 private:
  bool drain();
  int fd_;
  int error_ = 0;
  std::vector<char> buf_;
};

}  // namespace zm::io
