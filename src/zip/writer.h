// ZIP record writers (APPNOTE 4.3.7, 4.3.12, 4.3.14-16), beside the parsers in records.h: what a
// repair writes. ZIP64 fields and records appear exactly when a value needs them.
#pragma once
#include <cstdint>
#include <string>

#include "zip/records.h"

namespace zm::zip {

struct EntryRecord {
  std::string name;
  std::uint16_t version_made_by = 20, version_needed = 20, flags = 0, method = 0, mod_time = 0, mod_date = 0;
  std::uint32_t crc32 = 0;
  std::uint64_t compressed_size = 0, uncompressed_size = 0, local_offset = 0;
  std::uint16_t internal_attr = 0;
  std::uint32_t external_attr = 0;
  std::string extra;    // without any ZIP64 field; one is added when needed
  std::string comment;
};

// Sizes in the header; bit 3 only when the record has it (a ZipCrypto entry whose password check
// byte is the time's, 6.1.6), and then descriptor_bytes follow the data.
std::string local_header_bytes(const EntryRecord& e);
// 4.3.9: a signed data descriptor, with 8-byte sizes when either needs them.
std::string descriptor_bytes(const EntryRecord& e);
std::string central_record_bytes(const EntryRecord& e);
std::string end_records_bytes(std::uint64_t entries, std::uint64_t cd_offset, std::uint64_t cd_size);

}  // namespace zm::zip
