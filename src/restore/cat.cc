#include "restore/cat.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "check/verifier.h"
#include "report/report.h"
#include "scan/central_directory.h"
#include "scan/end_records.h"

namespace zm::restore {
namespace {

// Decoded bytes on their way out, the last piece always held back: the decoder's pieces pass
// through one behind, and release() lets the last one go once the entry has been checked.
class HeldBack {
 public:
  explicit HeldBack(int fd) : fd_(fd) {}
  void take(std::span<const std::uint8_t> piece) {
    send();
    held_.assign(piece.begin(), piece.end());
  }
  void release() { send(); }
  void drop() { held_.clear(); }

 private:
  void send() {
    for (std::size_t done = 0; done < held_.size();) {
      const ssize_t n = ::write(fd_, held_.data() + done, held_.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) throw io::Failure(io::Fail::cannot_write, fmt::format("standard output: write failed: {}", std::strerror(errno)));
      done += std::size_t(n);
    }
    held_.clear();
  }
  int fd_;
  std::vector<std::uint8_t> held_;
};

// Why an entry failed its check: the judge's first error on it, with its offset.
std::string failure_of(const scan::Entry& e, const std::vector<report::Finding>& found) {
  for (const auto& f : found)
    if (f.severity == report::Severity::error)
      return fmt::format("{} (offset {}): {}: {}", report::printable_name(e.name), f.offset.value_or(e.lfh_offset),
                         f.code, f.message);
  return fmt::format("{} (offset {}): not written: its data is {}", report::printable_name(e.name), e.lfh_offset,
                     report::to_string(e.status));
}

}  // namespace

CatResult cat_entries(io::ByteSource& src, const std::string& display, const CatRequest& req, int out_fd) {
  auto end = scan::locate_end_records(src);
  if (!end)
    throw io::Failure(io::Fail::cannot_read,
                      display + ": no end record, so no directory to find entries by (zipmedic repair makes one)");
  scan::DirectoryReader rd(src, *end);
  std::vector<scan::Entry> batch;
  codec::Workspace ws;
  CatResult res;
  std::vector<bool> matched(req.select.patterns.size(), false);
  bool any = false;
  while (rd.next(4096, batch)) {
    for (auto& e : batch) {
      if (!req.select.selects(e.name)) continue;
      for (std::size_t p = 0; p < matched.size(); ++p)
        matched[p] = matched[p] || check::pattern_matches(req.select.patterns[p], e.name);
      any = true;
      HeldBack out(out_fd);
      std::vector<report::Finding> found;
      check::examine_entry(src, ws, e, req.password, [&](std::span<const std::uint8_t> piece) { out.take(piece); }, found,
                           end->libarchive_walks);
      if (e.status == report::EntryStatus::ok) {
        out.release();
        ++res.written;
        continue;
      }
      ++res.damaged;
      if (!res.failure) res.failure = failure_of(e, found);
      if (!req.salvage) return res;
      out.release();
    }
  }
  if (!rd.readable() && !any)
    throw io::Failure(io::Fail::cannot_read, display + ": the central directory cannot be read (zipmedic repair makes a new one)");
  for (std::size_t p = 0; p < matched.size(); ++p)
    if (!matched[p]) res.unmatched.push_back(req.select.patterns[p]);
  return res;
}

}  // namespace zm::restore
