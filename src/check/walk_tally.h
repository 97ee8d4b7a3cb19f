// What a verify or scan keeps of the entries a local-header walk has settled as it went
// (scan::ScanOptions::settle): each is judged when it is handed over and then only its report
// row is kept, without its name where the name can be read back from its local header (a file).
// A million entries then cost 32 bytes each, 48 when their names are judged too (the man page, MEMORY).
#pragma once
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "check/judge.h"
#include "io/source.h"
#include "report/report.h"
#include "scan/catalog.h"
#include "scan/local_scanner.h"

namespace zm::check {

class WalkTally {
 public:
  // `judge_names`: also feed NameJudge and FeatureJudge (verify does; scan does not).
  WalkTally(io::ByteSource& src, bool judge_names = false) : src_(src), names_on_(judge_names) {}
  // Judges `done` (findings into `judged`, in entry order) and keeps their rows.
  void add(std::vector<scan::Entry>& done);
  std::vector<report::Finding> judged;
  std::size_t count() const { return count_; }
  // False when only the judging, the count and the last whole entry are wanted (repair, whose
  // report rows are its new directory's): no row is kept.
  bool keep_rows = true;
  std::size_t ok() const { return ok_; }
  std::uint64_t compressed_bytes() const { return comp_; }
  std::uint64_t uncompressed_bytes() const { return uncomp_; }
  const std::optional<scan::LastWhole>& last_whole() const { return last_whole_; }
  void each(const std::function<void(const report::EntryRow&)>& f) const;
  // The name of settled entry i, read back from its local header (or kept, from a pipe).
  std::string name(std::size_t i) const;
  // When set, a pipe's names are read back through this (by local header offset) instead of
  // being kept: verify - spills the walk's witnesses to a temporary file (the man page, MEMORY).
  std::function<std::string(std::uint64_t offset)> names_from;
  // The name and feature judges over the settled entries and then `rest` (the walk's last
  // entries, which it still holds); their findings go to `out`.
  void finish_names(const std::vector<scan::Entry>& rest, std::vector<report::Finding>& out);
  // The password over the settled entries (judge_walk below settles it).
  PasswordJudge password;
  void set_status(std::size_t i, report::EntryStatus s) {
    if (i < rows_.size()) rows_[i].status = s;
  }

 private:
  struct Row {  // 32 bytes
    std::uint64_t offset = 0, compressed_size = 0, uncompressed_size = 0;
    std::uint32_t crc32 = 0;
    std::uint16_t method = 0;
    report::EntryStatus status = report::EntryStatus::unchecked;
    std::uint8_t data_descriptor : 1 = 0, zip64 : 1 = 0, utf8 : 1 = 0;  // utf8: bit 11 of the flags
  };
  io::ByteSource& src_;
  bool names_on_;
  std::deque<Row> rows_;  // grows without copying itself (the count is not known ahead)
  std::vector<std::string> names_;  // only when the source cannot be read again (a pipe)
  std::size_t ok_ = 0, count_ = 0;
  std::uint64_t comp_ = 0, uncomp_ = 0;
  std::optional<scan::LastWhole> last_whole_;
  NameJudge name_judge_;
  FeatureJudge features_;
};

// judge_walk over the walk's last entries after those `tally` settled (nullptr: none), then the
// password judged over all of them (PasswordJudge): the walk's findings are then settled.
void judge_walk(scan::ScanResult& walk, std::uint64_t source_size, WalkTally* tally);

// The rows of a walk's report: those of the settled entries, then those of `rest`.
std::shared_ptr<const report::RowSource> walk_rows(std::shared_ptr<WalkTally> tally, std::vector<report::EntryRow> rest);

}  // namespace zm::check
