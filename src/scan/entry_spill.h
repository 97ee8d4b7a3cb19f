// Whole catalogue entries kept in a temporary file rather than in memory: a repair walks a
// million entries once and then plans and writes them one batch at a time (issue 13).
#pragma once
#include <cstdint>
#include <functional>

#include "io/spill.h"
#include "scan/catalog.h"

namespace zm::scan {

class EntrySpill {
 public:
  // `owner`: the archive whose entries these are (error messages start with it).
  explicit EntrySpill(std::string owner) : file_("zipmedic-entries", std::move(owner)) {}
  // Every field of `e`, its witnesses and decode result included; returns where it went.
  std::uint64_t append(const Entry& e);
  std::size_t count() const { return count_; }
  Entry read_at(std::uint64_t pos);
  // The entries in the order they were appended, `batch` at a time.
  void each_batch(std::size_t batch, const std::function<void(std::vector<Entry>&)>& f);

 private:
  io::Spill file_;
  std::string buf_;
  std::size_t count_ = 0;
};

}  // namespace zm::scan
