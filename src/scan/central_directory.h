#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "io/spill.h"
#include "scan/catalog.h"
#include "scan/end_records.h"

namespace zm::scan {

struct CentralDirectory {
  std::vector<Entry> entries;
  std::vector<report::Finding> findings;
  bool readable = false;  // the first record was where the end record said
};

// One directory record (4.3.12) as an Entry with its ZIP64 values resolved; lfh_offset is as
// recorded (the caller adds any prefix shift). `zip64_missing` says whether an all-ones field
// finds no value in the ZIP64 extra field, and whether that field is the uncompressed size alone
// (which 7-Zip and Go take as the size itself: docs/readers.md, rule 28).
enum class Zip64Missing : std::uint8_t { none, uncompressed_only, values };
Entry entry_from_record(zip::CentralDirectoryHeader h, Zip64Missing* zip64_missing);

// Reads the directory's records (4.3.12) a batch at a time, resolving ZIP64 extras and the prefix
// shift, so that a directory of a million entries is judged without holding it. Every finding
// about the directory itself is made here, for a file and a pipe alike: a record that is not where
// the directory says or runs past its end (reading stops there), a size or offset deferred to a
// ZIP64 field that lacks it, a symbolic link cut by a NUL, and an entry count the end record gets
// wrong.
class DirectoryReader {
 public:
  DirectoryReader(io::ByteSource& src, const EndRecords& end) : DirectoryReader(src, src, end) {}
  // The records read from `records` (a pipe's copy of its directory, at the stream's offsets: see
  // copy_directory_records), the entries' data from `archive`.
  DirectoryReader(io::ByteSource& records, io::ByteSource& archive, const EndRecords& end);
  // Up to `max` more entries into `out` (cleared first), and where each record starts into `at`
  // when given; false once the directory is read (the count check is then in `findings`). A batch
  // also ends once its records hold kBatchBytes: 4,096 records with 64 KiB extra fields each would
  // be 256 MiB in memory at once, and their local headers as much again.
  static constexpr std::uint64_t kBatchBytes = 4u << 20;
  bool next(std::size_t max, std::vector<Entry>& out, std::vector<std::uint64_t>* at = nullptr);
  std::vector<report::Finding> findings;
  bool readable() const { return readable_; }  // the first record was where the end record said

 private:
  // The record at the reader's position into `out`; a malformed one ends the directory.
  void read_record(std::vector<Entry>& out, std::vector<std::uint64_t>* at);
  void stop_at(std::uint64_t at, std::string why);  // cd_unreadable
  void end_of_directory();                          // the count check
  io::ByteSource& archive_;
  io::SequentialReader rd_;
  const EndRecords& end_;
  std::uint64_t cd_end_, index_ = 0;
  bool readable_ = false, done_ = false;
  std::unique_ptr<codec::Workspace> link_ws_;  // for symbolic links' targets, made on first use
};

// A pipe's directory passes before the end records that say where it starts and how long it is:
// the records that follow one another from `at` are copied to `out` as they pass (and what there
// is of one cut short by the end of the stream), so that a DirectoryReader reads them there, once
// the end records are known, as it reads a file's. Returns how many records were whole; where the
// copied bytes end goes to `end_at`.
std::size_t copy_directory_records(io::ByteSource& src, std::uint64_t at, io::Spill& out, std::uint64_t* end_at);

// Reads the record at `at` again (one that DirectoryReader read), as an Entry with `shift` added.
Entry reread_directory_record(io::ByteSource& src, std::uint64_t at, std::uint64_t shift);

// Reads every record of the directory that `end` describes (4.3.12), resolving ZIP64 extras and
// the prefix shift. Stops at the first malformed record and reports it; never trusts the entry
// count for allocation (it may say 4 billion).
CentralDirectory read_central_directory(io::ByteSource& src, const EndRecords& end);

}  // namespace zm::scan
