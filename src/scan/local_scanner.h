// Walks local headers front to back, trusting no directory (docs/design.md, "From bytes to verdict").
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "io/worker_pool.h"
#include "scan/catalog.h"

namespace zm::scan {

struct Stretch {
  std::uint64_t from = 0, to = 0;  // [from, to)
  std::string why;
};

struct ScanResult {
  // Every local header met, whole or not, in file order, except the first `entries_before`,
  // which went to ScanOptions::settle.
  std::vector<Entry> entries;
  std::size_t entries_before = 0;
  std::vector<report::Finding> findings;
  std::vector<Stretch> damaged;  // bytes that belong to no entry that could be read
  std::uint64_t archive_start = 0;  // first local header (bytes before it are a prefix)
  std::vector<std::uint8_t> prefix_head;  // the prefix's first 4 KiB: a pipe cannot go back for it
  bool found_any_header = false;
  // Where the walk met the start of a central directory or end record, if it did.
  std::optional<std::uint64_t> directory_at;
  std::uint64_t end_of_entries = 0;  // one past the last entry whose extent is known
  std::string stop;  // why the walk ended, for people
  // Entry that the file ends inside (cut archives; its number counts settled entries too, and it
  // is always the last of `entries`) and how much of it was intact.
  std::optional<std::size_t> cut_entry;
  std::uint64_t cut_intact_bytes = 0;
};

struct ScanOptions {
  std::atomic<std::uint64_t>* progress = nullptr;
  std::uint64_t start = 0;  // where to begin looking for the first local header
  // Above 1, entries whose extent is known without decoding them (sizes in the header, or a
  // signed data descriptor whose size matches the distance and is followed by a record) are
  // decoded by this many worker threads while the walk goes on.
  unsigned threads = 1;
  // The password of encrypted entries (nullptr: none was given), lent by the caller for the
  // walk; read-only, so workers share it without a lock. Never printed.
  const std::string* password = nullptr;
  // When set, entries the walk is done with (decoded, their extent settled) are handed over
  // every few thousand, in file order, and dropped from the result: what a walk of a million
  // entries holds stays bounded (the man page, MEMORY).
  std::function<void(std::vector<Entry>& done)> settle;
  std::size_t settle_every = 16384;
  // Bytes of entry data handed to the workers and not yet decoded, at most (the walk waits
  // beyond it); from a stream, each entry handed over is also at most a quarter of its window.
  std::uint64_t max_in_flight = io::kEntryBytesInFlight;
  // Go on after a central directory when local headers follow it (a repair of two archives
  // joined end to end); the first directory met is still `directory_at`.
  bool beyond_directory = false;
  // scan PATTERN: whether an entry's data is to be decoded, by its name (unset: every entry's).
  // One left out is still walked past by its header's sizes when a record confirms where they end.
  std::function<bool(const std::string& name)> wanted;
};

ScanResult scan_local(io::ByteSource& src, codec::Workspace& ws, const ScanOptions& opt = {});

// eocd_missing for an archive of `size` bytes, naming the last entry the walk found whole: what
// an admin needs to know of a backup that was cut short or never finished.
// `walked` may follow entries the walk settled (ScanResult::entries_before); `earlier` is the
// last whole one among those.
struct LastWhole {
  std::string name;
  std::size_t number = 0;  // counted from 1
  std::uint64_t end = 0;
};
report::Finding eocd_missing_finding(std::uint64_t size, const std::vector<Entry>& walked, std::size_t walked_before = 0,
                                     const std::optional<LastWhole>& earlier = std::nullopt);

// Whether the 4-byte signature `sig` starts anywhere in the `len` bytes from `from`.
bool holds_signature(io::ByteSource& src, std::uint64_t from, std::uint64_t len, std::uint32_t sig);

// Searches [from, to) for the next position that starts a plausible local header, central
// directory record or end record; returns `to` if none.
std::uint64_t find_next_record(io::ByteSource& src, std::uint64_t from, std::uint64_t to, bool headers_only = false);

// A local header at `offset` that a writer could have produced (used when resynchronising, so
// that a stray "PK\3\4" inside data is not taken for an entry).
bool plausible_local_header(const zip::LocalFileHeader& h, std::uint64_t offset, std::uint64_t file_size,
                            bool in_sequence = false);

}  // namespace zm::scan
