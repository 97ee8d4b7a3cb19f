#include "scan/central_directory.h"

#include <fmt/format.h>

namespace zm::scan {
using report::make_finding;

Entry entry_from_record(const zip::CentralDirectoryHeader& h, bool* zip64_missing) {
  Entry e;
  e.name = h.name;
  e.version_made_by = h.version_made_by;
  e.version_needed = h.version_needed;
  e.flags = h.flags;
  e.method = h.method;
  e.mod_time = h.mod_time;
  e.mod_date = h.mod_date;
  e.crc32 = h.crc32;
  e.compressed_size = h.compressed_size;
  e.uncompressed_size = h.uncompressed_size;
  e.internal_attr = h.internal_attr;
  e.external_attr = h.external_attr;
  if (!h.extra.empty() || !h.comment.empty()) e.extras = std::make_shared<const Entry::Extras>(Entry::Extras{h.extra, h.comment, {}});
  e.lfh_offset = h.local_offset;
  e.in_directory = true;
  e.disk_start = h.disk_start;
  const zip::Bytes extra{reinterpret_cast<const std::uint8_t*>(h.extra.data()), h.extra.size()};
  e.cd_extra_malformed = !zip::extra_well_formed(extra);
  // Java's ZipFile accepts a ZIP64 field of 8, 16, 24 or 28 bytes, or an empty one when no field
  // defers to it; libarchive refuses a WinZip AES field (0x9901) shorter than 7 bytes
  // (docs/readers.md, rules 12-13).
  for (std::size_t len : zip::extra_field_lengths(extra, zip::kZip64ExtraId)) {
    bool deferred = h.compressed_size == zip::kMax32 || h.uncompressed_size == zip::kMax32 ||
                    h.local_offset == zip::kMax32;
    if (!(len == 8 || len == 16 || len == 24 || len == 28 || (len == 0 && !deferred))) e.cd_extra_refused_by |= report::kJava;
  }
  for (std::size_t len : zip::extra_field_lengths(extra, 0x9901))
    if (len < 7) e.cd_extra_refused_by |= report::kLibarchive;
  // 4.4.1.4 / 4.5.3: an all-ones field defers to the ZIP64 extra, which holds only those values.
  bool want_u = h.uncompressed_size == zip::kMax32, want_c = h.compressed_size == zip::kMax32,
       want_o = h.local_offset == zip::kMax32, want_d = h.disk_start == zip::kMax16;
  if (want_u || want_c || want_o || want_d) {
    bool malformed = false;
    auto z = zip::parse_zip64_extra({reinterpret_cast<const std::uint8_t*>(h.extra.data()), h.extra.size()}, want_u,
                                    want_c, want_o, want_d, &malformed);
    e.cd_zip64 = z.has_value();
    if (zip64_missing) *zip64_missing = !z || malformed;
    if (z) {
      if (z->uncompressed) e.uncompressed_size = *z->uncompressed;
      if (z->compressed) e.compressed_size = *z->compressed;
      if (z->offset) e.lfh_offset = *z->offset;
      if (z->disk) e.disk_start = *z->disk;
    }
  }
  return e;
}

CentralDirectory read_central_directory(io::ByteSource& src, const EndRecords& end) {
  CentralDirectory cd;
  io::SequentialReader rd(src, end.cd_start);
  const std::uint64_t cd_end = end.cd_start + end.cd_size;
  std::uint64_t index = 0;
  // The count may say 4 billion; the directory's size (checked against the file) bounds how many
  // records it can hold, and a cap keeps a lying size from reserving gigabytes.
  cd.entries.reserve(std::size_t(std::min<std::uint64_t>({end.entries, end.cd_size / zip::kCentralHeaderLen, 1u << 20})));
  while (rd.pos() < cd_end) {
    std::uint64_t at = rd.pos();
    auto fixed = rd.peek(zip::kCentralHeaderLen);
    if (fixed.size() < zip::kCentralHeaderLen || zip::load_u32(fixed.data()) != zip::kCentralSig) {
      cd.findings.push_back(make_finding(report::Code::cd_unreadable, std::nullopt, at,
          fmt::format("central directory record {} is not where the directory says (no PK\\1\\2 signature)", index + 1)));
      return cd;
    }
    std::size_t len = zip::kCentralHeaderLen + (fixed[28] | fixed[29] << 8) + (fixed[30] | fixed[31] << 8) +
                      (fixed[32] | fixed[33] << 8);
    auto rec = rd.peek(len);
    if (rec.size() < len || at + len > cd_end) {
      cd.findings.push_back(make_finding(report::Code::cd_unreadable, std::nullopt, at,
                                         fmt::format("central directory record {} runs past the end of the directory",
                                                     index + 1)));
      return cd;
    }
    zip::Cursor c(rec);
    auto h = zip::parse_central(c);
    cd.readable = true;
    bool zip64_missing = false;
    Entry e = entry_from_record(h, &zip64_missing);
    if (zip64_missing)
      cd.findings.push_back(make_finding(report::Code::zip64_inconsistent, e.name, at,
                                         "a size or offset is 0xFFFFFFFF but the ZIP64 extra field lacks the value"));
    if (src.disks()) {
      // A split set (8.5): the offset counts from the start of the volume the entry starts on.
      // Once it is a position in the joined bytes, the entry is on "disk 0" of those bytes.
      if (auto p = src.disk_position(e.disk_start, e.lfh_offset)) {
        e.lfh_offset = *p;
        e.disk_start = 0;
      }
    }
    e.lfh_offset += end.shift;
    cd.entries.push_back(std::move(e));
    rd.skip(len);
    ++index;
  }
  if (index != end.entries) {
    cd.findings.push_back(make_finding(report::Code::eocd_inconsistent, std::nullopt, end.eocd_offset,
                                       fmt::format("the end record counts {} entries but the directory holds {}",
                                                   end.entries, index)));
  }
  if (index == 0 && end.cd_size == 0) cd.readable = true;  // an empty archive
  return cd;
}

}  // namespace zm::scan
