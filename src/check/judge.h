// The one judge (docs/design.md, "From bytes to verdict"). Every front end — verify from a file, verify from a
// pipe, scan, and repair's proof of its output — fills scan::Entry with what each witness
// claimed (directory record, local header, data descriptor, decoding) and calls these; no
// front end compares claims on its own.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <span>
#include <unordered_map>
#include <vector>

#include "io/huge_pages.h"
#include "report/report.h"
#include "scan/catalog.h"
#include "scan/end_records.h"
#include "scan/local_scanner.h"

namespace zm::check {

// What the readers make of the end records scan::locate_end_records found: their findings (other
// end records some reader takes, disk numbers, ZIP64 records, where the directory lies), and
// whether libarchive takes them or walks the local headers (end.libarchive_walks; docs/readers.md,
// rule 47).
std::vector<report::Finding> judge_end_records(scan::EndRecords& end);

// Sets e.status and appends the entry's findings: the local header against the directory, the
// data against every witness that claims its CRC and sizes, the descriptor, and the rules of the
// readers (docs/readers.md) that concern one entry. `source_size` is the archive's length.
// `libarchive_walks`: the archive's end records are not ones libarchive's seekable reader takes.
void judge_entry(scan::Entry& e, std::uint64_t source_size, std::vector<report::Finding>& out,
                 bool libarchive_walks = false);

// True when the directory's attributes of `e` (host, external attributes) make some reader
// extract it as something other than the file or folder its name says (docs/readers.md, rules
// 65, 67, 72, 73, 75): what judge_entry reports as entry_kind_differs, or as directory_with_data
// for a file's name. A link its writer meant is no such case.
bool attributes_mislead(scan::Entry e);

// The local header a directory record points to could be this entry's (same method and bit 3;
// the name is judged apart): only then are the bytes behind it decoded as the entry's data.
bool local_header_is_its_own(const scan::Entry& e);
// 7-Zip holds the entry's data to the directory's uncompressed size (readers::sevenzip_checks_size).
bool sevenzip_checks_size(const scan::Entry& e);
// The readers take this entry's data to its stream's end, whatever size it claims
// (readers::size_binds_no_reader), so verify decodes it that far too.
bool decoded_whole(const scan::Entry& e);

// Where a directory entry's bytes end (data and descriptor), by its directory's sizes: the same
// for a file and a pipe, so that the layout judge sees the same extents.
void settle_extent(scan::Entry& e);

// Judges every entry a local-header walk found (no directory) and puts their findings among the
// walk's own, in file order.
// `earlier`: the findings of entries judged before (those the walk settled as it went).
void judge_walk(scan::ScanResult& walk, std::uint64_t source_size, std::vector<report::Finding> earlier = {});

// Whether the password is wrong for the archive rather than the data damaged. ZipCrypto checks
// one byte per entry (APPNOTE 6.1.6), so about 1 entry in 256 passes the check under a wrong
// password and then fails to decode or its CRC fails; WinZip AES checks two (1 in 65,536) and
// then its authentication code fails. Entries are added as they are judged (in any batches, with
// their index in the report's rows); settle() decides once, for verify, verify -, scan, restore
// and repair's proof alike.
class PasswordJudge {
 public:
  void add(const scan::Entry& e, std::size_t index);
  // The password is wrong when it fails the check of most encrypted entries it was tried on, or
  // fails some and no entry that passed the check decoded: then every password_wrong finding and
  // the errors of the entries that passed by chance become one password_wrong finding, and true
  // is returned (the caller marks those entries encrypted: chance()). One entry that passed the
  // check and failed, with none that failed the check, stays damage: the right password opens
  // a damaged entry the same way.
  bool settle(std::vector<report::Finding>& findings);
  // The rows' indices of the entries that passed the check by chance (after settle() said true).
  std::vector<std::size_t> chance() const;

 private:
  bool wrong() const;
  struct Passed {  // an entry that passed the check and did not decode
    std::size_t index;
    std::uint64_t from, to;  // its bytes, where its findings lie
  };
  std::size_t failed_ = 0, opened_ = 0;
  std::vector<Passed> passed_;
};

// What the layout judge asks of the bytes between entries. A file searches them; a pipe, long
// past them, answers from what its walk met there.
struct FoundHeader {
  std::uint64_t offset;
  std::optional<std::string> name;
};
struct LayoutProbe {
  virtual ~LayoutProbe() = default;
  // Plausible local headers in [from, to), in order.
  virtual std::vector<FoundHeader> headers_in(std::uint64_t from, std::uint64_t to) = 0;
  // The first kPrefixHead bytes (or `len`, if fewer) of the file.
  virtual std::vector<std::uint8_t> prefix_head(std::uint64_t len) = 0;
  // The archive's file name ("-" for a pipe): 7-Zip's reading of a prefix depends on it (rule 43).
  std::string path = "-";
};

// Where one entry lies, for the layout judge: all it needs of an entry, so that a million
// entries are judged from 24 bytes each while their names stay in the archive.
struct Extent {
  std::uint64_t start = 0;   // the local header
  std::uint64_t end = 0;     // one past the data and descriptor (at least the data's start)
  std::uint32_t index = 0;   // in directory order, for NameOf
  bool extent_known = true;  // false when the header is another entry's (no gap after it)
  bool overlaps = false;     // set by judge_layout: its bytes overlap another entry's
};
// The name and local header offset of the entry with that index (read back from the archive
// when a finding needs them).
struct Named {
  std::string name;
  std::uint64_t offset = 0;
};
using NameOf = std::function<Named(std::uint32_t)>;

// The one layout judge for an archive with a directory: overlaps (the zip-bomb layout), gaps,
// local headers that no directory record points to, the prefix, and bytes between the directory
// and the end records. `placed` holds the entries whose local header was read; it is sorted by
// start. `cd_end` is where the directory's records really ended.
void judge_layout(std::vector<Extent>& placed, const NameOf& name_of, const scan::EndRecords& end,
                  std::uint64_t cd_end, LayoutProbe& probe, std::vector<report::Finding>& out);
// The same for entries held in memory; sets the status of an entry that overlaps another to damaged.
void judge_layout(std::vector<scan::Entry>& entries, const scan::EndRecords& end, std::uint64_t cd_end,
                  LayoutProbe& probe, std::vector<report::Finding>& out);
Extent extent_of(const scan::Entry& e, std::uint32_t index);

// Bytes before the first local header that hold no header (a self-extractor stub): a note when
// the archive's offsets count them; when they do not, unzip warns, and 7-Zip cannot open the
// archive unless they are an ELF or PE program or the file's name (`path`) is not one its zip
// handler claims (docs/readers.md, rules 42-44). `head` is the prefix's first kPrefixHead bytes or all.
inline constexpr std::size_t kPrefixHead = 4096;
report::Finding judge_prefix(std::span<const std::uint8_t> head, std::uint64_t prefix_len, bool offsets_skip_it,
                             std::string_view path = "-");

// One note (readers_lack_feature, info) per method or encryption scheme that some readers lack:
// not damage, but an admin should know which readers cannot restore the archive. Entries are
// added one at a time (a verify of a million entries holds only a batch of them).
class FeatureJudge {
 public:
  void add(const scan::Entry& e);
  void finish(std::vector<report::Finding>& out);

 private:
  struct Use {
    report::Readers lacking = 0;
    std::size_t count = 0;
    std::string first;
  };
  std::map<std::string, Use> uses_;  // by feature, in a stable order
  // Local headers read, where the first whose name is clean lies, and the first entry whose name
  // holds a NUL (readers::sevenzip_opens).
  bool local_read_ = false;
  std::optional<std::uint64_t> first_clean_;
  std::optional<std::pair<std::string, std::uint64_t>> nul_name_;
};
void judge_features(const std::vector<scan::Entry>& entries, std::vector<report::Finding>& out);

// Names across entries: unsafe paths, symlinks, names readers refuse or show otherwise, and
// duplicates, which are found by a 64-bit hash of each name and confirmed by comparing the names
// (NameOf) where hashes meet. Findings about one entry come in entry order, then duplicates.
class NameJudge {
 public:
  // What the judge needs of one name besides its findings: examine() finds both on any thread,
  // add() takes them in entry order.
  struct Facts {
    std::uint64_t hash = 0;   // of the path a restore writes (restore_path): aliases meet
    std::string path;         // that path, when it is not the name itself
    bool file = false;        // neither named nor marked a folder nor a link: no entry can be under it
    bool skipped_folder = false;  // a folder's entry unzip skips as a volume label
    bool utf8_without_flag = false, from_dos = false;  // non-ASCII UTF-8 names
    bool code_page = false;                            // not UTF-8, bit 11 clear
    bool decomposed = false;                           // NFD, bit 11 set
  };
  static Facts examine(const scan::Entry& e, std::vector<report::Finding>& found);
  void add(const scan::Entry& e, std::uint32_t index, const Facts& facts);
  void add(const scan::Entry& e, std::uint32_t index) { add(e, index, examine(e, found_)); }
  // Findings that examine() made elsewhere, in entry order.
  void absorb(std::vector<report::Finding>& found);
  void finish(const NameOf& name_of, std::vector<report::Finding>& out);
  void reserve(std::size_t entries) { io::reserve_huge(seen_, entries); }

 private:
  std::vector<report::Finding> found_;
  struct Seen {
    std::uint64_t hash;
    std::uint32_t index;
    bool file;
  };
  std::vector<Seen> seen_;
  // The folders that entries' paths need (every proper prefix), by hash, with the first entry
  // that needs each: a file of that path cannot be written beside it.
  std::unordered_map<std::uint64_t, std::uint32_t> folders_;
  // The folder the last entry was in: its neighbours are nearly always in the same one, which is
  // then known without hashing its path again.
  std::string last_folder_;
  void duplicates(const NameOf& name_of, std::vector<std::pair<std::uint32_t, report::Finding>>& dups);
  std::vector<Seen> skipped_folders_;
  void skipped_folders(const NameOf& name_of, std::vector<std::pair<std::uint32_t, report::Finding>>& out);
  void folder_conflicts(const NameOf& name_of, std::vector<std::pair<std::uint32_t, report::Finding>>& dups);
  std::size_t cp437_ = 0, oem_ = 0, code_page_ = 0, decomposed_ = 0;
  std::optional<std::pair<std::string, std::uint64_t>> first_cp437_, first_oem_, first_code_page_, first_decomposed_;
};
void judge_names(const std::vector<scan::Entry>& entries, std::vector<report::Finding>& out);

}  // namespace zm::check
