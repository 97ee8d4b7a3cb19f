// Whole catalogue entries kept in a spill (memory, then an unlinked temporary file) rather than
// in memory: what a pipe's walk saw until its directory arrives, and what a repair walked until
// it plans and writes, a batch at a time (the man page, MEMORY). Every field of an entry goes in a record of
// one size, so that entry i is found without an index; its name, the decoder's message, extra
// fields and comment go to a second spill.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "io/spill.h"
#include "scan/catalog.h"

namespace zm::scan {

class EntrySpill {
 public:
  // `owner`: the archive whose entries these are (error messages start with it).
  explicit EntrySpill(const std::string& owner, std::size_t in_memory = 4u << 20)
      : records_(owner, in_memory), text_(owner, in_memory) {}
  void append(const Entry& e);
  std::size_t count() const { return count_; }
  // Writing is over; from here on any thread may read.
  void seal() {
    records_.flush();
    text_.flush();
  }

  // The fixed part of entry i: everything but its texts.
  struct Stored {
    std::uint64_t compressed_size = 0, uncompressed_size = 0, lfh_offset = 0, data_offset = 0, end_offset = 0;
    std::uint64_t cut_intact = 0, consumed = 0, produced = 0;
    std::uint64_t text_at = 0;  // name, message, directory extra, comment, local extra
    LocalClaim lfh;
    DataDescriptor descriptor;
    std::uint32_t crc32 = 0, external_attr = 0, disk_start = 0, crc = 0;
    std::uint32_t name_len = 0, error_len = 0, cd_extra_len = 0, comment_len = 0, lfh_extra_len = 0;
    std::uint16_t version_made_by = 0, version_needed = 0, flags = 0, method = 0, mod_time = 0, mod_date = 0;
    std::uint16_t internal_attr = 0;
    codec::DecodeResult::Status decode_status = codec::DecodeResult::Status::ok;
    CryptOutcome crypt = CryptOutcome::not_tried;
    LocalProblem lfh_problem = LocalProblem::none;
    report::EntryStatus status = report::EntryStatus::unchecked;
    std::uint8_t cd_extra_refused_by = 0;
    bool cd_zip64 = false, in_directory = false, cd_extra_malformed = false, has_extras = false;
    bool has_lfh = false, has_descriptor = false, descriptor_cut = false, has_decoded = false, has_cut_intact = false;
    bool next_record_follows = true, extent_known = true, claims_from_directory = false, shares_decoded_header = false;
    bool data_skipped = false, stored_descriptor_sig_inside = false;
  };
  // A thread's own read caches of the spill.
  struct Reader {
    explicit Reader(EntrySpill& s) : records(s.records_, 64u << 10), text(s.text_, 64u << 10) {}
    io::CachedSource records, text;
  };
  // Entry i's fixed part, its name and (when asked) the decoder's message.
  Stored stored(Reader& rd, std::size_t i, std::string& name, std::string* error);
  // The local header's extra block of a record stored() returned.
  std::string lfh_extra(Reader& rd, const Stored& w);
  // Entry i whole, as it went in.
  Entry entry(Reader& rd, std::size_t i);
  // Every entry in the order they went in, `batch` at a time.
  void each_batch(std::size_t batch, const std::function<void(std::vector<Entry>&)>& f);

 private:
  std::string text(Reader& rd, std::uint64_t at, std::uint32_t len);
  io::Spill records_, text_;
  std::size_t count_ = 0;
};

}  // namespace zm::scan
