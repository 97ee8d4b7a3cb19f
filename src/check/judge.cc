#include "check/judge.h"

#include <fmt/format.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <unordered_map>

#include "check/names.h"

namespace zm::check {
using report::Code;
using report::EntryStatus;
using report::make_finding;
using scan::Entry;
using Status = codec::DecodeResult::Status;

namespace {

// APPNOTE 4.4.3 defines versions up to 6.3. Python compares the low byte of the directory's
// field with 63 and refuses the archive; unzip skips the entry (docs/readers.md).
constexpr unsigned kMaxVersion = 63;

struct Judging {
  Entry& e;
  std::vector<report::Finding>& out;
  bool bad = false;
  void add(Code c, std::optional<std::uint64_t> at, std::string msg, report::Readers readers = 0) {
    auto f = make_finding(c, e.name, at, std::move(msg));
    if (readers) f.readers = readers;
    if (f.severity == report::Severity::error) bad = true;
    out.push_back(std::move(f));
  }
};

// The directory's own fields that readers refuse whatever the data holds.
void judge_directory_record(Judging& j) {
  Entry& e = j.e;
  if ((e.version_needed & 0xFF) > kMaxVersion)
    j.add(Code::version_unsupported, e.lfh_offset,
          fmt::format("the directory says version {}.{} is needed to extract it; 6.3 is the highest defined",
                      (e.version_needed & 0xFF) / 10, (e.version_needed & 0xFF) % 10));
  if (e.disk_start != 0)
    j.add(Code::disk_number_nonzero, e.lfh_offset,
          fmt::format("the directory record says the entry starts on disk {} of a single-volume archive", e.disk_start));
  if (e.cd_extra_malformed)
    j.add(Code::extra_field_malformed, e.lfh_offset, "a field of the directory record's extra block runs past the block",
          report::kPython | report::kLibarchive);
}

// The local header against the directory (4.3.7 vs 4.3.12). False when the header is not this
// entry's own: the bytes behind it are then another entry's, and judging them as this one would
// only add noise.
bool judge_local_header(Judging& j) {
  Entry& e = j.e;
  const scan::LocalClaim& l = *e.lfh;
  if (e.in_directory) {
    std::vector<std::string> diffs;
    if (l.name_differs) diffs.push_back("the name");
    if (l.method != e.method)
      diffs.push_back(
          fmt::format("method {} locally, {} in the directory", zip::method_name(l.method), zip::method_name(e.method)));
    if ((l.flags ^ e.flags) & (zip::kFlagEncrypted | zip::kFlagDescriptor))
      diffs.push_back(fmt::format("flags {:04x} locally, {:04x} in the directory", l.flags, e.flags));
    if (diffs.empty() && !(l.flags & zip::kFlagDescriptor)) {
      // Sizes live in the local header (bit 3 clear): unzip and libarchive take them from there.
      if (l.crc32 != e.crc32) diffs.push_back(fmt::format("CRC {:08x} locally, {:08x} in the directory", l.crc32, e.crc32));
      if (l.compressed_size != e.compressed_size || l.uncompressed_size != e.uncompressed_size)
        diffs.push_back(fmt::format("sizes {}/{} locally, {}/{} in the directory", l.compressed_size,
                                    l.uncompressed_size, e.compressed_size, e.uncompressed_size));
    }
    if (!diffs.empty()) {
      std::string msg = "the local header disagrees with the directory: ";
      for (std::size_t i = 0; i < diffs.size(); ++i) msg += (i ? "; " : "") + diffs[i];
      j.add(Code::cd_lfh_mismatch, e.lfh_offset, msg);
      if (!local_header_is_its_own(e)) {
        e.extent_known = false;
        if (e.end_offset < e.data_offset) e.end_offset = e.data_offset;
        return false;
      }
    }
  }
  if (l.ff_without_zip64 && !(l.flags & zip::kFlagDescriptor))
    j.add(Code::zip64_inconsistent, e.lfh_offset, "the local header's sizes are 0xFFFFFFFF but it has no ZIP64 extra field");
  if (l.extra_malformed)
    j.add(Code::extra_field_malformed, e.lfh_offset, "a field of the local header's extra block runs past the block",
          report::kLibarchive);
  return true;
}

// What the data really is (decoding) against what each witness claims of it.
void judge_data(Judging& j, std::uint64_t size) {
  Entry& e = j.e;
  const char* primary = e.in_directory ? "the directory" : "the local header";
  // The directory always claims CRC and sizes; without one, the local header claims them only
  // when bit 3 is clear (4.4.4); a bit-3 entry's only claim is then its descriptor.
  const bool has_primary = e.in_directory || (e.lfh && !(e.lfh->flags & zip::kFlagDescriptor));
  const bool cut = e.cut_intact || (e.decoded && e.decoded->status == Status::truncated) ||
                   (has_primary && e.data_offset + e.compressed_size > size);
  if (cut) {
    e.status = EntryStatus::truncated;
    std::uint64_t present = size > e.data_offset ? size - e.data_offset : 0;
    j.add(Code::entry_truncated, e.lfh_offset,
          e.cut_intact ? fmt::format("the file ends inside the entry; {} bytes of its data are intact", *e.cut_intact)
          : has_primary ? fmt::format("the file ends inside the entry's data: {} of {} compressed bytes present",
                                      std::min(present, e.compressed_size), e.compressed_size)
                        : fmt::format("the file ends inside the entry's data after {} bytes", present));
    return;
  }
  if (!e.decoded) {
    j.add(Code::decode_error, e.data_offset, "the entry's data could not be located, so it was not decoded");
    return;
  }
  const auto& d = *e.decoded;
  const std::uint64_t data_end = e.data_offset + d.consumed;
  if (d.status == Status::overrun) {
    std::uint64_t claimed = has_primary ? e.uncompressed_size : e.descriptor ? e.descriptor->uncompressed_size : 0;
    if ((has_primary || e.descriptor) && d.produced > claimed)
      j.add(Code::size_mismatch, e.data_offset,
            fmt::format("the data decodes to more than the {} bytes {} promises", claimed,
                        has_primary ? primary : "its data descriptor"));
    else
      j.add(Code::decode_error, e.data_offset,
            fmt::format("the compressed stream does not end within its {} bytes",
                        has_primary ? e.compressed_size : e.descriptor ? e.descriptor->compressed_size : d.consumed));
    return;
  }
  if (d.status != Status::ok) {
    j.add(Code::decode_error, e.data_offset + d.consumed, d.error);
    return;
  }
  if (has_primary) {
    if (d.consumed != e.compressed_size)
      j.add(Code::size_mismatch, data_end,
            fmt::format("the compressed stream ends after {} bytes; {} says {}", d.consumed, primary, e.compressed_size));
    if (d.produced != e.uncompressed_size)
      j.add(Code::size_mismatch, e.data_offset,
            fmt::format("the data decodes to {} bytes; {} says {}", d.produced, primary, e.uncompressed_size));
    if (d.crc != e.crc32)
      j.add(Code::crc_mismatch, e.data_offset,
            fmt::format("CRC-32 of the data is {:08x}; {} says {:08x}", d.crc, primary, e.crc32));
  }
  const bool bit3 = e.lfh ? (e.lfh->flags & zip::kFlagDescriptor) : e.has_descriptor_flag();
  if (!bit3) return;
  if (e.descriptor) {
    const auto& g = *e.descriptor;
    const bool sizes_agree = g.compressed_size == d.consumed && g.uncompressed_size == d.produced;
    if (sizes_agree && g.crc32 != d.crc && !has_primary)
      j.add(Code::crc_mismatch, e.data_offset,
            fmt::format("CRC-32 of the data is {:08x}; its data descriptor says {:08x}", d.crc, g.crc32));
    else if (!sizes_agree || g.crc32 != d.crc)
      j.add(Code::descriptor_mismatch, g.offset,
            fmt::format("the data descriptor says crc {:08x}, {} compressed, {} uncompressed; the data is {:08x}, {}, {}",
                        g.crc32, g.compressed_size, g.uncompressed_size, d.crc, d.consumed, d.produced));
  } else if (e.descriptor_cut || data_end >= size) {
    if (e.in_directory) {
      j.add(Code::descriptor_missing, data_end, "bit 3 is set but the file ends before the data descriptor");
    } else {
      e.status = EntryStatus::truncated;
      j.add(Code::entry_truncated, e.lfh_offset, "the file ends inside the entry's data descriptor");
      return;
    }
  } else {
    j.add(Code::descriptor_missing, data_end, "bit 3 is set but no data descriptor follows the data");
  }
  // libarchive compares a bit-3 local header's CRC and sizes with the descriptor when they are
  // not zero (docs/readers.md); writers leave them zero (4.4.4).
  if (e.lfh) {
    const auto& l = *e.lfh;
    std::vector<std::string> diffs;
    if (l.crc32 != 0 && l.crc32 != d.crc) diffs.push_back(fmt::format("CRC {:08x}", l.crc32));
    if (l.compressed_size != 0 && l.compressed_size != d.consumed)
      diffs.push_back(fmt::format("compressed size {}", l.compressed_size));
    if (l.uncompressed_size != 0 && l.uncompressed_size != d.produced)
      diffs.push_back(fmt::format("size {}", l.uncompressed_size));
    if (!diffs.empty()) {
      std::string msg = "bit 3 is set, yet the local header claims ";
      for (std::size_t i = 0; i < diffs.size(); ++i) msg += (i ? ", " : "") + diffs[i];
      j.add(Code::local_descriptor_conflict, e.lfh_offset, msg + ", which the data does not have");
    }
  }
}

}  // namespace

bool local_header_is_its_own(const Entry& e) {
  if (!e.lfh) return false;
  if (!e.in_directory) return true;
  return !e.lfh->name_differs && e.lfh->method == e.method && !((e.lfh->flags ^ e.flags) & zip::kFlagDescriptor);
}

void judge_entry(Entry& e, std::uint64_t size, std::vector<report::Finding>& out) {
  Judging j{e, out};
  e.status = EntryStatus::unchecked;
  if (e.in_directory) judge_directory_record(j);
  if (e.in_directory && !e.lfh) {
    const bool cut = e.lfh_problem == scan::LocalProblem::past_end || e.lfh_problem == scan::LocalProblem::cut;
    j.add(cut ? Code::entry_truncated : Code::local_header_unreadable, e.lfh_offset,
          fmt::format("local header at offset {}: {}", e.lfh_offset,
                      e.lfh_problem == scan::LocalProblem::past_end ? "the file ends before the local header"
                      : e.lfh_problem == scan::LocalProblem::cut   ? "the file ends inside the local header"
                                                                   : "no local header there"));
    e.status = cut ? EntryStatus::truncated : EntryStatus::damaged;
    return;
  }
  if (e.lfh && !judge_local_header(j)) {
    e.status = EntryStatus::damaged;
    return;
  }
  if (e.encrypted()) {
    e.status = EntryStatus::encrypted;
    j.add(Code::encrypted_entry, e.lfh_offset, "the entry is encrypted; its data cannot be verified without the password");
    return;
  }
  if (!codec::method_supported(e.method)) {
    e.status = EntryStatus::unsupported;
    j.add(Code::unsupported_method, e.lfh_offset,
          fmt::format("compression method {} cannot be decoded, so the entry is not verified", zip::method_name(e.method)));
    return;
  }
  judge_data(j, size);
  if (e.status == EntryStatus::unchecked) e.status = j.bad ? EntryStatus::damaged : EntryStatus::ok;
}

void judge_walk(scan::ScanResult& walk, std::uint64_t size) {
  for (auto& e : walk.entries) judge_entry(e, size, walk.findings);
  std::stable_sort(walk.findings.begin(), walk.findings.end(), [](const report::Finding& a, const report::Finding& b) {
    return a.offset.value_or(~std::uint64_t(0)) < b.offset.value_or(~std::uint64_t(0));
  });
}

void judge_names(const std::vector<Entry>& entries, std::vector<report::Finding>& out) {
  std::unordered_map<std::string_view, std::size_t> seen;  // views into `entries`, not copies
  seen.reserve(entries.size());
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const Entry& e = entries[i];
    if (auto why = unsafe_name_reason(e.name))
      out.push_back(make_finding(Code::unsafe_path, e.name, e.lfh_offset,
                                 *why + ": a restore could write outside its target"));
    if (is_symlink_mode(e.unix_mode()))
      out.push_back(make_finding(Code::symlink_entry, e.name, e.lfh_offset,
                                 "the entry is a symbolic link; a restore must not write through it"));
    auto [it, fresh] = seen.emplace(e.name, i);
    if (!fresh)
      out.push_back(make_finding(Code::duplicate_name, e.name, e.lfh_offset,
                                 fmt::format("the name is stored twice (entries {} and {})", it->second + 1, i + 1)));
  }
}

}  // namespace zm::check
