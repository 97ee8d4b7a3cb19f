#include "zip/records.h"

#include <algorithm>

namespace zm::zip {

std::string method_name(std::uint16_t m) {
  switch (m) {
    case kStored: return "stored";
    case kDeflate: return "deflate";
    case kDeflate64: return "deflate64";
    case kBzip2: return "bzip2";
    case kLzma: return "lzma";
    case kZstd: return "zstd";
    case kXz: return "xz";
    case kPpmd: return "ppmd";
    case kAesMarker: return "aes";
    default: return "method-" + std::to_string(m);
  }
}

bool extra_well_formed(Bytes extra) {
  std::size_t p = 0;
  while (p + 4 <= extra.size()) {
    std::size_t len = extra[p + 2] | (extra[p + 3] << 8);
    if (p + 4 + len > extra.size()) return false;
    p += 4 + len;
  }
  return true;
}

bool extra_too_small(Bytes extra) {
  if (extra.empty() || extra.size() >= 4) return false;
  for (std::uint8_t b : extra)
    if (b != 0) return true;
  return false;
}

std::vector<Bytes> extra_fields(Bytes extra, std::uint16_t id) {
  std::vector<Bytes> out;
  for (std::size_t p = 0; p + 4 <= extra.size();) {
    std::size_t len = extra[p + 2] | (extra[p + 3] << 8);
    if (p + 4 + len > extra.size()) break;
    if ((extra[p] | (extra[p + 1] << 8)) == id) out.push_back(extra.subspan(p + 4, len));
    p += 4 + len;
  }
  return out;
}

XlField xl_field(Bytes extra) {
  XlField out;
  for (Bytes f : extra_fields(extra, kXlExtraId)) {
    if (f.empty()) continue;
    const unsigned bitmap = f[0];
    std::size_t p = 1;
    for (unsigned last = bitmap; (last & 0x80) && p < f.size();) last = f[p++];
    if (bitmap & 1) {
      if (p + 2 > f.size()) continue;
      out.has_made_by = true;
      out.made_by = std::uint16_t(f[p] | f[p + 1] << 8);
      p += 2;
    }
    if (bitmap & 2) {
      if (p + 2 > f.size()) continue;
      p += 2;
    }
    if ((bitmap & 4) && p + 4 <= f.size()) {
      out.has_external = true;
      out.external = load_u32(f.data() + p);
    }
  }
  return out;
}

std::optional<UnixTime> ntfs_modified(Bytes extra) {
  for (std::size_t p = 0; p + 4 <= extra.size();) {
    std::size_t len = extra[p + 2] | (extra[p + 3] << 8);
    if (p + 4 + len > extra.size()) break;
    if ((extra[p] | (extra[p + 1] << 8)) == kNtfsExtraId) {
      Bytes field = extra.subspan(p + 4, len);
      for (std::size_t q = 4; q + 4 <= field.size();) {
        std::size_t tag = field[q] | (field[q + 1] << 8), size = field[q + 2] | (field[q + 3] << 8);
        if (q + 4 + size > field.size()) break;
        if (tag == 1 && size >= 8) {
          // FILETIME 0 means "not recorded"; 11,644,473,600 s lie between 1601 and 1970.
          std::uint64_t ticks = load_u32(&field[q + 4]) | std::uint64_t(load_u32(&field[q + 8])) << 32;
          if (ticks == 0) return std::nullopt;
          std::int64_t since_1601 = std::int64_t(ticks / 10000000);
          return UnixTime{since_1601 - 11644473600LL, std::uint32_t(ticks % 10000000) * 100};
        }
        q += 4 + size;
      }
    }
    p += 4 + len;
  }
  return std::nullopt;
}

std::optional<Zip64Extra> parse_zip64_extra(Bytes extra, bool want_uncomp, bool want_comp, bool want_offset,
                                            bool want_disk, bool* malformed) {
  if (malformed) *malformed = false;
  std::size_t p = 0;
  while (p + 4 <= extra.size()) {
    std::uint16_t id = extra[p] | (extra[p + 1] << 8);
    std::size_t len = extra[p + 2] | (extra[p + 3] << 8);
    if (p + 4 + len > extra.size()) break;
    if (id == kZip64ExtraId) {
      Cursor c(extra.subspan(p + 4, len));
      Zip64Extra z;
      try {
        if (len == 16 && !want_offset && !want_disk) {
          // Local-header form: both sizes always present (4.5.3; zipstream-ng writes zeros here).
          z.uncompressed = c.u64();
          z.compressed = c.u64();
          return z;
        }
        if (want_uncomp) z.uncompressed = c.u64();
        if (want_comp) z.compressed = c.u64();
        if (want_offset) z.offset = c.u64();
        if (want_disk) z.disk = c.u32();
      } catch (const FormatError&) {
        if (malformed) *malformed = true;
      }
      return z;
    }
    p += 4 + len;
  }
  return std::nullopt;
}

std::string strip_extra(Bytes extra, std::uint16_t id) {
  std::string out;
  std::size_t p = 0;
  while (p + 4 <= extra.size()) {
    std::uint16_t fid = extra[p] | (extra[p + 1] << 8);
    std::size_t len = extra[p + 2] | (extra[p + 3] << 8);
    if (p + 4 + len > extra.size()) break;  // a malformed tail is dropped, not copied
    if (fid != id) out.append(reinterpret_cast<const char*>(extra.data() + p), 4 + len);
    p += 4 + len;
  }
  return out;
}

LocalFileHeader parse_local_fixed(Bytes b) {
  Cursor c(b);
  if (c.u32() != kLocalSig) throw FormatError("no local header signature");
  LocalFileHeader h;
  h.version_needed = c.u16();
  h.flags = c.u16();
  h.method = c.u16();
  h.mod_time = c.u16();
  h.mod_date = c.u16();
  h.crc32 = c.u32();
  h.compressed_size = c.u32();
  h.uncompressed_size = c.u32();
  h.name_len = c.u16();
  h.extra_len = c.u16();
  return h;
}

void parse_local_tail(LocalFileHeader& h, Bytes tail) {
  Cursor c(tail);
  h.name = c.str(h.name_len);
  h.extra = c.str(h.extra_len);
  auto ex = Bytes(reinterpret_cast<const std::uint8_t*>(h.extra.data()), h.extra.size());
  h.zip64 = parse_zip64_extra(ex, h.uncompressed_size == kMax32, h.compressed_size == kMax32, false, false);
}

std::uint16_t local_name_len(Bytes b) {
  Cursor c(b.subspan(std::min<std::size_t>(b.size(), 26)));
  return c.u16();
}

std::uint16_t local_method(Bytes b) {
  Cursor c(b.subspan(std::min<std::size_t>(b.size(), 8)));
  return c.u16();
}

std::optional<std::size_t> central_record_len(Bytes b) {
  if (b.size() < kCentralHeaderLen || load_u32(b.data()) != kCentralSig) return std::nullopt;
  Cursor c(b.subspan(28, 6));  // name, extra field and comment lengths
  std::size_t len = kCentralHeaderLen + c.u16();
  len += c.u16();
  return len + c.u16();
}

CentralDirectoryHeader parse_central(Cursor& c) {
  if (c.u32() != kCentralSig) throw FormatError("no central directory header signature");
  CentralDirectoryHeader h;
  h.version_made_by = c.u16();
  h.version_needed = c.u16();
  h.flags = c.u16();
  h.method = c.u16();
  h.mod_time = c.u16();
  h.mod_date = c.u16();
  h.crc32 = c.u32();
  h.compressed_size = c.u32();
  h.uncompressed_size = c.u32();
  h.name_len = c.u16();
  h.extra_len = c.u16();
  h.comment_len = c.u16();
  h.disk_start = c.u16();
  h.internal_attr = c.u16();
  h.external_attr = c.u32();
  h.local_offset = c.u32();
  h.name = c.str(h.name_len);
  h.extra = c.str(h.extra_len);
  h.comment = c.str(h.comment_len);
  return h;
}

EndOfCentralDirectory parse_end(Bytes b) {
  Cursor c(b);
  if (c.u32() != kEndSig) throw FormatError("no end record signature");
  EndOfCentralDirectory e;
  e.disk = c.u16();
  e.cd_disk = c.u16();
  e.entries_on_disk = c.u16();
  e.entries_total = c.u16();
  e.cd_size = c.u32();
  e.cd_offset = c.u32();
  e.comment_len = c.u16();
  return e;
}

Zip64Locator parse_zip64_locator(Bytes b) {
  Cursor c(b);
  if (c.u32() != kZip64LocatorSig) throw FormatError("no ZIP64 locator signature");
  Zip64Locator l;
  l.cd_disk = c.u32();
  l.zip64_end_offset = c.u64();
  l.total_disks = c.u32();
  return l;
}

Zip64End parse_zip64_end(Bytes b) {
  Cursor c(b);
  if (c.u32() != kZip64EndSig) throw FormatError("no ZIP64 end record signature");
  Zip64End e;
  e.record_size = c.u64();
  e.version_made_by = c.u16();
  e.version_needed = c.u16();
  e.disk = c.u32();
  e.cd_disk = c.u32();
  e.entries_on_disk = c.u64();
  e.entries_total = c.u64();
  e.cd_size = c.u64();
  e.cd_offset = c.u64();
  return e;
}

}  // namespace zm::zip
