#include "repair/write.h"

#include <fmt/format.h>

namespace zm::repair {

namespace {

void write_directory(io::OutputSink& out, const std::vector<zip::EntryRecord>& records, std::uint64_t cd_offset) {
  std::string cd;
  for (const auto& r : records) cd += zip::central_record_bytes(r);
  out.write(cd);
  out.write(zip::end_records_bytes(records.size(), cd_offset, cd.size()));
}

}  // namespace

Written write(const RepairPlan& plan, io::ByteSource& src, codec::Workspace& ws, io::OutputSink& out,
              const std::string& input_name) {
  Written w;
  w.records.reserve(plan.keep.size() + plan.partials.size());
  auto changed = [&] { return io::IoError(input_name + ": the file changed while it was being repaired"); };
  if (plan.in_place) {
    for (const auto& k : plan.keep) {
      w.records.push_back(k.record);
      w.bytes_salvaged += k.record.uncompressed_size;
    }
    write_directory(out, w.records, out.base());
    out.finish();
    return w;
  }
  std::vector<std::uint8_t> buf(1 << 20);
  std::uint64_t pos = 0;
  for (const auto& k : plan.keep) {
    const scan::Entry& e = *k.entry;
    zip::EntryRecord r = k.record;
    r.local_offset = pos;
    std::string h = zip::local_header_bytes(r);
    out.write(h);
    pos += h.size();
    for (std::uint64_t done = 0; done < e.compressed_size;) {
      std::size_t n = std::size_t(std::min<std::uint64_t>(buf.size(), e.compressed_size - done));
      if (src.read_at(e.data_offset + done, {buf.data(), n}) != n) throw changed();
      out.write({reinterpret_cast<const char*>(buf.data()), n});
      done += n;
    }
    pos += e.compressed_size;
    if (r.flags & zip::kFlagDescriptor) {
      std::string d = zip::descriptor_bytes(r);
      out.write(d);
      pos += d.size();
    }
    w.bytes_salvaged += e.uncompressed_size;
    w.records.push_back(std::move(r));
  }
  for (const auto* e : plan.partials) {
    // The intact start of a cut or damaged entry, stored under NAME.partial: decoded once to
    // learn its CRC and length, then again straight into the output (bounded memory).
    std::uint64_t limit = (e->end_offset > e->data_offset ? e->end_offset : src.size()) - e->data_offset;
    if (e->method == zip::kStored && e->status == report::EntryStatus::truncated) limit = src.size() - e->data_offset;
    codec::DecodeRequest dr{e->data_offset, limit, e->method};
    dr.lzma_eos = e->flags & 2;
    dr.expected_uncompressed = e->uncompressed_size;
    auto first = ws.decode(src, dr);
    if (first.produced == 0) continue;
    zip::EntryRecord r;
    r.name = e->name + ".partial";
    r.method = zip::kStored;
    r.mod_time = e->mod_time;
    r.mod_date = e->mod_date;
    r.flags = e->flags & zip::kFlagUtf8;
    r.crc32 = first.crc;
    r.compressed_size = r.uncompressed_size = first.produced;
    r.local_offset = pos;
    std::string h = zip::local_header_bytes(r);
    out.write(h);
    pos += h.size();
    std::uint64_t written = 0;
    dr.sink = [&](std::span<const std::uint8_t> chunk) {
      std::size_t n = std::size_t(std::min<std::uint64_t>(chunk.size(), first.produced - written));
      out.write({reinterpret_cast<const char*>(chunk.data()), n});
      written += n;
    };
    ws.decode(src, dr);
    if (written != first.produced) throw changed();
    pos += written;
    w.bytes_salvaged += written;
    w.findings.push_back(report::make_finding(
        report::Code::entry_salvaged, r.name, e->lfh_offset,
        fmt::format("the intact first {} bytes of '{}' are kept as '{}'", written, report::printable_name(e->name),
                    report::printable_name(r.name))));
    w.records.push_back(std::move(r));
  }
  write_directory(out, w.records, pos);
  out.finish();
  return w;
}

}  // namespace zm::repair
