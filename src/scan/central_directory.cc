#include "scan/central_directory.h"

#include <fmt/format.h>

#include "check/readers.h"
#include "codec/codec.h"

namespace zm::scan {
using report::make_finding;

namespace {

// A Unix host's symbolic link (4.4.15's high half, S_IFLNK): unzip, 7-Zip and libarchive make a
// link whose target is the entry's data, cut at its first NUL byte (docs/readers.md, rule 67).
// The judge sees sizes only, so the target's bytes are looked at here, where the source is: a
// link of 1 to 4,095 bytes (longer or empty ones the judge calls damage) is read and decoded, and
// a NUL in it is damage. A stream whose window no longer holds the entry is not looked at.
void check_link_target(io::ByteSource& src, const Entry& e, std::unique_ptr<codec::Workspace>& ws,
                       std::vector<report::Finding>& out) {
  constexpr std::uint64_t kMaxTarget = 4095;
  if ((e.unix_mode() & 0170000) != 0120000 || e.uncompressed_size == 0 || e.uncompressed_size > kMaxTarget ||
      e.compressed_size > 2 * kMaxTarget + 64 || e.encrypted() || !codec::method_supported(e.method) ||
      e.lfh_offset < src.earliest_readable() || e.lfh_offset >= src.size())
    return;
  auto lfh = read_local_header(src, e.lfh_offset, nullptr, nullptr);
  if (!lfh || lfh->name != e.name) return;  // the judge says what is wrong with the header
  std::string target;
  codec::DecodeRequest req;
  req.offset = e.lfh_offset + lfh->header_len();
  req.limit = e.compressed_size;
  req.method = e.method;
  req.lzma_eos = e.flags & 0x2;
  req.expected_uncompressed = e.uncompressed_size;
  req.max_output = kMaxTarget + 1;
  req.sink = [&](std::span<const std::uint8_t> b) { target.append(reinterpret_cast<const char*>(b.data()), b.size()); };
  if (!ws) ws = std::make_unique<codec::Workspace>();  // one for all of a directory's links
  ws->decode(src, req);
  const auto nul = target.find('\0');
  if (nul == std::string::npos) return;
  auto f = make_finding(report::Code::entry_kind_differs, e.name, e.lfh_offset,
                        fmt::format("its attributes make it a symbolic link, but its data holds a NUL byte at {}: "
                                    "extractors cut the link's target there",
                                    nul),
                        report::refusing(report::kUnzip | report::kSevenZip | report::kLibarchive));
  out.push_back(std::move(f));
}

}  // namespace

Entry entry_from_record(zip::CentralDirectoryHeader h, Zip64Missing* zip64_missing) {
  Entry e;
  e.name = std::move(h.name);
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
  if (!h.extra.empty() || !h.comment.empty()) e.extras = std::make_shared<const Entry::Extras>(Entry::Extras{h.extra, std::move(h.comment), {}});
  e.lfh_offset = h.local_offset;
  e.in_directory = true;
  e.disk_start = h.disk_start;
  const zip::Bytes extra{reinterpret_cast<const std::uint8_t*>(h.extra.data()), h.extra.size()};
  e.cd_extra_malformed = !zip::extra_well_formed(extra);
  if (zip::extra_too_small(extra)) e.cd_extra_refused_by |= report::kLibarchive;  // rule 24
  // Java's ZipFile accepts a ZIP64 field of 8, 16, 24 or 28 bytes, or an empty one when no field
  // defers to it; libarchive refuses a WinZip AES field (0x9901) shorter than 7 bytes
  // (docs/readers.md, rules 12-13).
  for (zip::Bytes field : zip::extra_fields(extra, zip::kZip64ExtraId)) {
    const std::size_t len = field.size();
    bool deferred = h.compressed_size == zip::kMax32 || h.uncompressed_size == zip::kMax32 ||
                    h.local_offset == zip::kMax32;
    if (!(len == 8 || len == 16 || len == 24 || len == 28 || (len == 0 && !deferred))) e.cd_extra_refused_by |= report::kJava;
  }
  for (zip::Bytes field : zip::extra_fields(extra, 0x9901))
    if (field.size() < 7) e.cd_extra_refused_by |= report::kLibarchive;
  // An extended timestamp (0x5455) with no flags byte: "Incomplete extended time field" (rule 26).
  for (zip::Bytes field : zip::extra_fields(extra, 0x5455))
    if (field.empty()) e.cd_extra_refused_by |= report::kLibarchive;
  // 4.4.1.4 / 4.5.3: an all-ones field defers to the ZIP64 extra, which holds only those values.
  bool want_u = h.uncompressed_size == zip::kMax32, want_c = h.compressed_size == zip::kMax32,
       want_o = h.local_offset == zip::kMax32, want_d = h.disk_start == zip::kMax16;
  if (want_u || want_c || want_o || want_d) {
    bool malformed = false;
    auto z = zip::parse_zip64_extra({reinterpret_cast<const std::uint8_t*>(h.extra.data()), h.extra.size()}, want_u,
                                    want_c, want_o, want_d, &malformed);
    e.cd_zip64 = z.has_value();
    if (zip64_missing && (!z || malformed))
      *zip64_missing = want_u && !want_c && !want_o && !want_d ? Zip64Missing::uncompressed_only : Zip64Missing::values;
    if (z) {
      if (z->uncompressed) e.uncompressed_size = *z->uncompressed;
      if (z->compressed) e.compressed_size = *z->compressed;
      if (z->offset) e.lfh_offset = *z->offset;
      if (z->disk) e.disk_start = *z->disk;
    }
  }
  return e;
}

namespace {
// The record's offset as a position in the source: a split set's (8.5) counts from the start of
// the volume the entry starts on, and once it is a position in the joined bytes the entry is on
// "disk 0" of those bytes; a prefix shifts every offset.
void place(io::ByteSource& src, Entry& e, std::uint64_t shift) {
  if (src.disks()) {
    if (auto p = src.disk_position(e.disk_start, e.lfh_offset)) {
      e.lfh_offset = *p;
      e.disk_start = 0;
    }
  }
  e.lfh_offset += shift;
}
}  // namespace

DirectoryReader::DirectoryReader(io::ByteSource& records, io::ByteSource& archive, const EndRecords& end)
    : archive_(archive), rd_(records, end.cd_start), end_(end), cd_end_(end.cd_start + end.cd_size) {}

bool DirectoryReader::next(std::size_t max, std::vector<Entry>& out, std::vector<std::uint64_t>* at_out) {
  out.clear();
  if (at_out) at_out->clear();
  if (done_) return false;
  const std::uint64_t from = rd_.pos();
  while (out.size() < max && !done_ && rd_.pos() - from < kBatchBytes) {
    if (rd_.pos() >= cd_end_)
      end_of_directory();
    else
      read_record(out, at_out);
  }
  return !done_ || !out.empty();
}

void DirectoryReader::read_record(std::vector<Entry>& out, std::vector<std::uint64_t>* at_out) {
  const std::uint64_t at = rd_.pos();
  const auto len = zip::central_record_len(rd_.peek(zip::kCentralHeaderLen));
  if (!len)
    return stop_at(at, fmt::format("central directory record {} is not where the directory says (no PK\\1\\2 signature)",
                                   index_ + 1));
  auto rec = rd_.peek(*len);
  if (rec.size() < *len || at + *len > cd_end_)
    return stop_at(at, fmt::format("central directory record {} runs past the end of the directory", index_ + 1));
  zip::Cursor c(rec);
  auto h = zip::parse_central(c);
  readable_ = true;
  auto zip64_missing = Zip64Missing::none;
  Entry e = entry_from_record(std::move(h), &zip64_missing);
  if (zip64_missing != Zip64Missing::none) {
    findings.push_back(make_finding(
        report::Code::zip64_inconsistent, e.name, at,
        "a size or offset is 0xFFFFFFFF but the ZIP64 extra field lacks the value",
        check::readers::refusing_missing_zip64(zip64_missing == Zip64Missing::uncompressed_only,
                                               check::readers::sevenzip_checks_size(
                                                   e.method, e.flags & zip::kFlagDescriptor, e.uncompressed_size,
                                                   e.cd_zip64))));
    check::readers::moot_where_lacking(findings.back(), e.flags, e.method);
  }
  place(archive_, e, end_.shift);
  check_link_target(archive_, e, link_ws_, findings);
  out.push_back(std::move(e));
  if (at_out) at_out->push_back(at);
  rd_.skip(*len);
  ++index_;
}

void DirectoryReader::stop_at(std::uint64_t at, std::string why) {
  findings.push_back(make_finding(report::Code::cd_unreadable, std::nullopt, at, std::move(why), report::refusing(report::kAllReaders)));
  done_ = true;
}

void DirectoryReader::end_of_directory() {
  if (index_ != end_.entries)
    findings.push_back(make_finding(report::Code::eocd_inconsistent, std::nullopt, end_.eocd_offset,
                                    fmt::format("the end record counts {} entries but the directory holds {}",
                                                end_.entries, index_),
                                    // Rule 7: Go compares the counts modulo 65,536; libarchive,
                                    // Python and Java read the records there are.
                                    report::refusing(report::kUnzip | report::kSevenZip |
                                                     ((end_.entries - index_) % 65536 ? report::kGo : 0))));
  if (index_ == 0 && end_.cd_size == 0) readable_ = true;  // an empty archive
  done_ = true;
}

std::size_t copy_directory_records(io::ByteSource& src, std::uint64_t at, io::Spill& out, std::uint64_t* end_at) {
  std::size_t count = 0;
  io::SequentialReader rd(src, at);
  for (;;) {
    const auto len = zip::central_record_len(rd.peek(zip::kCentralHeaderLen));
    if (!len) break;
    // A stream's window may show a long record in pieces (where its ring wraps).
    std::size_t left = *len;
    for (std::span<const std::uint8_t> piece; left && !(piece = rd.peek(left)).empty(); left -= piece.size()) {
      out.put(piece.data(), piece.size());
      rd.skip(piece.size());
    }
    if (left) break;  // the stream ends inside it
    ++count;
  }
  *end_at = rd.pos();
  return count;
}

Entry reread_directory_record(io::ByteSource& src, std::uint64_t at, std::uint64_t shift) {
  std::uint8_t fixed[zip::kCentralHeaderLen];
  const auto len = src.read_at(at, fixed) == sizeof fixed ? zip::central_record_len(fixed) : std::nullopt;
  auto rec = len ? src.read_vec(at, *len) : std::vector<std::uint8_t>();
  if (!len || rec.size() < *len) throw io::Failure(io::Fail::cannot_read, fmt::format("the directory record at offset {} cannot be read again", at));
  zip::Cursor c({rec.data(), rec.size()});
  Entry e = entry_from_record(zip::parse_central(c), nullptr);
  place(src, e, shift);
  return e;
}

CentralDirectory read_central_directory(io::ByteSource& src, const EndRecords& end) {
  CentralDirectory cd;
  DirectoryReader rd(src, end);
  // The count may say 4 billion; the directory's size (checked against the file) bounds how many
  // records it can hold, and a cap keeps a lying size from reserving gigabytes.
  cd.entries.reserve(std::size_t(std::min<std::uint64_t>({end.entries, end.cd_size / zip::kCentralHeaderLen, 1u << 20})));
  std::vector<Entry> batch;
  while (rd.next(4096, batch))
    for (auto& e : batch) cd.entries.push_back(std::move(e));
  cd.findings = std::move(rd.findings);
  cd.readable = rd.readable();
  return cd;
}

}  // namespace zm::scan
