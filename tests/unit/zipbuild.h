// Builds small ZIP archives in memory, in every layout the scanner must handle, so unit tests
// need no files. Real writers' output is covered by the CLI tests on fixtures/.
#pragma once
#include <zlib.h>

#include <cstdint>
#include <string>
#include <vector>

#include "codec/codec.h"
#include "repair/repair.h"
#include "zip/records.h"

namespace zm::test {

enum class Descriptor { none, sig16, nosig12, sig24, nosig20 };

struct Item {
  std::string name;
  std::string data;
  bool deflate = true;
  Descriptor desc = Descriptor::none;
  bool zipstream_zip64 = false;  // zipstream-ng: ZIP64 extra with zero sizes, 0xFFFFFFFF in header
};

inline std::string raw_deflate(const std::string& in) {
  z_stream z{};
  deflateInit2(&z, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&z, in.size()) + 16, '\0');
  z.next_in = (Bytef*)in.data();
  z.avail_in = in.size();
  z.next_out = (Bytef*)out.data();
  z.avail_out = out.size();
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

inline std::uint32_t crc_of(const std::string& s) {
  return codec::crc32(0, {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()});
}

struct Built {
  std::vector<std::uint8_t> bytes;
  std::vector<std::uint64_t> offsets;  // local header of each item
  std::uint64_t cd_offset = 0;
};

inline Built build_zip(const std::vector<Item>& items, bool with_directory = true, const std::string& prefix = "") {
  std::string o = prefix;
  std::vector<repair::EntryRecord> recs;
  Built b;
  for (const auto& it : items) {
    std::string comp = it.deflate ? raw_deflate(it.data) : it.data;
    repair::EntryRecord r;
    r.name = it.name;
    r.method = it.deflate ? 8 : 0;
    r.crc32 = crc_of(it.data);
    r.compressed_size = comp.size();
    r.uncompressed_size = it.data.size();
    r.local_offset = o.size() - prefix.size();
    b.offsets.push_back(o.size());
    if (it.desc == Descriptor::none) {
      o += repair::local_header_bytes(r);
    } else {
      std::string h;
      zip::put32(h, zip::kLocalSig);
      zip::put16(h, it.zipstream_zip64 ? 45 : 20);
      zip::put16(h, zip::kFlagDescriptor);
      zip::put16(h, r.method);
      zip::put16(h, 0);
      zip::put16(h, 0x21);
      zip::put32(h, 0);
      zip::put32(h, it.zipstream_zip64 ? 0xFFFFFFFF : 0);
      zip::put32(h, it.zipstream_zip64 ? 0xFFFFFFFF : 0);
      zip::put16(h, it.name.size());
      zip::put16(h, it.zipstream_zip64 ? 20 : 0);
      h += it.name;
      if (it.zipstream_zip64) {
        zip::put16(h, 1);
        zip::put16(h, 16);
        zip::put64(h, 0);
        zip::put64(h, 0);
      }
      o += h;
      r.flags = zip::kFlagDescriptor;
      r.version_needed = it.zipstream_zip64 ? 45 : 20;
    }
    o += comp;
    std::string d;
    bool sig = it.desc == Descriptor::sig16 || it.desc == Descriptor::sig24;
    bool wide = it.desc == Descriptor::sig24 || it.desc == Descriptor::nosig20;
    if (it.desc != Descriptor::none) {
      if (sig) zip::put32(d, zip::kDescriptorSig);
      zip::put32(d, r.crc32);
      if (wide) {
        zip::put64(d, r.compressed_size);
        zip::put64(d, r.uncompressed_size);
      } else {
        zip::put32(d, r.compressed_size);
        zip::put32(d, r.uncompressed_size);
      }
    }
    o += d;
    recs.push_back(r);
  }
  b.cd_offset = o.size();
  if (with_directory) {
    std::string cd;
    for (auto& r : recs) cd += repair::central_record_bytes(r);
    o += cd;
    o += repair::end_records_bytes(recs.size(), b.cd_offset - prefix.size(), cd.size());
  }
  b.bytes.assign(o.begin(), o.end());
  return b;
}

inline std::string text_of(std::size_t n, unsigned seed = 1) {
  std::string s;
  std::uint32_t x = seed;
  while (s.size() < n) {
    x = x * 1103515245 + 12345;
    s += "{\"model\": \"finding\", \"id\": " + std::to_string(x % 100000) + "}\n";
  }
  s.resize(n);
  return s;
}

inline std::string noise_of(std::size_t n, unsigned seed = 7) {
  std::string s(n, '\0');
  std::uint32_t x = seed;
  for (auto& c : s) {
    x = x * 1664525 + 1013904223;
    c = char(x >> 24);
  }
  return s;
}

}  // namespace zm::test
