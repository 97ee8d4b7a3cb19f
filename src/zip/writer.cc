#include "zip/writer.h"

#include <algorithm>
#include <vector>

namespace zm::zip {

namespace {

bool needs64(std::uint64_t v) { return v >= kMax32; }

std::string zip64_field(const std::vector<std::uint64_t>& values) {
  std::string f;
  put16(f, kZip64ExtraId);
  put16(f, std::uint16_t(values.size() * 8));
  for (auto v : values) put64(f, v);
  return f;
}
}  // namespace

std::string local_header_bytes(const EntryRecord& e) {
  // 4.5.3: a local ZIP64 field, when present, holds both sizes.
  bool z = needs64(e.compressed_size) || needs64(e.uncompressed_size);
  std::string extra = e.extra;
  if (z) extra += zip64_field({e.uncompressed_size, e.compressed_size});
  std::string o;
  o.reserve(kLocalHeaderLen + e.name.size() + extra.size());
  put32(o, kLocalSig);
  put16(o, z ? std::max<std::uint16_t>(e.version_needed, 45) : e.version_needed);
  put16(o, e.flags);
  put16(o, e.method);
  put16(o, e.mod_time);
  put16(o, e.mod_date);
  put32(o, e.crc32);
  put32(o, z ? kMax32 : std::uint32_t(e.compressed_size));
  put32(o, z ? kMax32 : std::uint32_t(e.uncompressed_size));
  put16(o, std::uint16_t(e.name.size()));
  put16(o, std::uint16_t(extra.size()));
  o += e.name;
  o += extra;
  return o;
}

std::string descriptor_bytes(const EntryRecord& e) {
  std::string o;
  put32(o, kDescriptorSig);
  put32(o, e.crc32);
  if (needs64(e.compressed_size) || needs64(e.uncompressed_size)) {
    put64(o, e.compressed_size);
    put64(o, e.uncompressed_size);
  } else {
    put32(o, std::uint32_t(e.compressed_size));
    put32(o, std::uint32_t(e.uncompressed_size));
  }
  return o;
}

std::string central_record_bytes(const EntryRecord& e) {
  std::vector<std::uint64_t> z;
  if (needs64(e.uncompressed_size)) z.push_back(e.uncompressed_size);
  if (needs64(e.compressed_size)) z.push_back(e.compressed_size);
  if (needs64(e.local_offset)) z.push_back(e.local_offset);
  std::string extra = e.extra;
  if (!z.empty()) extra += zip64_field(z);
  std::string o;
  o.reserve(kCentralHeaderLen + e.name.size() + extra.size() + e.comment.size());
  put32(o, kCentralSig);
  put16(o, e.version_made_by);
  put16(o, z.empty() ? e.version_needed : std::max<std::uint16_t>(e.version_needed, 45));
  put16(o, e.flags);
  put16(o, e.method);
  put16(o, e.mod_time);
  put16(o, e.mod_date);
  put32(o, e.crc32);
  put32(o, needs64(e.compressed_size) ? kMax32 : std::uint32_t(e.compressed_size));
  put32(o, needs64(e.uncompressed_size) ? kMax32 : std::uint32_t(e.uncompressed_size));
  put16(o, std::uint16_t(e.name.size()));
  put16(o, std::uint16_t(extra.size()));
  put16(o, std::uint16_t(e.comment.size()));
  put16(o, 0);  // disk
  put16(o, e.internal_attr);
  put32(o, e.external_attr);
  put32(o, needs64(e.local_offset) ? kMax32 : std::uint32_t(e.local_offset));
  o += e.name;
  o += extra;
  o += e.comment;
  return o;
}

std::string end_records_bytes(std::uint64_t entries, std::uint64_t cd_offset, std::uint64_t cd_size) {
  std::string o;
  bool z = entries >= kMax16 || needs64(cd_offset) || needs64(cd_size);
  if (z) {
    std::uint64_t zip64_end_at = cd_offset + cd_size;
    put32(o, kZip64EndSig);
    put64(o, kZip64EndLen - 12);  // 4.3.14.1: size excludes the leading 12 bytes
    put16(o, 45);
    put16(o, 45);
    put32(o, 0);
    put32(o, 0);
    put64(o, entries);
    put64(o, entries);
    put64(o, cd_size);
    put64(o, cd_offset);
    put32(o, kZip64LocatorSig);
    put32(o, 0);
    put64(o, zip64_end_at);
    put32(o, 1);  // total disks: 1, not OneDrive's 0
  }
  put32(o, kEndSig);
  put16(o, 0);
  put16(o, 0);
  std::uint16_t n16 = entries >= kMax16 ? kMax16 : std::uint16_t(entries);
  put16(o, n16);
  put16(o, n16);
  put32(o, needs64(cd_size) ? kMax32 : std::uint32_t(cd_size));
  put32(o, needs64(cd_offset) ? kMax32 : std::uint32_t(cd_offset));
  put16(o, 0);
  return o;
}

}  // namespace zm::zip
