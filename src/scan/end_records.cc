#include "scan/end_records.h"

#include <fmt/format.h>

namespace zm::scan {
using report::make_finding;

namespace {

// True when the bytes at the ZIP64 end record offset hold one; `at` is absolute.
std::optional<zip::Zip64End> read_zip64_end(io::ByteSource& src, std::uint64_t at) {
  std::uint8_t b[zip::kZip64EndLen];
  if (at > src.size() || src.read_at(at, b) < sizeof b) return std::nullopt;
  if (zip::load_u32(b) != zip::kZip64EndSig) return std::nullopt;
  return zip::parse_zip64_end(b);
}

}  // namespace

std::optional<EndRecords> locate_end_records(io::ByteSource& src) {
  const std::uint64_t size = src.size();
  if (size < zip::kEndLen) return std::nullopt;
  std::uint64_t window = std::min<std::uint64_t>(size, zip::kMaxCommentLen + zip::kEndLen);
  std::uint64_t base = size - window;
  std::vector<std::uint8_t> tail = src.read_vec(base, window);
  if (tail.size() < zip::kEndLen) return std::nullopt;

  // Prefer, searching backwards, a candidate whose comment ends exactly at the end of the file;
  // else the last candidate whose comment fits (bytes after it are reported as trailing).
  std::optional<std::size_t> exact, fitting;
  for (std::size_t i = tail.size() - zip::kEndLen + 1; i-- > 0;) {
    if (zip::load_u32(&tail[i]) != zip::kEndSig) continue;
    auto e = zip::parse_end({&tail[i], zip::kEndLen});
    std::uint64_t end = i + zip::kEndLen + e.comment_len;
    if (end == tail.size()) {
      exact = i;
      break;
    }
    if (end < tail.size() && !fitting) fitting = i;
  }
  auto pick = exact ? exact : fitting;
  if (!pick) return std::nullopt;
  // An end record of an empty archive after one that describes entries (22 bytes appended to a
  // whole archive): unzip, Python, Go and Java take the last and read nothing, 7-Zip reads the
  // entries (docs/readers.md, rules 43-44). An earlier end record left behind an in-place repair's
  // new one is no such case: every reader takes the new one.
  std::optional<std::size_t> other;
  const bool picked_empty = zip::parse_end({&tail[*pick], zip::kEndLen}).entries_total == 0;
  for (std::size_t i = *pick; picked_empty && i-- > 0;) {
    if (zip::load_u32(&tail[i]) != zip::kEndSig) continue;
    auto e = zip::parse_end({&tail[i], zip::kEndLen});
    if (e.entries_total > 0 && e.disk == 0 && e.cd_disk == 0 && e.entries_on_disk == e.entries_total &&
        std::uint64_t(e.cd_offset) + e.cd_size <= base + i && i + zip::kEndLen + e.comment_len <= tail.size()) {
      other = i;
      break;
    }
  }

  EndRecords r;
  r.eocd_offset = base + *pick;
  r.eocd = zip::parse_end({&tail[*pick], zip::kEndLen});
  r.end_of_records = r.eocd_offset + zip::kEndLen + r.eocd.comment_len;
  if (r.end_of_records < size && zip::load_u32(&tail[*pick]) == zip::kEndSig && *pick >= zip::kZip64LocatorLen &&
      zip::load_u32(&tail[*pick - zip::kZip64LocatorLen]) == zip::kZip64LocatorSig) {
    // Java finds the end records of a ZIP64 archive only when they end the file.
    r.findings.push_back(make_finding(report::Code::eocd_inconsistent, std::nullopt, r.end_of_records,
                                      fmt::format("{} bytes follow the end records of a ZIP64 archive: Java's ZipFile "
                                                  "cannot find them",
                                                  size - r.end_of_records)));
    r.findings.back().readers = report::refusing(report::kJava);
  } else if (r.end_of_records < size) {
    r.findings.push_back(make_finding(report::Code::trailing_bytes, std::nullopt, r.end_of_records,
                                      fmt::format("{} bytes follow the end record and its comment",
                                                  size - r.end_of_records)));
  }
  // Python's _EndRecData takes an end record that ends the file with no comment, else the last
  // "PK\5\6" of the window wherever it lies, also one with fewer than 22 bytes after it, which it
  // then refuses ("File is not a zip file"): a signature in the trailing bytes that is no record
  // the others take (docs/readers.md, rule 3; seed 17, mutant 18206: 4 bytes appended).
  const bool python_exact = zip::load_u32(&tail[tail.size() - zip::kEndLen]) == zip::kEndSig &&
                            tail[tail.size() - 2] == 0 && tail[tail.size() - 1] == 0;
  if (!python_exact) {
    std::optional<std::size_t> later;
    for (std::size_t i = tail.size() - 4; i > *pick && !later; --i)
      if (zip::load_u32(&tail[i]) == zip::kEndSig) later = i;
    if (later) {
      const std::size_t last = *later;
      const bool whole = last + zip::kEndLen <= tail.size();
      r.findings.push_back(make_finding(
          report::Code::eocd_inconsistent, std::nullopt, base + last,
          fmt::format("an end-record signature at offset {}, after the end record at {}: Python takes the last one "
                      "and {}",
                      base + last, r.eocd_offset,
                      whole ? "reads another directory from it" : "cannot open the archive (too few bytes follow it)")));
      r.findings.back().readers = report::refusing(report::kPython);
    }
  }
  if (other)
    r.findings.push_back(make_finding(report::Code::eocd_inconsistent, std::nullopt, base + *other,
                                      fmt::format("a second end record at offset {} besides the one at {}: readers "
                                                  "disagree on which one they take",
                                                  base + *other, r.eocd_offset)));
  r.entries = r.eocd.entries_total;
  r.cd_size = r.eocd.cd_size;
  r.cd_offset = r.eocd.cd_offset;
  const std::uint32_t disks = src.disks();
  if (disks) {
    // A split set (8.5): the end record is on the last volume and counts the volumes before it;
    // the directory may start on an earlier volume, so this volume holds only some of its records.
    if (r.eocd.disk != 0xFFFF && r.eocd.disk + 1u != disks)
      r.findings.push_back(make_finding(report::Code::eocd_inconsistent, std::nullopt, r.eocd_offset,
                                        fmt::format("the end record says it is on volume {}, but the set has {} volumes",
                                                    r.eocd.disk + 1u, disks)));
    if ((r.eocd.cd_disk != 0xFFFF && r.eocd.cd_disk > r.eocd.disk) || r.eocd.entries_on_disk > r.eocd.entries_total)
      r.findings.push_back(make_finding(report::Code::eocd_inconsistent, std::nullopt, r.eocd_offset,
                                        "the end record's volume numbers or entry counts disagree with each other"));
  } else if (r.eocd.entries_on_disk != r.eocd.entries_total || r.eocd.disk != r.eocd.cd_disk) {
    r.findings.push_back(make_finding(report::Code::eocd_inconsistent, std::nullopt, r.eocd_offset,
                                      "the end record describes a multi-disk archive or disagrees with itself"));
  } else if (r.eocd.disk != 0) {
    // 7-Zip refuses a single-volume archive that calls itself another disk; unzip warns
    // (docs/readers.md, rule 22).
    r.findings.push_back(make_finding(report::Code::disk_number_nonzero, std::nullopt, r.eocd_offset,
                                      fmt::format("the end record says this is disk {} of a single-volume archive",
                                                  r.eocd.disk)));
  }

  // 4.3.15: the locator sits immediately before the end record.
  std::uint64_t dir_end = r.eocd_offset;  // where the directory (or ZIP64 end record) should end
  if (r.eocd_offset >= zip::kZip64LocatorLen) {
    std::uint8_t lb[zip::kZip64LocatorLen];
    r.locator_offset = r.eocd_offset - zip::kZip64LocatorLen;
    if (src.read_at(r.locator_offset, lb) == sizeof lb && zip::load_u32(lb) == zip::kZip64LocatorSig) {
      r.locator = zip::parse_zip64_locator(lb);
      // OneDrive writes 0 total disks here: unzip then refuses the archive, and libarchive and Go
      // ignore the locator (docs/readers.md, rule 11), so only 1 is sound.
      if (r.locator->total_disks != (disks ? disks : 1u))
        r.findings.push_back(make_finding(report::Code::zip64_inconsistent, std::nullopt, r.locator_offset,
                                          fmt::format("ZIP64 locator says the archive spans {} disks",
                                                      r.locator->total_disks)));
      // The disk holding the ZIP64 end record must be this one: Python calls the archive multi-disk,
      // unzip refuses it, Go and libarchive ignore the locator and then find no directory (or, with
      // real classic values, nothing in it) (docs/readers.md, rule 12).
      if (r.locator->cd_disk != 0) {
        r.findings.push_back(make_finding(report::Code::disk_number_nonzero, std::nullopt, r.locator_offset,
                                          fmt::format("the ZIP64 locator says the ZIP64 end record is on disk {} of "
                                                      "a single-volume archive",
                                                      r.locator->cd_disk)));
        r.findings.back().readers = report::refusing(report::kUnzip | report::kLibarchive | report::kPython | report::kGo);
      }
      // The ZIP64 end record normally ends where the locator starts; its declared offset may be
      // shifted by a prefix, so the physical position is tried first.
      std::optional<zip::Zip64End> z;
      std::uint64_t zoff = 0;
      if (r.locator_offset >= zip::kZip64EndLen) {
        // Try the declared offset, then search back for the record ending at the locator.
        std::uint64_t declared = r.locator->zip64_end_offset;
        if (disks) declared = src.disk_position(r.locator->cd_disk, declared).value_or(declared);
        if ((z = read_zip64_end(src, declared))) zoff = declared;
        if (!z) {
          std::uint64_t probe = r.locator_offset - zip::kZip64EndLen;
          if ((z = read_zip64_end(src, probe))) {
            zoff = probe;
            // Found where it must be, not where the locator says: unzip, 7-Zip, Go and Java follow
            // the locator and refuse the archive (libarchive searches; a prefix the locator's
            // offset does not count is the usual cause).
            r.findings.push_back(make_finding(report::Code::zip64_inconsistent, std::nullopt, r.locator_offset,
                                              fmt::format("the ZIP64 locator points at offset {}, but the ZIP64 end "
                                                          "record is at {}",
                                                          r.locator->zip64_end_offset, probe)));
            r.findings.back().readers = report::refusing(report::kUnzip | report::kSevenZip | report::kGo | report::kJava);
          }
        }
      }
      if (!z) {
        r.findings.push_back(make_finding(report::Code::zip64_inconsistent, std::nullopt, r.locator->zip64_end_offset,
                                          "the ZIP64 locator points at no ZIP64 end record"));
      } else {
        r.zip64 = z;
        r.zip64_offset = zoff;
        // unzip refuses, 7-Zip misses a volume, libarchive reads nothing (docs/readers.md, rule 23).
        if (disks ? z->disk + 1u != disks || z->cd_disk > z->disk : z->disk != 0 || z->cd_disk != 0)
          r.findings.push_back(make_finding(report::Code::disk_number_nonzero, std::nullopt, zoff,
                                            disks ? fmt::format("the ZIP64 end record says disk {} (directory on disk "
                                                                "{}) of a set of {} volumes",
                                                                z->disk, z->cd_disk, disks)
                                                  : fmt::format("the ZIP64 end record says disk {} (directory on disk "
                                                                "{}) of a single-volume archive",
                                                                z->disk, z->cd_disk)));
        dir_end = zoff;
        if (12 + z->record_size + zoff != r.locator_offset)
          r.findings.push_back(make_finding(report::Code::zip64_inconsistent, std::nullopt, zoff,
              fmt::format("the ZIP64 end record's size field ({}) does not reach the locator", z->record_size)));
        // 4.4.1.4: a classic field of all ones defers to the ZIP64 record; other values must agree.
        auto check = [&](const char* what, std::uint64_t classic, std::uint64_t all_ones, std::uint64_t z64,
                         std::uint64_t& eff) {
          if (classic == all_ones) {
            eff = z64;
          } else if (classic != z64) {
            r.findings.push_back(make_finding(report::Code::zip64_inconsistent, std::nullopt, r.eocd_offset,
                fmt::format("the end record's {} ({}) disagrees with the ZIP64 end record ({})", what, classic, z64)));
            eff = z64;
          }
        };
        check("entry count", r.eocd.entries_total, 0xFFFF, z->entries_total, r.entries);
        check("directory size", r.eocd.cd_size, 0xFFFFFFFF, z->cd_size, r.cd_size);
        check("directory offset", r.eocd.cd_offset, 0xFFFFFFFF, z->cd_offset, r.cd_offset);
      }
    }
  }

  // In a split set the directory's offset counts from the start of the volume it starts on.
  std::uint64_t declared = r.cd_offset;
  if (disks) {
    std::uint32_t cd_disk = r.zip64 && r.eocd.cd_disk == 0xFFFF ? r.zip64->cd_disk : r.eocd.cd_disk;
    declared = src.disk_position(cd_disk, r.cd_offset).value_or(r.cd_offset);
  }
  // Where the directory must physically start: right before the end records. A difference from
  // the declared offset is a prefix (self-extractor stub) that the writer did not count.
  if (r.cd_size <= dir_end) {
    std::uint64_t physical = dir_end - r.cd_size;
    if (physical >= declared) {
      r.shift = physical - declared;
      r.cd_start = physical;
    } else {
      r.cd_start = declared;
      r.findings.push_back(make_finding(report::Code::eocd_inconsistent, std::nullopt, r.eocd_offset,
          fmt::format("the directory cannot start at offset {} and still end at {}", declared, dir_end)));
    }
  } else {
    r.cd_start = declared;
    r.findings.push_back(make_finding(report::Code::eocd_inconsistent, std::nullopt, r.eocd_offset,
                                      fmt::format("the directory size ({}) is larger than the bytes before "
                                                  "the end record ({})",
                                                  r.cd_size, dir_end)));
  }
  // Java's ZipFile takes an end record whose comment does not reach the end of the file only when
  // the archive's first local header is where the directory's offsets say the archive starts.
  if (r.end_of_records < size && r.cd_start >= r.cd_offset && !disks) {
    std::uint8_t sig[4] = {};
    std::uint64_t start = r.cd_start - r.cd_offset;
    if (src.read_at(start, sig) < 4 || zip::load_u32(sig) != zip::kLocalSig) {
      r.findings.push_back(make_finding(report::Code::eocd_inconsistent, std::nullopt, r.end_of_records,
                                        fmt::format("bytes follow the end record and the archive's offsets count from "
                                                    "offset {}, where no local header starts: Java's ZipFile cannot "
                                                    "find the end record",
                                                    start)));
      r.findings.back().readers = report::refusing(report::kJava);
    }
  }
  // zipstream-ng keeps real values in the classic record between 2 and 4 GiB (ZIP-NOTES), which is
  // valid: nothing to report for that.
  return r;
}

}  // namespace zm::scan
