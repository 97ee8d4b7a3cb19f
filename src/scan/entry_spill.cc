#include "scan/entry_spill.h"

#include <fmt/format.h>

#include <type_traits>

namespace zm::scan {

namespace {

// A field added to Entry (or to one of its parts) must be written and read here too, or what a
// pipe's walk saw, or a repair walked, would silently lose it. These stop the build when the
// number of fields changes (a structured binding names every one), even a field that would fit
// in padding.
[[maybe_unused]] void every_field_is_spilled(const Entry& e, const LocalClaim& l, const DataDescriptor& d,
                                             const codec::DecodeResult& r) {
  [[maybe_unused]] const auto& [name, made_by, needed, flags, method, time, date, crc, csize, usize, lfh_offset,
                                internal_attr, external_attr, cd_zip64, in_directory, cd_extra_malformed,
                                refused_by, disk_start, extras, lfh, lfh_problem, data_offset, descriptor,
                                descriptor_cut, decoded, crypt, cut_intact, end_offset, next_record_follows,
                                extent_known, data_skipped, stored_sig_inside, shares_decoded_header, status,
                                claims_from_directory] = e;
  [[maybe_unused]] const auto& [l1, l2, l3, l4, l5, l6, l7, l8, l9, l10, l11, l12, l13] = l;
  [[maybe_unused]] const auto& [d1, d2, d3, d4, d5] = d;
  [[maybe_unused]] const auto& [r1, r2, r3, r4, r5] = r;
}
// Stored is written as its bytes; the claim and descriptor inside it are too.
static_assert(std::is_trivially_copyable_v<EntrySpill::Stored>);

}  // namespace

void EntrySpill::append(const Entry& e) {
  Stored w{};
  w.compressed_size = e.compressed_size;
  w.uncompressed_size = e.uncompressed_size;
  w.lfh_offset = e.lfh_offset;
  w.data_offset = e.data_offset;
  w.end_offset = e.end_offset;
  w.has_cut_intact = e.cut_intact.has_value();
  if (e.cut_intact) w.cut_intact = *e.cut_intact;
  w.has_decoded = e.decoded.has_value();
  if (e.decoded) {
    w.decode_status = e.decoded->status;
    w.consumed = e.decoded->consumed;
    w.produced = e.decoded->produced;
    w.crc = e.decoded->crc;
    w.error_len = std::uint32_t(e.decoded->error.size());
  }
  w.has_lfh = e.lfh.has_value();
  if (e.lfh) w.lfh = *e.lfh;
  w.has_descriptor = e.descriptor.has_value();
  if (e.descriptor) w.descriptor = *e.descriptor;
  w.crc32 = e.crc32;
  w.external_attr = e.external_attr;
  w.disk_start = e.disk_start;
  w.version_made_by = e.version_made_by;
  w.version_needed = e.version_needed;
  w.flags = e.flags;
  w.method = e.method;
  w.mod_time = e.mod_time;
  w.mod_date = e.mod_date;
  w.internal_attr = e.internal_attr;
  w.crypt = e.crypt;
  w.lfh_problem = e.lfh_problem;
  w.status = e.status;
  w.cd_extra_refused_by = e.cd_extra_refused_by;
  w.cd_zip64 = e.cd_zip64;
  w.in_directory = e.in_directory;
  w.cd_extra_malformed = e.cd_extra_malformed;
  w.descriptor_cut = e.descriptor_cut;
  w.next_record_follows = e.next_record_follows;
  w.data_skipped = e.data_skipped;
  w.stored_descriptor_sig_inside = e.stored_descriptor_sig_inside;
  w.extent_known = e.extent_known;
  w.shares_decoded_header = e.shares_decoded_header;
  w.claims_from_directory = e.claims_from_directory;
  w.has_extras = e.extras != nullptr;
  w.name_len = std::uint32_t(e.name.size());
  w.cd_extra_len = std::uint32_t(e.cd_extra().size());
  w.comment_len = std::uint32_t(e.comment().size());
  w.lfh_extra_len = std::uint32_t(e.lfh_extra().size());
  w.text_at = text_.tell();
  records_.put(&w, sizeof w);
  text_.put(e.name.data(), e.name.size());
  if (e.decoded) text_.put(e.decoded->error.data(), e.decoded->error.size());
  text_.put(e.cd_extra().data(), e.cd_extra().size());
  text_.put(e.comment().data(), e.comment().size());
  text_.put(e.lfh_extra().data(), e.lfh_extra().size());
  ++count_;
}

std::string EntrySpill::text(Reader& rd, std::uint64_t at, std::uint32_t len) {
  std::string out(len, '\0');
  if (len && rd.text.read_at(at, {reinterpret_cast<std::uint8_t*>(out.data()), len}) < len)
    throw io::Failure(io::Fail::cannot_read, fmt::format("the temporary file ends inside the text at {}", at));
  return out;
}

EntrySpill::Stored EntrySpill::stored(Reader& rd, std::size_t i, std::string& name, std::string* error) {
  Stored w;
  if (rd.records.read_at(i * sizeof w, {reinterpret_cast<std::uint8_t*>(&w), sizeof w}) < sizeof w)
    throw io::Failure(io::Fail::cannot_read, fmt::format("the temporary file ends inside walked entry {}", i + 1));
  name = text(rd, w.text_at, w.name_len);
  if (error) *error = text(rd, w.text_at + w.name_len, w.error_len);
  return w;
}

std::string EntrySpill::lfh_extra(Reader& rd, const Stored& w) {
  if (!w.has_extras) return {};
  return text(rd, w.text_at + w.name_len + w.error_len + w.cd_extra_len + w.comment_len, w.lfh_extra_len);
}

Entry EntrySpill::entry(Reader& rd, std::size_t i) {
  Entry e;
  std::string error;
  const Stored w = stored(rd, i, e.name, &error);
  if (w.has_extras) {
    std::uint64_t at = w.text_at + w.name_len + w.error_len;
    auto x = std::make_shared<Entry::Extras>();
    x->cd_extra = text(rd, at, w.cd_extra_len);
    x->comment = text(rd, at += w.cd_extra_len, w.comment_len);
    x->lfh_extra = text(rd, at += w.comment_len, w.lfh_extra_len);
    e.extras = std::move(x);
  }
  e.compressed_size = w.compressed_size;
  e.uncompressed_size = w.uncompressed_size;
  e.lfh_offset = w.lfh_offset;
  e.data_offset = w.data_offset;
  e.end_offset = w.end_offset;
  if (w.has_cut_intact) e.cut_intact = w.cut_intact;
  if (w.has_decoded) e.decoded = codec::DecodeResult{w.decode_status, w.consumed, w.produced, w.crc, std::move(error)};
  if (w.has_lfh) e.lfh = w.lfh;
  if (w.has_descriptor) e.descriptor = w.descriptor;
  e.crc32 = w.crc32;
  e.external_attr = w.external_attr;
  e.disk_start = w.disk_start;
  e.version_made_by = w.version_made_by;
  e.version_needed = w.version_needed;
  e.flags = w.flags;
  e.method = w.method;
  e.mod_time = w.mod_time;
  e.mod_date = w.mod_date;
  e.internal_attr = w.internal_attr;
  e.crypt = w.crypt;
  e.lfh_problem = w.lfh_problem;
  e.status = w.status;
  e.cd_extra_refused_by = w.cd_extra_refused_by;
  e.cd_zip64 = w.cd_zip64;
  e.in_directory = w.in_directory;
  e.cd_extra_malformed = w.cd_extra_malformed;
  e.descriptor_cut = w.descriptor_cut;
  e.next_record_follows = w.next_record_follows;
  e.data_skipped = w.data_skipped;
  e.stored_descriptor_sig_inside = w.stored_descriptor_sig_inside;
  e.extent_known = w.extent_known;
  e.shares_decoded_header = w.shares_decoded_header;
  e.claims_from_directory = w.claims_from_directory;
  return e;
}

void EntrySpill::each_batch(std::size_t batch, const std::function<void(std::vector<Entry>&)>& f) {
  seal();
  Reader rd(*this);
  std::vector<Entry> out;
  for (std::size_t i = 0; i < count_;) {
    out.clear();
    for (; i < count_ && out.size() < batch; ++i) out.push_back(entry(rd, i));
    f(out);
  }
}

}  // namespace zm::scan
