#include "repair/plan.h"

#include <fmt/format.h>

#include <set>

#include "check/names.h"
#include "codec/codec.h"

namespace zm::repair {
using report::make_finding;
using scan::Entry;

namespace {

// Only fields that every reader accepts go into the new directory (issue 10, "repair from every
// witness"): an extra block whose fields run past it, or a comment that is not UTF-8 (Java's
// ZipFile refuses the archive), is left out rather than copied.
// Of the extra fields, only the timestamps and Unix owners (0x5455, 0x7875, 0x000a) are kept:
// the rest describe what a repair does not keep (ZIP64 values, which it writes itself; AES
// parameters; Unicode names, whose CRC must match the name it writes), and a reader refuses some
// of them when they do not fit the entry.
std::string well_formed_extra(const std::string& extra, bool aes) {
  zip::Bytes b{reinterpret_cast<const std::uint8_t*>(extra.data()), extra.size()};
  if (!zip::extra_well_formed(b)) return {};
  std::string out;
  for (std::size_t p = 0; p + 4 <= b.size();) {
    std::uint16_t id = b[p] | (b[p + 1] << 8);
    std::size_t len = b[p + 2] | (b[p + 3] << 8);
    // 0x9901 on a WinZip AES entry (method 99) too: it is kept encrypted, and readers find its
    // method and key strength only there. On any other entry libarchive refuses the field.
    if ((id == 0x5455 && len >= 1) || id == 0x7875 || id == 0x000a || (id == 0x9901 && aes && len >= 7))
      out.append(extra, p, 4 + len);
    p += 4 + len;
  }
  return out;
}

bool is_ascii(const std::string& s) {
  for (unsigned char c : s)
    if (c >= 0x80) return false;
  return true;
}

// Whether unzip converts the name of a record we write from an OEM code page, in the directory
// or in the local header (Ext_ASCII_TO_Native; docs/readers.md, rule 71): hosts 0 (FAT) and 6
// (HPFS), and 11 (NTFS) at version 5.0; not FAT's 2.5, 2.6 and 4.0 in the local header, nor in the
// directory when the attributes' high half is set. Both copies carry the same flags and extra
// block here, and a copy with bit 11 and an extra block is taken as UTF-8.
bool unzip_converts(const zip::EntryRecord& r) {
  const unsigned host = r.version_made_by >> 8, ver = r.version_made_by & 0xFF;
  if ((r.flags & zip::kFlagUtf8) && !r.extra.empty()) return false;
  const bool pkzip_win = ver == 25 || ver == 26 || ver == 40;
  const bool central = (host == 0 && !((r.external_attr >> 16) && pkzip_win)) || host == 6 || (host == 11 && ver == 50);
  const bool local = (host == 0 && !pkzip_win) || host == 6 || (host == 11 && ver == 50);
  return central || local;
}

zip::EntryRecord record_for(const Entry& e, const Entry* cd, bool in_place, bool cd_names) {
  zip::EntryRecord r;
  // A copy writes new local headers, so the directory's name (which verified with the data) can
  // replace a damaged local one; in place the old local header stays, and the names must agree.
  r.name = cd && !in_place && cd_names ? cd->name : e.name;
  r.flags = e.flags;
  r.method = e.method;
  r.crc32 = e.decoded ? e.decoded->crc : e.crc32;
  r.compressed_size = e.compressed_size;
  r.uncompressed_size = e.uncompressed_size;
  r.version_needed = e.lfh_read() ? e.version_needed : 20;
  if (r.version_needed > 63) r.version_needed = 45;
  r.extra = well_formed_extra(e.lfh_extra(), e.method == 99);
  r.mod_time = e.mod_time;
  r.mod_date = e.mod_date;
  if (cd) {
    // The directory is the only place with the host, permissions and comment.
    r.version_made_by = cd->version_made_by;
    r.internal_attr = cd->internal_attr;
    r.external_attr = cd->external_attr;
    if (check::valid_utf8(cd->comment())) r.comment = cd->comment();
    r.extra = well_formed_extra(cd->cd_extra(), e.method == 99);
  } else {
    // No directory: a Unix host with ordinary modes. An MS-DOS host would make unzip convert the
    // central name from CP437 but not the local one, and report UTF-8 names as mismatching.
    r.version_made_by = (3 << 8) | 20;
    r.external_attr = e.is_directory() ? (040755u << 16) | 0x10 : (0100644u << 16);
  }
  const bool utf8 = check::valid_utf8(r.name), ascii = is_ascii(r.name);
  // Bit 11 stays as the writer set it (adding it would change how Python decodes an Info-ZIP
  // name), except on a name that is not valid UTF-8: with it, Python and libarchive refuse that.
  // One witness may have lost it to damage: Python decodes a non-ASCII name without it as CP437,
  // so a valid UTF-8 name gets it when either the local header or the directory set it.
  if (!utf8) r.flags &= ~zip::kFlagUtf8;
  else if (!ascii && cd && (cd->flags & zip::kFlagUtf8)) r.flags |= zip::kFlagUtf8;
  // A damaged directory's "version made by" (host 0 or 6) would make unzip convert a UTF-8 name
  // from an OEM code page and extract it under another name (docs/readers.md, rule 71). Such a
  // name is written with a Unix host, which unzip never converts; an ASCII name cannot change, and
  // a name that is not UTF-8 is most likely the OEM name the host says it is, so both keep theirs.
  if (cd && utf8 && !ascii && unzip_converts(r)) {
    const unsigned ver = r.version_made_by & 0xFF;
    r.version_made_by = (3 << 8) | (ver >= 20 && ver <= 63 ? ver : 63);
    // Unix modes in the high half are trusted only when they are a regular file or a directory
    // as the entry is one: a symbolic link from a record that was not Unix's is none (unzip makes
    // links only for Unix-like hosts, so the old record did not make one either).
    const unsigned type = (r.external_attr >> 16) & 0170000;
    const bool dir = !r.name.empty() && r.name.back() == '/';
    if (type != (dir ? 0040000u : 0100000u))
      r.external_attr = (r.external_attr & 0xFFFF) | ((dir ? 040755u : 0100644u) << 16);
  }
  return r;
}

}  // namespace

std::size_t rescue_from_directory(std::vector<Entry>& found, const std::map<std::uint64_t, Entry>& directory,
                                  io::ByteSource& src, bool in_place) {
  // How many of the six readers lack a method (docs/readers.md, table 2).
  auto lacking = [](std::uint16_t m) {
    return m == 0 || m == 8 ? 0 : m == 12 ? 2 : m == 14 ? 3 : m == 9 || m == 1 || m == 6 ? 4 : 5;
  };
  std::size_t rescued = 0;
  codec::Workspace ws;
  for (auto& e : found) {
    auto it = directory.find(e.lfh_offset);
    if (it == directory.end() || !e.lfh_read() || e.encrypted()) continue;
    const Entry& cd = it->second;
    const bool agrees = e.status == report::EntryStatus::ok && e.decoded && cd.crc32 == e.decoded->crc &&
                        cd.compressed_size == e.compressed_size && cd.uncompressed_size == e.uncompressed_size;
    const bool better_method = !in_place && cd.method != e.method && lacking(cd.method) < lacking(e.method);
    if ((agrees && !better_method) || cd.encrypted() || !codec::method_supported(cd.method)) continue;
    if (e.data_offset + cd.compressed_size > src.size()) continue;
    Entry as_cd = e;
    as_cd.method = cd.method;
    as_cd.flags = cd.flags;
    as_cd.compressed_size = cd.compressed_size;
    as_cd.uncompressed_size = cd.uncompressed_size;
    auto d = ws.decode(src, scan::sized_request(as_cd));
    if (d.status != codec::DecodeResult::Status::ok || d.crc != cd.crc32 || d.consumed != cd.compressed_size ||
        d.produced != cd.uncompressed_size)
      continue;
    e.method = cd.method;
    // The directory's flags describe the data that verified; bit 11 is the one flag that speaks
    // of the name, and either witness may have lost it to damage (record_for keeps it from both).
    e.flags = cd.flags | (e.flags & zip::kFlagUtf8);
    e.crc32 = cd.crc32;
    e.compressed_size = cd.compressed_size;
    e.uncompressed_size = cd.uncompressed_size;
    e.decoded = d;
    e.descriptor.reset();
    e.end_offset = e.data_offset + cd.compressed_size;
    e.status = report::EntryStatus::ok;
    e.claims_from_directory = true;
    ++rescued;
  }
  // LZMA's bit 1 says whether the stream ends with an end marker (4.4.4). liblzma takes a marker
  // after the known size either way, but 7-Zip refuses a stream whose bit 1 is wrong ("Headers
  // Error"), and the bit is as easily damaged in one header as the other: a copy writes it as the
  // stream is, learnt by decoding once more without the size.
  // A Deflate stream read as Deflate64 gives the same bytes unless it uses a length code 285 or
  // a distance code 30 or 31, which Deflate lacks; a method 9 that was 8 before damage (or a
  // writer's needless 9) is written as 8 when the stream decodes the same both ways, so that the
  // four readers without Deflate64 (docs/readers.md, table 2) read it too.
  if (!in_place)
    for (auto& e : found) {
      if (e.method != zip::kDeflate64 || e.status != report::EntryStatus::ok || !e.decoded || e.encrypted()) continue;
      Entry as_deflate = e;
      as_deflate.method = zip::kDeflate;
      auto d = ws.decode(src, scan::sized_request(as_deflate));
      if (d.status == codec::DecodeResult::Status::ok && d.crc == e.decoded->crc &&
          d.consumed == e.compressed_size && d.produced == e.uncompressed_size) {
        e.method = zip::kDeflate;
        if (e.version_needed == 21) e.version_needed = 20;
      }
    }
  if (!in_place)
    for (auto& e : found) {
      if (e.method != zip::kLzma || e.status != report::EntryStatus::ok || !e.decoded || e.encrypted()) continue;
      Entry with_marker = e;
      with_marker.flags |= 2;
      auto d = ws.decode(src, scan::sized_request(with_marker));
      const bool marker = d.status == codec::DecodeResult::Status::ok && d.crc == e.decoded->crc &&
                          d.consumed == e.compressed_size && d.produced == e.uncompressed_size;
      // Bit 2 means nothing for LZMA (4.4.4 defines only bit 1 there): not copied from damage.
      e.flags = (e.flags & ~6) | (marker ? 2 : 0);
    }
  return rescued;
}

std::uint64_t RepairPlan::size_bound() const {
  std::uint64_t n = 0;
  for (const auto& k : keep) {
    std::uint64_t records = 2 * (zip::kCentralHeaderLen + k.record.name.size() + k.record.extra.size() + 28) +
                            k.record.comment.size();
    n += records + (in_place ? 0 : k.record.compressed_size);
  }
  for (const auto* e : partials)
    n += 2 * (zip::kCentralHeaderLen + e->name.size() + 8 + 28) + std::max(e->uncompressed_size, e->compressed_size);
  return n + zip::kZip64EndLen + zip::kZip64LocatorLen + zip::kEndLen;
}

RepairPlan plan(const std::vector<Entry>& found, const std::map<std::uint64_t, Entry>& directory,
                const PlanOptions& opt) {
  RepairPlan p;
  // When the local header and a whole old directory name an entry differently and both agree
  // with its data, one name was damaged. The likelier one is valid UTF-8 with no control bytes,
  // is safe to restore, and lies in a folder other entries use; on a tie the directory's.
  // A folder counts for a name when an entry at another offset uses it too (its own entry always
  // does, and a damaged name's folder is usually its own alone).
  struct FolderUse {
    std::uint64_t first;
    bool many;
  };
  std::map<std::string, FolderUse> folders;
  auto add_folder = [&](const std::string& n, std::uint64_t off) {
    auto slash = n.rfind('/');
    if (slash == std::string::npos) return;
    auto [it, fresh] = folders.try_emplace(n.substr(0, slash + 1), FolderUse{off, false});
    if (!fresh && it->second.first != off) it->second.many = true;
  };
  for (const auto& e : found) add_folder(e.name, e.lfh_offset);
  for (const auto& [off, e] : directory) add_folder(e.name, off);
  auto likelihood = [&](const std::string& n, std::uint64_t off) {
    int s = 0;
    bool control = false;
    for (unsigned char c : n) control |= c < 0x20 || c == 0x7f;
    if (check::valid_utf8(n) && !control) s += 4;
    if (!check::unsafe_name_reason(n)) s += 2;
    auto slash = n.rfind('/');
    auto it = slash == std::string::npos ? folders.end() : folders.find(n.substr(0, slash + 1));
    if (slash == std::string::npos || (it != folders.end() && (it->second.many || it->second.first != off))) s += 1;
    return s;
  };
  auto use_directory_name = [&](const Entry& e, const Entry* cd) {
    return cd && !opt.in_place && opt.directory_whole && cd->name != e.name &&
           likelihood(cd->name, e.lfh_offset) > likelihood(e.name, e.lfh_offset);
  };
  // Both names equally likely: which one was damaged cannot be told, and a repair writes no name
  // that did not pass; the entry is left out (its bytes stay in the input) and said why.
  auto names_undecided = [&](const Entry& e, const Entry* cd) {
    return cd && cd->name != e.name && opt.directory_whole &&
           likelihood(cd->name, e.lfh_offset) == likelihood(e.name, e.lfh_offset);
  };
  // The old directory's record at this offset disagrees on the name and on the data, and its name
  // is the likelier: the local header is more likely a misreading (a shifted header that took data
  // bytes into its name, then met a descriptor-like run in the data) than the writer's entry.
  auto contradicted = [&](const Entry& e) -> const Entry* {
    auto it = directory.find(e.lfh_offset);
    if (it == directory.end() || !e.decoded) return nullptr;
    const Entry& cd = it->second;
    const bool data_differs = cd.crc32 != e.decoded->crc || cd.compressed_size != e.compressed_size ||
                              cd.uncompressed_size != e.uncompressed_size;
    return cd.name != e.name && data_differs &&
                   likelihood(cd.name, e.lfh_offset) > likelihood(e.name, e.lfh_offset)
               ? &cd
               : nullptr;
  };
  p.in_place = opt.in_place;
  std::set<std::uint64_t> found_offsets;
  std::set<std::string> names;
  // The old directory's record of an entry is a witness when it names it, or when its CRC and
  // sizes agree with the verified data (then a differing name is the local header's damage).
  auto cd_for = [&](const Entry& e) -> const Entry* {
    auto it = directory.find(e.lfh_offset);
    if (it == directory.end()) return nullptr;
    const Entry& cd = it->second;
    // A Deflate64 record describes the same stream when rescue_from_directory found it to decode
    // alike as Deflate and the entry is written as such.
    const bool same_method = cd.method == e.method || (cd.method == zip::kDeflate64 && e.method == zip::kDeflate);
    bool agrees = e.decoded && cd.crc32 == e.decoded->crc && cd.compressed_size == e.compressed_size &&
                  cd.uncompressed_size == e.uncompressed_size && same_method;
    return cd.name == e.name || agrees ? &cd : nullptr;
  };
  for (const auto& e : found) {
    found_offsets.insert(e.lfh_offset);
    if (e.status == report::EntryStatus::ok && e.claims_from_directory && opt.in_place) {
      // Its local header lies about the data, and an append cannot change it: readers that take
      // the sizes from the local header would read other bytes.
      p.lost.push_back(e.name);
      p.findings.push_back(make_finding(report::Code::cd_lfh_mismatch, e.name, e.lfh_offset,
                                        "the local header is damaged but the old directory's record verified; "
                                        "repair -o OUT rewrites the header and keeps the entry, in place it is lost"));
      continue;
    }
    if (e.status == report::EntryStatus::ok) {
      const Entry* cd = cd_for(e);
      if (cd && (cd->crc32 != e.decoded->crc || cd->compressed_size != e.compressed_size ||
                 cd->uncompressed_size != e.uncompressed_size))
        p.findings.push_back(make_finding(report::Code::cd_lfh_mismatch, e.name, e.lfh_offset,
                                          "the old central directory disagrees with the entry's verified data; the "
                                          "data wins"));
      if (const Entry* other = cd ? nullptr : contradicted(e)) {
        p.lost.push_back(e.name);
        p.findings.push_back(make_finding(report::Code::cd_lfh_mismatch, e.name, e.lfh_offset,
                                          fmt::format("the old directory's record here names '{}' with other data "
                                                      "(crc {:08x}, {} bytes): this local header is likely damaged, "
                                                      "so it is left out",
                                                      report::printable_name(other->name), other->crc32,
                                                      other->uncompressed_size)));
        continue;
      }
      // In place the local header stays, so a local name the old directory shows to be damaged
      // cannot be mended: the entry is left out, and a copy keeps it under the directory's name.
      if (cd && opt.in_place && opt.directory_whole && cd->name != e.name &&
          likelihood(cd->name, e.lfh_offset) > likelihood(e.name, e.lfh_offset)) {
        p.lost.push_back(e.name);
        p.findings.push_back(make_finding(report::Code::cd_lfh_mismatch, e.name, e.lfh_offset,
                                          fmt::format("named '{}' locally and '{}' in the old directory, which is the "
                                                      "likelier: in place the local name cannot be mended, so it is "
                                                      "left out (repair -o OUT keeps it under the directory's name)",
                                                      report::printable_name(e.name),
                                                      report::printable_name(cd->name))));
        continue;
      }
      if (names_undecided(e, cd)) {
        p.lost.push_back(e.name);
        p.findings.push_back(make_finding(report::Code::cd_lfh_mismatch, e.name, e.lfh_offset,
                                          fmt::format("named '{}' locally and '{}' in the old directory, and both agree "
                                                      "with its data: which name is right cannot be told, so it is left "
                                                      "out",
                                                      report::printable_name(e.name),
                                                      report::printable_name(cd->name))));
        continue;
      }
      // Duplicate names would make the output ambiguous for a restore: keep the first.
      if (!names.insert(use_directory_name(e, cd) ? cd->name : e.name).second) {
        p.findings.push_back(make_finding(report::Code::duplicate_name, e.name, e.lfh_offset,
                                          "a second entry of this name is left out of the repaired directory"));
        p.lost.push_back(e.name);
        continue;
      }
      PlannedEntry k{&e, record_for(e, cd, opt.in_place, use_directory_name(e, cd))};
      if (opt.in_place) {
        // The original local header stays, so the directory must carry its flags (bit 3 too).
        k.record.local_offset = e.lfh_offset;
        k.record.flags = e.flags;
      } else {
        // Fresh local headers: only the flags that describe the data as written survive (the
        // deflate options and UTF-8); Python refuses bits 5 and 6 (docs/readers.md, rule 62).
        // An encrypted entry stays as it is: bit 0, and bit 3 for ZipCrypto, whose password check
        // byte is then the time's (6.1.6), so the copy gets a descriptor again.
        const bool zipcrypto_bit3 = e.encrypted() && e.method != 99 && (e.flags & zip::kFlagDescriptor);
        k.record.flags &= 0x0006 | zip::kFlagUtf8 | (e.encrypted() ? zip::kFlagEncrypted : 0) |
                          (zipcrypto_bit3 ? zip::kFlagDescriptor : 0);
      }
      p.keep.push_back(std::move(k));
    } else {
      p.lost.push_back(e.name);
      // Salvage needs a whole local header (the name and where the data starts) and a decoder.
      bool salvageable = opt.salvage_partial && !opt.in_place && e.lfh_read() && !e.name.empty() && !e.encrypted() &&
                         codec::method_supported(e.method) && e.data_offset < opt.source_size;
      if (salvageable && (e.method == zip::kStored || (e.decoded && e.decoded->produced > 0)))
        p.partials.push_back(&e);
    }
  }
  for (const auto& [off, e] : directory) {
    // A record whose offset is off (damage, or a shifted directory read as evidence) names an
    // entry the walk kept under that name elsewhere: not lost.
    if (!found_offsets.count(off) && !names.count(e.name)) {
      p.lost.push_back(e.name);
      p.findings.push_back(make_finding(report::Code::entry_truncated, e.name, off,
                                        "listed in the old central directory, but its local header was not found "
                                        "there"));
    }
  }
  return p;
}

}  // namespace zm::repair
