// What is known about each entry and where each fact came from: the central directory (CD), the
// local file header (LFH), the data descriptor, and decoding the data itself.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "codec/codec.h"
#include "crypt/zip_crypto.h"
#include "report/report.h"
#include "zip/records.h"

namespace zm::scan {

// 4.3.9: CRC and sizes after the data; `length` tells the layout (12, 16, 20 or 24 bytes).
struct DataDescriptor {
  std::uint64_t offset = 0;
  std::uint64_t compressed_size = 0, uncompressed_size = 0;
  std::uint32_t crc32 = 0;
  unsigned length = 0;
  bool signature() const { return length == 16 || length == 24; }
};

// What a local header claimed (4.3.7), kept beside the directory's claims so that one judge
// (check/judge.h) can compare every witness with what decoding found.
struct LocalClaim {
  std::uint16_t version_needed = 0, flags = 0, method = 0;
  std::uint32_t crc32 = 0;
  std::uint64_t compressed_size = 0, uncompressed_size = 0;  // ZIP64 values resolved
  bool zip64 = false;             // it carried a ZIP64 extra field (8-byte descriptor sizes)
  bool ff_without_zip64 = false;  // 0xFFFFFFFF sizes with no ZIP64 field to resolve them
  bool extra_malformed = false;   // a field of its extra block runs past the block
  bool name_differs = false;      // from the directory record's name
  bool name_nul_inside = false;   // its name holds a NUL byte before the last one
  // libarchive's "xl" field (0x6c78): "version made by" and external attributes, from which
  // libarchive takes the entry's type and mode, walking or not (docs/readers.md, rule 80).
  zip::XlField xl;
  // It holds a Unicode Path field (0x7075), which libarchive takes and the judge compares with
  // the directory's (keep_local_extra_if_judged keeps the block then).
  bool unicode_path = false;
};

// Why the local header a directory record points to was not read.
enum class LocalProblem : std::uint8_t { none, absent, cut, past_end };

// What became of an encrypted entry's password (zipcrypt::decode says).
using CryptOutcome = zipcrypt::Outcome;

struct Entry {
  // From the central directory when there is one (`in_directory`), else from the local header,
  // the descriptor and decoding.
  std::string name;
  std::uint16_t version_made_by = 0, version_needed = 0, flags = 0, method = 0, mod_time = 0, mod_date = 0;
  std::uint32_t crc32 = 0;
  std::uint64_t compressed_size = 0, uncompressed_size = 0;
  std::uint64_t lfh_offset = 0;  // absolute offset of the local header in the file
  std::uint16_t internal_attr = 0;
  std::uint32_t external_attr = 0;
  bool cd_zip64 = false;
  bool in_directory = false;         // the fields above are a directory record's claims
  bool cd_extra_malformed = false;   // that record's extra block runs past itself
  // Readers that refuse a field of that extra block although it is well formed: Java a ZIP64
  // field of a size it does not know, libarchive a short WinZip AES field.
  std::uint8_t cd_extra_refused_by = 0;
  std::uint32_t disk_start = 0;      // that record's disk number start (ZIP64 value resolved)

  // The directory's extra field and comment, and the local header's extra field (the rest of
  // that header is in the fields above): only a repair copies them into the directory it
  // writes, and they are mostly empty, so they are held apart (null when all three are empty)
  // and released once the report rows are built. 200,000 entries then carry a pointer each,
  // not three strings.
  struct Extras {
    std::string cd_extra, comment, lfh_extra;
  };
  std::shared_ptr<const Extras> extras;
  const std::string& cd_extra() const { return extras ? extras->cd_extra : kNone; }
  const std::string& comment() const { return extras ? extras->comment : kNone; }
  const std::string& lfh_extra() const { return extras ? extras->lfh_extra : kNone; }

  // The witnesses besides the directory: the local header, the data descriptor, decoding.
  std::optional<LocalClaim> lfh;
  LocalProblem lfh_problem = LocalProblem::none;
  bool lfh_read() const { return lfh.has_value(); }
  bool lfh_zip64() const { return lfh && lfh->zip64; }
  std::uint64_t data_offset = 0;
  std::optional<DataDescriptor> descriptor;
  bool descriptor_cut = false;  // bit 3, but the source ends before a descriptor could be read
  std::optional<codec::DecodeResult> decoded;
  CryptOutcome crypt = CryptOutcome::not_tried;
  // The source ends inside the entry (a walk found this): how many of its bytes are intact.
  std::optional<std::uint64_t> cut_intact;
  std::uint64_t end_offset = 0;  // one past the data and descriptor
  bool next_record_follows = true;  // a walk found a record (or the end) where this entry ended
  bool extent_known = true;      // false when the header is not this entry's own
  // verify or scan PATTERN, --exclude: no pattern selects the entry, so its data was not read (its
  // record, local header, descriptor and place in the layout still were).
  bool data_skipped = false;
  // Stored data with bit 3 holds the bytes "PK\7\8" before the descriptor that ends it: listing
  // or skipping entries while it walks the local headers, libarchive ends the data there
  // (docs/readers.md, rule 47). Looked for only when libarchive walks, or by a walk.
  bool stored_descriptor_sig_inside = false;
  // Another directory record points at the same local header with other claims, and its data
  // was decoded for that one (an overlap bomb's records are decoded once, not once each).
  bool shares_decoded_header = false;

  report::EntryStatus status = report::EntryStatus::unchecked;
  // repair: the local header's claims failed where the old directory's verified (its bytes decode
  // to the directory's CRC and sizes), so the entry now carries the directory's claims.
  bool claims_from_directory = false;
  bool has_descriptor_flag() const { return flags & zip::kFlagDescriptor; }
  bool encrypted() const { return flags & (zip::kFlagEncrypted | zip::kFlagStrongEncryption); }
  bool is_directory() const { return !name.empty() && name.back() == '/'; }
  // Unix mode from the high half of the external attributes, when the host is Unix (4.4.2).
  std::uint32_t unix_mode() const { return (version_made_by >> 8) == 3 ? external_attr >> 16 : 0; }

 private:
  static inline const std::string kNone;
};

// The local header's claims as a LocalClaim (no name comparison: the caller knows the name).
LocalClaim local_claim(const zip::LocalFileHeader& h);
// Keeps a local header's extra block beside a directory entry's own when it holds a field that the
// judge compares with the directory's (the Unicode Path field, 0x7075: readers take one copy or the
// other); most local headers hold none, and a million entries keep nothing.
void keep_local_extra_if_judged(Entry& e, const std::string& local_extra);

report::EntryRow to_row(const Entry& e);
// The size the entry's data decoded to, when that is not its claimed uncompressed size.
std::optional<std::uint64_t> decoded_size_if_other(const Entry& e);

// The entry's fields that the encryption layer reads (zipcrypt::scheme_of, decodable, decode).
zipcrypt::EntryFields crypt_fields(const Entry& e);
// Decodes the entry's data as `req` describes it, decrypting it first under `password` when it is
// encrypted (zipcrypt::decode; nullptr: none was given); e.crypt says what became of the password.
codec::DecodeResult decode_data(codec::Workspace& ws, io::ByteSource& src, const codec::DecodeRequest& req, Entry& e,
                                const std::string* password);

// Decoding exactly the entry's compressed size, expecting its uncompressed size: a stream that
// would produce more is stopped one byte past it (zip bombs). Bit 1 of the flags says whether an
// LZMA stream carries an end marker (4.4.4).
codec::DecodeRequest sized_request(const Entry& e);

// The four descriptor layouts of 4.3.9, tried against what decoding counted; the first that
// agrees wins. `zip64_first` prefers 8-byte sizes (the LFH had a ZIP64 extra).
std::optional<DataDescriptor> match_descriptor(io::ByteSource& src, std::uint64_t at, std::uint32_t crc,
                                               std::uint64_t comp, std::uint64_t uncomp, bool zip64_first);
// The layout the writer most likely used, read without checking it against anything.
std::optional<DataDescriptor> read_descriptor_guess(io::ByteSource& src, std::uint64_t at, bool zip64);

// Reads and parses the local header at `offset`; nullopt if absent, cut or malformed (with why).
// `cut` is set when the file ends inside the header (as opposed to no header being there).
std::optional<zip::LocalFileHeader> read_local_header(io::ByteSource& src, std::uint64_t offset, std::string* why,
                                                      bool* cut = nullptr);

// An entry whose extent is confirmed and whose data is not known to be bad: it verified, or a
// PATTERN left it unread where a record confirmed its end (scan and verify ARCHIVE PATTERN).
inline bool walked_whole(const Entry& e) {
  return e.status == report::EntryStatus::ok || (e.data_skipped && e.status == report::EntryStatus::unchecked);
}

}  // namespace zm::scan
