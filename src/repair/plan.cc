#include "repair/plan.h"

#include <set>

#include "codec/codec.h"

namespace zm::repair {
using report::make_finding;
using scan::Entry;

namespace {

zip::EntryRecord record_for(const Entry& e, const Entry* cd) {
  zip::EntryRecord r;
  r.name = e.name;
  r.flags = e.flags;
  r.method = e.method;
  r.crc32 = e.decoded ? e.decoded->crc : e.crc32;
  r.compressed_size = e.compressed_size;
  r.uncompressed_size = e.uncompressed_size;
  r.version_needed = e.lfh_read() ? e.version_needed : 20;
  if (r.version_needed > 63) r.version_needed = 45;
  r.extra = zip::strip_extra({reinterpret_cast<const std::uint8_t*>(e.lfh_extra().data()), e.lfh_extra().size()},
                             zip::kZip64ExtraId);
  r.mod_time = e.mod_time;
  r.mod_date = e.mod_date;
  if (cd) {
    // The directory is the only place with the host, permissions and comment.
    r.version_made_by = cd->version_made_by;
    r.internal_attr = cd->internal_attr;
    r.external_attr = cd->external_attr;
    r.comment = cd->comment();
    r.extra = zip::strip_extra({reinterpret_cast<const std::uint8_t*>(cd->cd_extra().data()), cd->cd_extra().size()},
                               zip::kZip64ExtraId);
  } else {
    // No directory: a Unix host with ordinary modes. An MS-DOS host would make unzip convert the
    // central name from CP437 but not the local one, and report UTF-8 names as mismatching.
    r.version_made_by = (3 << 8) | 20;
    r.external_attr = e.is_directory() ? (040755u << 16) | 0x10 : (0100644u << 16);
  }
  return r;
}

}  // namespace

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
  p.in_place = opt.in_place;
  std::set<std::uint64_t> found_offsets;
  std::set<std::string> names;
  auto cd_for = [&](const Entry& e) -> const Entry* {
    auto it = directory.find(e.lfh_offset);
    return it != directory.end() && it->second.name == e.name ? &it->second : nullptr;
  };
  for (const auto& e : found) {
    found_offsets.insert(e.lfh_offset);
    if (e.status == report::EntryStatus::ok) {
      const Entry* cd = cd_for(e);
      if (cd && (cd->crc32 != e.decoded->crc || cd->compressed_size != e.compressed_size ||
                 cd->uncompressed_size != e.uncompressed_size))
        p.findings.push_back(make_finding(report::Code::cd_lfh_mismatch, e.name, e.lfh_offset,
                                          "the old central directory disagrees with the entry's verified data; the "
                                          "data wins"));
      // Duplicate names would make the output ambiguous for a restore: keep the first.
      if (!names.insert(e.name).second) {
        p.findings.push_back(make_finding(report::Code::duplicate_name, e.name, e.lfh_offset,
                                          "a second entry of this name is left out of the repaired directory"));
        p.lost.push_back(e.name);
        continue;
      }
      PlannedEntry k{&e, record_for(e, cd)};
      if (opt.in_place) {
        // The original local header stays, so the directory must carry its flags (bit 3 too).
        k.record.local_offset = e.lfh_offset;
        k.record.flags = e.flags;
      } else {
        k.record.flags &= ~zip::kFlagDescriptor;
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
    if (!found_offsets.count(off)) {
      p.lost.push_back(e.name);
      p.findings.push_back(make_finding(report::Code::entry_truncated, e.name, off,
                                        "listed in the old central directory, but its local header was not found "
                                        "there"));
    }
  }
  return p;
}

}  // namespace zm::repair
