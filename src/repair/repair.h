// repair: a new central directory from the entries that survive (DESIGN.md, Repair rules).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "crypt/sysreptor_crypt.h"
#include "report/report.h"
#include "scan/catalog.h"
#include "scan/local_scanner.h"

namespace zm::repair {

struct RepairRequest {
  std::string input;
  // The archive's bytes when they are not simply the input file (a decrypted .zip.crypt);
  // in-place mode needs the file itself.
  io::ByteSource* source = nullptr;
  std::string output;      // copy mode
  bool in_place = false;   // append mode
  bool salvage_partial = false;
  unsigned threads = 0;
  bool progress = false;
  bool profile_sysreptor = false;
  // Write the output as a SysReptor .zip.crypt with this key and a fresh nonce.
  std::optional<crypt::Key> encrypt_key;
  std::string encrypt_key_id;
};

struct RepairResult {
  report::Report report;
  bool written = false;
  std::string why_not;
  std::size_t recovered_entries = 0, lost_entries = 0;
};

RepairResult repair_archive(const RepairRequest& req);

// The scan command's report: entries, findings, and where and why the walk stopped.
report::Report scan_report(const scan::ScanResult& s, const std::string& path, std::uint64_t size);

// Record writers (APPNOTE 4.3.7, 4.3.12, 4.3.14-16), ZIP64 exactly when a value needs it.
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
std::string local_header_bytes(const EntryRecord& e);  // sizes in the header, bit 3 clear
std::string central_record_bytes(const EntryRecord& e);
std::string end_records_bytes(std::uint64_t entries, std::uint64_t cd_offset, std::uint64_t cd_size);

}  // namespace zm::repair
