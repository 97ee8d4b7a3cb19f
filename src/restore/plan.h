// What a restore will write, decided from the central directory before anything is written: each
// selected entry's path after normalisation, its kind, its mode with the bits that could hurt
// stripped, its time, and what would make the restore unsafe (refused whole, or with --partial
// the entry left out). docs/design.md, "restore".
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "check/select.h"
#include "io/source.h"
#include "report/report.h"
#include "scan/catalog.h"
#include "scan/end_records.h"

namespace zm::restore {

enum class Kind : std::uint8_t { file, directory, symlink };

// Entries are numbered in 32 bits: four billion items would not fit in memory anyway, and the
// plan is refused (blocked) at the record that would need more.
inline constexpr std::uint32_t kImplied = std::uint32_t(-1);

// Where the items' and folders' last components live: 1 MiB blocks that never move, so a view
// stays valid however the items are sorted or moved.
class PathArena {
 public:
  std::string_view keep(std::string_view s);

 private:
  static constexpr std::size_t kBlock = 1 << 20;
  std::vector<std::unique_ptr<char[]>> blocks_;
  std::size_t used_ = kBlock;
};

// What few entries have, held apart so that a million items cost 48 bytes each, their last
// components' bytes in the plan's arena and 40 bytes of claims; the fields are ordered so that
// none pads another.
struct Rare {
  std::string other_name;  // the entry's name when it is not its path (+ "/" for a folder)
  std::string link_target;  // a symbolic link's, once decoded
  std::shared_ptr<const scan::Entry::Extras> extras;  // encrypted entries only (their AES field)
};

// What decoding an entry needs again: the directory's claims (the data offset is read from the
// local header). Held apart from the items, so that a restore lets go of them once the files are
// written, before verify runs beside the plan.
struct Claim {
  std::uint64_t lfh_offset = 0, compressed_size = 0, uncompressed_size = 0;
  std::uint32_t crc32 = 0;
  std::uint16_t method = 0, flags = 0, mod_time = 0;
};

// A component is at most 255 bytes (NAME_MAX) and a path at most 4095 (PATH_MAX less its NUL);
// a name that needs more is refused before it gets a path.
using ComponentLength = std::uint16_t;

// A folder that planned items lie in, once however many lie there: a path is its folder's path
// and its last component, so a million files in one folder keep that folder's bytes once (78-byte
// names: 78 MB of whole paths, 23 MB of last components). Plan::folders[0] is DIR itself.
struct Folder {
  const char* leaf = nullptr;
  std::uint32_t parent = 0;
  ComponentLength leaf_len = 0;
  std::uint16_t depth = 0;  // components: DIR 0, "a" 1, "a/b" 2
  std::string_view name() const { return {leaf, leaf_len}; }
};

struct Item {
  const char* leaf_ = nullptr;  // its last component ("" : DIR itself), in the plan's arena
  std::unique_ptr<Rare> rare;
  std::int64_t mtime_s = 0;
  std::uint32_t entry = kImplied;  // index in directory order; kImplied: a folder no entry names
  std::uint32_t claim = kImplied;  // in Plan::claims, where entry is not kImplied
  std::uint32_t mtime_ns = 0;
  std::uint32_t folder = 0;        // in Plan::folders: the folder it lies in
  std::uint16_t mode = 0;          // permission bits to set (07777 at most)
  ComponentLength leaf_len = 0;
  // Bits, so that an item is 48 bytes: a million of them are most of a restore's memory.
  Kind kind : 2 = Kind::file;
  bool named_directory : 1 = false;  // the name ends in '/'
  bool stripped : 1 = false;         // mode bits were dropped (no --preserve-permissions)
  bool has_time : 1 = false;
  bool left_out : 1 = false;         // --partial: a problem of its own leaves it out
  // Its name gives no path restore may write ('..', absolute, a NUL, too long): left out, and
  // no part of the tree, so that it is no folder or file that later items sit under.
  bool nameless : 1 = false;
  bool link_decoded : 1 = false;
  std::string_view leaf() const { return {leaf_, leaf_len}; }
  // Its path is "" (DIR itself, or a name that gives no path).
  bool is_dir_itself() const { return leaf_len == 0; }
  Rare& more() {
    if (!rare) rare = std::make_unique<Rare>();
    return *rare;
  }
  const std::string& link_target() const { return rare ? rare->link_target : kNone; }

 private:
  static inline const std::string kNone;
};
static_assert(sizeof(Item) == 48);

struct PlanOptions {
  std::vector<std::string> patterns, excludes;
  bool preserve_permissions = false;
  bool partial = false;
  const std::string* password = nullptr;
};

struct Plan {
  bool readable = false;   // a central directory was read
  std::size_t entries = 0;  // records in the directory
  std::size_t not_selected = 0;
  // Sorted component by component, implied folders in their place. A deque: a million items never
  // stand in memory twice, neither while it grows nor while arrange() sorts and moves them.
  std::deque<Item> items;
  // Components joined by '/', none empty, "." or "..": an item's path is its folder's and its
  // leaf; "" is DIR itself. Folders are made only as items need them (make_plan).
  std::vector<Folder> folders = std::vector<Folder>(1);
  PathArena paths;  // the items' and folders' last components
  std::string path(const Item& it) const;
  void path_into(const Item& it, std::string& out) const;  // out = path(it), without a new string
  void folder_path_into(std::uint32_t folder, std::string& out) const;
  std::string folder_path(std::uint32_t folder) const {
    std::string p;
    folder_path_into(folder, p);
    return p;
  }
  bool same_path(const Item& a, const Item& b) const { return a.folder == b.folder && a.leaf() == b.leaf(); }
  // The entry's name when its path is not it, else its path (+ "/" for a folder).
  std::string name(const Item& it) const;
  // The entry as the decoders take it (zipcrypt and codec via scan::decode_data).
  scan::Entry as_entry(const Item& it, const Claim& c, std::uint64_t data_offset) const;
  // By Item::claim; reserved once for every record the end records promise (make_plan), so that
  // it is one mapping, which let_go_of_claims() gives back to the system, not scattered heap
  // blocks that would keep their pages while verify runs.
  std::vector<Claim> claims;
  const Claim& claim(const Item& it) const { return claims[it.claim]; }
  // Once every file is written, only the findings' offsets could want them. A swap, since
  // `claims = {}` would assign an empty list and keep the capacity.
  void let_go_of_claims() { std::vector<Claim>().swap(claims); }
  std::vector<report::Finding> findings;
  // Refused whole, --partial or not (an entry written through the archive's own link, entries that
  // overlap): the message; empty when the plan may go on.
  std::string blocked;
  std::size_t problems = 0;   // entries with a problem of their own (left out with --partial)
  std::optional<std::string> unmatched;  // a PATTERN that takes no entry
  std::uint64_t bytes = 0;    // what the files will take
  std::uint64_t inodes = 0;   // files, folders and links to make
  std::size_t stripped = 0;
  // The links' targets decoded here, by local header offset: verify is handed them.
  std::vector<std::pair<std::uint64_t, codec::DecodeResult>> link_results;
};

// Reads the directory and plans the restore of the entries the patterns select.
Plan make_plan(io::ByteSource& src, const scan::EndRecords& end, const PlanOptions& opt);

// Component by component: "a" < "a/b" < "a-b", so a folder's contents follow it at once.
bool path_less(std::string_view a, std::string_view b);
// Whether path `a` holds path `b` (DIR, "", holds every other path).
bool is_ancestor(std::string_view a, std::string_view b);

// bsdtar's glob rules, as verify PATTERN and cat select (check/select.h).
using check::exclude_matches;
using check::pattern_matches;

}  // namespace zm::restore
