#include "scan/catalog.h"

#include <fmt/format.h>

namespace zm::scan {

codec::DecodeRequest sized_request(const Entry& e) {
  codec::DecodeRequest req{e.data_offset, e.compressed_size, e.method};
  req.lzma_eos = e.flags & 2;
  req.expected_uncompressed = e.uncompressed_size;
  req.max_output = e.uncompressed_size + 1;
  return req;
}

LocalClaim local_claim(const zip::LocalFileHeader& h) {
  LocalClaim c;
  c.version_needed = h.version_needed;
  c.flags = h.flags;
  c.method = h.method;
  c.crc32 = h.crc32;
  c.compressed_size = h.compressed_size;
  c.uncompressed_size = h.uncompressed_size;
  c.zip64 = h.zip64.has_value();
  if (h.zip64) {
    if (h.zip64->compressed && h.compressed_size == zip::kMax32) c.compressed_size = *h.zip64->compressed;
    if (h.zip64->uncompressed && h.uncompressed_size == zip::kMax32) c.uncompressed_size = *h.zip64->uncompressed;
  }
  c.name_nul_inside = !h.name.empty() && h.name.find('\0') < h.name.size() - 1;
  c.ff_without_zip64 = (h.compressed_size == zip::kMax32 || h.uncompressed_size == zip::kMax32) && !h.zip64;
  const zip::Bytes extra{reinterpret_cast<const std::uint8_t*>(h.extra.data()), h.extra.size()};
  c.extra_malformed = !zip::extra_well_formed(extra) || zip::extra_too_small(extra);
  c.xl = zip::xl_field(extra);
  c.unicode_path = !zip::extra_fields(extra, 0x7075).empty();
  return c;
}

void keep_local_extra_if_judged(Entry& e, const std::string& local_extra) {
  if (!e.lfh || !e.lfh->unicode_path) return;
  Entry::Extras x = e.extras ? *e.extras : Entry::Extras{};
  x.lfh_extra = local_extra;
  e.extras = std::make_shared<const Entry::Extras>(std::move(x));
}

std::optional<std::uint64_t> decoded_size_if_other(const Entry& e) {
  if (e.decoded && e.decoded->status == codec::DecodeResult::Status::ok && e.decoded->produced != e.uncompressed_size)
    return e.decoded->produced;
  return std::nullopt;
}

report::EntryRow to_row(const Entry& e) {
  report::EntryRow r;
  r.name = e.name;
  r.display_name = report::other_display_name(e.name, e.flags);
  r.method = zip::method_name(e.method);
  r.compressed_size = e.compressed_size;
  r.uncompressed_size = e.uncompressed_size;
  r.crc32 = e.crc32;
  r.offset = e.lfh_offset;
  r.status = e.status;
  r.data_descriptor = e.has_descriptor_flag();
  r.zip64 = e.cd_zip64 || e.lfh_zip64();
  r.decoded_size = decoded_size_if_other(e);
  return r;
}

zipcrypt::EntryFields crypt_fields(const Entry& e) {
  auto bytes = [](const std::string& x) {
    return std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(x.data()), x.size());
  };
  return {e.flags, e.method, e.mod_time, e.crc32, e.compressed_size, bytes(e.cd_extra()), bytes(e.lfh_extra())};
}

codec::DecodeResult decode_data(codec::Workspace& ws, io::ByteSource& src, const codec::DecodeRequest& req, Entry& e,
                                const std::string* password) {
  return zipcrypt::decode(ws, src, req, crypt_fields(e), password, e.crypt);
}

namespace {
DataDescriptor decode_layout(const std::uint8_t* p, std::uint64_t at, bool sig, bool wide) {
  DataDescriptor d;
  d.offset = at;
  const std::uint8_t* q = p + (sig ? 4 : 0);
  d.crc32 = zip::load_u32(q);
  d.compressed_size = wide ? zip::load_u64(q + 4) : zip::load_u32(q + 4);
  d.uncompressed_size = wide ? zip::load_u64(q + 12) : zip::load_u32(q + 8);
  d.length = (sig ? 4 : 0) + (wide ? 20 : 12);
  return d;
}
}  // namespace

std::optional<DataDescriptor> match_descriptor(io::ByteSource& src, std::uint64_t at, std::uint32_t crc,
                                               std::uint64_t comp, std::uint64_t uncomp, bool zip64_first) {
  std::uint8_t b[28] = {};
  std::size_t n = src.read_at(at, b);
  bool has_sig = n >= 4 && zip::load_u32(b) == zip::kDescriptorSig;
  // Signature layouts first when the signature is there: an unsigned descriptor whose CRC is
  // 0x08074b50 is possible but far rarer than a signed one. Small sizes fit both widths (an
  // empty entry's 24-byte descriptor reads as a 16-byte one too), so among the layouts that agree
  // the first one that a record (or the end of the file) follows wins.
  const bool order_wide[2] = {zip64_first, !zip64_first};
  std::optional<DataDescriptor> first;
  for (bool sig : {has_sig, !has_sig}) {
    for (bool wide : order_wide) {
      unsigned len = (sig ? 4 : 0) + (wide ? 20 : 12);
      if (n < len) continue;
      if (sig && !has_sig) continue;
      auto d = decode_layout(b, at, sig, wide);
      if (d.crc32 != crc || d.compressed_size != comp || d.uncompressed_size != uncomp) continue;
      std::uint32_t next = n >= len + 4 ? zip::load_u32(b + len) : 0;
      bool followed = n == len || (n >= len + 4 && (next == zip::kLocalSig || next == zip::kCentralSig ||
                                                    next == zip::kEndSig || next == zip::kZip64EndSig ||
                                                    next == zip::kDescriptorSig));
      if (followed) return d;
      if (!first) first = d;
    }
  }
  return first;
}

std::optional<DataDescriptor> read_descriptor_guess(io::ByteSource& src, std::uint64_t at, bool zip64) {
  std::uint8_t b[24] = {};
  std::size_t n = src.read_at(at, b);
  bool sig = n >= 4 && zip::load_u32(b) == zip::kDescriptorSig;
  unsigned len = (sig ? 4 : 0) + (zip64 ? 20 : 12);
  if (n < len) return std::nullopt;
  return decode_layout(b, at, sig, zip64);
}

std::optional<zip::LocalFileHeader> read_local_header(io::ByteSource& src, std::uint64_t offset, std::string* why,
                                                      bool* cut) {
  std::uint8_t fixed[zip::kLocalHeaderLen];
  std::size_t n = offset < src.size() ? src.read_at(offset, fixed) : 0;
  if (cut) *cut = false;
  if (n < 4 || zip::load_u32(fixed) != zip::kLocalSig) {
    if (why) *why = n < 4 ? "the file ends before the local header" : "no local header signature (PK\\3\\4) there";
    return std::nullopt;
  }
  if (n < sizeof fixed) {
    if (why) *why = "the file ends inside the local header";
    if (cut) *cut = true;
    return std::nullopt;
  }
  auto h = zip::parse_local_fixed(fixed);
  std::size_t tail_len = std::size_t(h.name_len) + h.extra_len;
  std::vector<std::uint8_t> tail(tail_len);
  if (src.read_at(offset + zip::kLocalHeaderLen, tail) < tail_len) {
    if (why) *why = "the file ends inside the local header's name or extra field";
    if (cut) *cut = true;
    return std::nullopt;
  }
  zip::parse_local_tail(h, tail);
  return h;
}

}  // namespace zm::scan
