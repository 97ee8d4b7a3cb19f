// Writing results without ever leaving a half-written file behind.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace zm::io {

// A new file: written to a temporary beside the target, fsynced, then renamed over it.
// Destroyed without commit(), it removes the temporary.
class AtomicOutputFile {
 public:
  explicit AtomicOutputFile(const std::string& target);
  ~AtomicOutputFile();
  AtomicOutputFile(const AtomicOutputFile&) = delete;
  AtomicOutputFile& operator=(const AtomicOutputFile&) = delete;
  void write(std::string_view data);
  int fd() const { return fd_; }
  std::uint64_t written() const { return written_; }
  void commit();
  const std::string& temp_path() const { return temp_; }

 private:
  std::string target_, temp_;
  int fd_ = -1;
  std::uint64_t written_ = 0;
  bool committed_ = false;
};

// Appends to an existing file and nothing else. Until commit(), any failure, a destructor run
// during unwinding, or SIGINT/SIGTERM/SIGHUP truncates the file back to its original length.
class InPlaceAppender {
 public:
  explicit InPlaceAppender(const std::string& path);
  ~InPlaceAppender();
  InPlaceAppender(const InPlaceAppender&) = delete;
  InPlaceAppender& operator=(const InPlaceAppender&) = delete;
  std::uint64_t original_size() const { return original_; }
  void write(std::string_view data);
  void commit();
  void rollback();

 private:
  std::string path_;
  int fd_ = -1;
  std::uint64_t original_ = 0, written_ = 0;
  bool done_ = false;
};

}  // namespace zm::io
