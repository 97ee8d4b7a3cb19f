#include "scan/local_scanner.h"

#include <fmt/format.h>

#include <cstring>
#include <set>

namespace zm::scan {
using codec::DecodeResult;
using report::make_finding;
using Status = DecodeResult::Status;

bool plausible_local_header(const zip::LocalFileHeader& h, std::uint64_t offset, std::uint64_t file_size) {
  // 4.4.3: "version needed" is at most 6.3 today; the high byte is the host and is 0 in practice.
  if ((h.version_needed & 0xFF) > 63 || (h.version_needed >> 8) > 30) return false;
  static constexpr std::uint16_t kKnown[] = {0, 1, 6, 8, 9, 12, 14, 18, 19, 20, 93, 95, 96, 97, 98, 99};
  bool known = false;
  for (auto m : kKnown) known |= h.method == m;
  if (!known) return false;
  if (h.name_len == 0) return false;
  if (offset + zip::kLocalHeaderLen + h.name_len + h.extra_len > file_size) return true;  // cut: judged later
  return true;
}

namespace {

bool is_record_sig(std::uint32_t s) {
  return s == zip::kLocalSig || s == zip::kCentralSig || s == zip::kEndSig || s == zip::kZip64EndSig;
}

// Human-readable reason for a failed decode, naming the entry.
std::string decode_message(const DecodeResult& d) { return d.error; }

struct StoredEnd {
  std::uint64_t data_end = 0;
  DataDescriptor descriptor;
  std::uint32_t crc = 0;
  bool crc_ok = true;
};

// Bit 3 with stored data (Python's streamed ZIP_STORED): the data has no end of its own, so the
// end is the first place where a descriptor follows whose compressed size equals the distance
// travelled and whose CRC equals the running CRC. A bare "PK\7\8" inside the data fails that
// test and is skipped. Descriptors without signature are tried just before the next record.
std::optional<StoredEnd> find_stored_end(io::ByteSource& src, std::uint64_t data_offset, bool zip64,
                                         std::atomic<std::uint64_t>* progress) {
  // A stream learns its size only at its end, so the size is asked for each time.
  auto size = [&src] { return src.size(); };
  std::vector<std::uint8_t> buf(1 << 20);
  std::uint64_t crc_pos = data_offset;
  std::uint32_t crc = 0;
  std::optional<StoredEnd> sized_only;  // sizes agree but the CRC does not: damaged data
  auto advance = [&](std::uint64_t to) {
    while (crc_pos < to) {
      std::size_t n = std::size_t(std::min<std::uint64_t>(buf.size(), to - crc_pos));
      n = src.read_at(crc_pos, {buf.data(), n});
      if (n == 0) return;
      crc = codec::crc32(crc, {buf.data(), n});
      crc_pos += n;
      if (progress) *progress += n;
    }
  };
  auto try_end = [&](std::uint64_t e, bool want_sig) -> std::optional<StoredEnd> {
    if (e < crc_pos) return std::nullopt;
    advance(e);
    std::uint64_t dist = e - data_offset;
    if (auto d = match_descriptor(src, e, crc, dist, dist, zip64); d && d->signature() == want_sig)
      return StoredEnd{e, *d, crc, true};
    if (want_sig && !sized_only) {
      auto g = read_descriptor_guess(src, e, zip64);
      if (g && g->compressed_size == dist && g->uncompressed_size == dist) sized_only = StoredEnd{e, *g, crc, false};
    }
    return std::nullopt;
  };

  // Candidates are judged in ascending order of their end, so the running CRC only moves
  // forward: a new signature at q adds ends no earlier than q - 20, so everything before that
  // can be judged first.
  std::set<std::pair<std::uint64_t, bool>> pending;  // (end, signed)
  auto judge_before = [&](std::uint64_t bound) -> std::optional<StoredEnd> {
    while (!pending.empty() && pending.begin()->first < bound) {
      auto [e, sig] = *pending.begin();
      pending.erase(pending.begin());
      if (auto r = try_end(e, sig)) return r;
    }
    return std::nullopt;
  };
  io::SequentialReader rd(src, data_offset);
  std::uint64_t p = data_offset;
  while (p + 4 <= size()) {
    auto w = rd.peek(1 << 20);
    if (w.size() < 4) break;
    const std::uint8_t* base = w.data();
    std::size_t limit = w.size() - 3;
    std::size_t i = 0;
    while (i < limit) {
      const void* hit = std::memchr(base + i, 'P', limit - i);
      if (!hit) break;
      i = std::size_t(static_cast<const std::uint8_t*>(hit) - base);
      if (base[i + 1] == 'K') {
        std::uint32_t s = zip::load_u32(base + i);
        std::uint64_t q = p + i;
        if (s == zip::kDescriptorSig || is_record_sig(s)) {
          if (auto r = judge_before(q >= 20 ? q - 20 : 0)) return r;
          if (s == zip::kDescriptorSig) pending.insert({q, true});
          else
            for (std::uint64_t len : {20u, 12u})
              if (q >= data_offset + len) pending.insert({q - len, false});
        }
      }
      ++i;
    }
    p += limit;
    rd.seek(p);
    // Signatures still to come start at p or later, so their candidates end at p - 20 or later:
    // everything before can be judged now, and the CRC kept close behind (a stream cannot go back).
    if (p >= data_offset + 20) {
      if (auto r = judge_before(p - 20)) return r;
      advance(pending.empty() ? p - 20 : std::min(p - 20, pending.begin()->first));
    }
  }
  // The last entry of an unfinished archive may end with an unsigned descriptor and nothing after.
  for (std::uint64_t len : {20u, 12u})
    if (size() >= data_offset + len) pending.insert({size() - len, false});
  if (auto r = judge_before(~std::uint64_t(0))) return r;
  return sized_only;
}

}  // namespace

std::uint64_t find_next_record(io::ByteSource& src, std::uint64_t from, std::uint64_t to, bool headers_only) {
  io::SequentialReader rd(src, from);
  std::uint64_t p = from;
  while (p + 4 <= to) {
    auto w = rd.peek(1 << 20);
    if (w.size() < 4) break;
    std::size_t limit = std::min<std::uint64_t>(w.size() - 3, to - p - 3);
    for (std::size_t i = 0; i < limit; ++i) {
      if (w[i] != 'P' || w[i + 1] != 'K') continue;
      std::uint32_t s = zip::load_u32(&w[i]);
      std::uint64_t q = p + i;
      if (s == zip::kLocalSig) {
        std::string why;
        auto h = read_local_header(src, q, &why);
        if (h && plausible_local_header(*h, q, src.size())) return q;
        if (!h && why.find("ends") != std::string::npos) return q;  // a header cut by the end of the file
      } else if (!headers_only && (s == zip::kCentralSig || s == zip::kEndSig || s == zip::kZip64EndSig)) {
        return q;
      }
    }
    p += limit;
    rd.seek(p);
  }
  return to;
}

ScanResult scan_local(io::ByteSource& src, codec::Workspace& ws, const ScanOptions& opt) {
  ScanResult r;
  // A stream learns its size only at its end, so the size is asked for each time.
  auto size = [&src] { return src.size(); };
  std::uint64_t pos = find_next_record(src, opt.start, size(), true);
  if (pos >= size()) {
    r.stop = "no local file header found";
    return r;
  }
  r.found_any_header = true;
  r.archive_start = pos;
  if (pos > opt.start)
    r.findings.push_back(make_finding("prefix_bytes", std::nullopt, opt.start,
                                      fmt::format("{} bytes come before the first local header "
                                                  "(a self-extractor stub or other prefix)",
                                                  pos - opt.start)));

  auto resync = [&](std::uint64_t from, const std::string& why) -> std::uint64_t {
    std::uint64_t next = find_next_record(src, from, size());
    r.damaged.push_back({from, next, why});
    r.findings.push_back(make_finding("damaged_stretch", std::nullopt, from,
                                      fmt::format("{} bytes from offset {} to {} belong to no readable entry ({})",
                                                  next - from, from, next, why)));
    return next;
  };

  while (pos < size()) {
    std::uint8_t sigb[4] = {};
    std::size_t n = src.read_at(pos, sigb);
    if (n == 0) break;  // the end of the file, right after an entry
    std::uint32_t sig = n == 4 ? zip::load_u32(sigb) : 0;
    if (sig == zip::kCentralSig || sig == zip::kEndSig || sig == zip::kZip64EndSig) {
      r.directory_at = pos;
      r.stop = fmt::format("central directory or end record at offset {}", pos);
      break;
    }
    if (sig != zip::kLocalSig) {
      if (n < 4 && n > 0 && std::memcmp(sigb, "PK", std::min<std::size_t>(n, 2)) == 0) {
        r.stop = fmt::format("the file ends inside a record signature at offset {}", pos);
        r.damaged.push_back({pos, size(), "cut record"});
        break;
      }
      pos = resync(pos, "no record signature where one should start");
      continue;
    }
    std::string why;
    auto lfh = read_local_header(src, pos, &why);
    if (!lfh) {
      // Still an entry that was lost: keep what its header shows of the name.
      Entry cut;
      cut.lfh_offset = pos;
      cut.status = "truncated";
      if (size() - pos > zip::kLocalHeaderLen) {
        std::uint8_t fixed[zip::kLocalHeaderLen];
        src.read_at(pos, fixed);
        std::size_t name_len = fixed[26] | fixed[27] << 8;
        auto nb = src.read_vec(pos + zip::kLocalHeaderLen, name_len);
        cut.name.assign(nb.begin(), nb.end());
        cut.method = fixed[8] | fixed[9] << 8;
      }
      r.cut_entry = r.entries.size();
      r.entries.push_back(std::move(cut));
      r.findings.push_back(make_finding("entry_truncated", std::nullopt, pos,
                                        fmt::format("entry {}: {}", r.entries.size() + 1, why)));
      r.stop = fmt::format("the file ends inside the local header of entry {} at offset {}", r.entries.size() + 1, pos);
      r.damaged.push_back({pos, size(), "cut local header"});
      break;
    }
    if (!plausible_local_header(*lfh, pos, size())) {
      pos = resync(pos, "a local header signature with impossible fields");
      continue;
    }

    Entry e;
    e.name = lfh->name;
    e.version_needed = lfh->version_needed;
    e.version_made_by = lfh->version_needed;  // no directory: the local header is all there is
    e.flags = lfh->flags;
    e.method = lfh->method;
    e.mod_time = lfh->mod_time;
    e.mod_date = lfh->mod_date;
    e.crc32 = lfh->crc32;
    e.compressed_size = lfh->compressed_size;
    e.uncompressed_size = lfh->uncompressed_size;
    if (lfh->zip64) {
      if (lfh->zip64->compressed) e.compressed_size = *lfh->zip64->compressed;
      if (lfh->zip64->uncompressed) e.uncompressed_size = *lfh->zip64->uncompressed;
    }
    e.lfh_offset = pos;
    e.data_offset = pos + lfh->header_len();
    const bool zip64 = lfh->zip64.has_value();
    e.lfh = std::move(lfh);
    const std::size_t index = r.entries.size();
    const std::string name = e.name;

    auto finish_cut = [&](std::uint64_t intact, const std::string& what) {
      e.status = "truncated";
      r.findings.push_back(make_finding(
          "entry_truncated", name, e.lfh_offset,
          fmt::format("the file ends inside entry {} ({}); {} bytes of it are intact", index + 1, what, intact)));
      r.cut_entry = index;
      r.cut_intact_bytes = intact;
      r.stop = fmt::format("end of file inside entry {} ({}) at offset {}", index + 1, report::printable_name(name), size());
      r.damaged.push_back({e.lfh_offset, size(), "cut entry"});
    };

    if (e.encrypted() || !codec::method_supported(e.method)) {
      // The data cannot be decoded; its end is known only from the sizes in the header.
      const bool enc = e.encrypted();
      e.status = enc ? "encrypted" : "unsupported";
      r.findings.push_back(make_finding(
          enc ? "encrypted_entry" : "unsupported_method", name, e.lfh_offset,
          enc ? "the entry is encrypted; its data cannot be verified"
              : fmt::format("compression method {} cannot be decoded here", zip::method_name(e.method))));
      if (!e.has_descriptor_flag() && e.data_offset + e.compressed_size <= size()) {
        e.end_offset = e.data_offset + e.compressed_size;
      } else {
        // Bit 3 and no decoder: the next record signature is the only guide.
        std::uint64_t next = find_next_record(src, e.data_offset, size());
        e.end_offset = next;
      }
      r.end_of_entries = e.end_offset;
      pos = e.end_offset;
      r.entries.push_back(std::move(e));
      continue;
    }

    const bool by_size = !e.has_descriptor_flag();
    if (by_size || !codec::method_self_terminating(e.method)) {
      if (by_size) {
        // Sizes in the header (bit 3 clear): checked by decoding exactly that many bytes.
        codec::DecodeRequest req{e.data_offset, e.compressed_size, e.method};
        req.lzma_eos = e.flags & 2;
        req.expected_uncompressed = e.uncompressed_size;
        req.max_output = e.uncompressed_size + 1;
        req.progress = opt.progress;
        auto d = ws.decode(src, req);
        e.decoded = d;
        e.end_offset = e.data_offset + e.compressed_size;
        if (d.status == Status::truncated) {
          std::uint64_t present = size() - e.data_offset;
          finish_cut(e.method == zip::kStored ? present : d.produced,
                     fmt::format("{} of {} compressed bytes present", present, e.compressed_size));
          r.entries.push_back(std::move(e));
          break;
        }
        if (d.status != Status::ok) {
          e.status = "damaged";
          r.findings.push_back(make_finding("decode_error", name, e.data_offset,
                                            fmt::format("entry {}: {}", index + 1, decode_message(d))));
        } else if (d.consumed != e.compressed_size || d.produced != e.uncompressed_size) {
          e.status = "damaged";
          r.findings.push_back(make_finding(
              "size_mismatch", name, e.data_offset,
              fmt::format("decoded {} bytes from {} compressed; the local header says {} from {}", d.produced,
                          d.consumed, e.uncompressed_size, e.compressed_size)));
        } else if (d.crc != e.crc32) {
          e.status = "damaged";
          r.findings.push_back(make_finding(
              "crc_mismatch", name, e.data_offset,
              fmt::format("CRC-32 of the data is {:08x}; the local header says {:08x}", d.crc, e.crc32)));
        } else {
          e.status = "ok";
        }
      } else {
        // Bit 3 with stored data.
        auto end = find_stored_end(src, e.data_offset, zip64, opt.progress);
        if (!end) {
          finish_cut(size() - e.data_offset, "no data descriptor follows the stored data");
          r.entries.push_back(std::move(e));
          break;
        }
        e.descriptor = end->descriptor;
        e.crc32 = end->descriptor.crc32;
        e.compressed_size = e.uncompressed_size = end->data_end - e.data_offset;
        e.end_offset = end->data_end + end->descriptor.length;
        DecodeResult d;
        d.consumed = d.produced = e.compressed_size;
        d.crc = end->crc;
        e.decoded = d;
        if (end->crc_ok) {
          e.status = "ok";
        } else {
          e.status = "damaged";
          r.findings.push_back(make_finding(
              "crc_mismatch", name, e.data_offset,
              fmt::format("CRC-32 of the stored data is {:08x}; its data descriptor says {:08x}", end->crc,
                          end->descriptor.crc32)));
        }
      }
    } else {
      // Bit 3 with a self-terminating codec: decode to the end of the stream, then take the
      // descriptor layout that agrees with what was counted.
      codec::DecodeRequest req{e.data_offset, size() - e.data_offset, e.method};
      req.lzma_eos = e.flags & 2;
      req.expected_uncompressed = e.uncompressed_size;
      req.progress = opt.progress;
      auto d = ws.decode(src, req);
      e.decoded = d;
      if (d.status == Status::truncated || d.status == Status::overrun) {
        finish_cut(d.produced, fmt::format("the compressed stream is cut after {} bytes", d.consumed));
        r.entries.push_back(std::move(e));
        break;
      }
      if (d.status != Status::ok) {
        e.status = "damaged";
        r.findings.push_back(make_finding("decode_error", name, e.data_offset,
                                          fmt::format("entry {}: {}", index + 1, decode_message(d))));
        const std::uint64_t data_offset = e.data_offset;
        r.entries.push_back(std::move(e));
        // The next header may hide anywhere after the damaged entry's start; a stream can only
        // look back over what it still holds.
        pos = resync(std::max(data_offset + 1, src.earliest_readable()),
                     fmt::format("damaged data of entry {}", index + 1));
        continue;
      }
      std::uint64_t data_end = e.data_offset + d.consumed;
      auto desc = match_descriptor(src, data_end, d.crc, d.consumed, d.produced, zip64);
      e.compressed_size = d.consumed;
      e.uncompressed_size = d.produced;
      if (desc) {
        e.descriptor = desc;
        e.crc32 = desc->crc32;
        e.end_offset = data_end + desc->length;
        e.status = "ok";
      } else if (auto g = read_descriptor_guess(src, data_end, zip64)) {
        e.descriptor = g;
        e.crc32 = g->crc32;
        e.end_offset = data_end + g->length;
        e.status = "damaged";
        bool sizes_agree = g->compressed_size == d.consumed && g->uncompressed_size == d.produced;
        r.findings.push_back(make_finding(
            sizes_agree ? "crc_mismatch" : "descriptor_mismatch", name, data_end,
            sizes_agree ? fmt::format("CRC-32 of the data is {:08x}; its data descriptor says {:08x}", d.crc, g->crc32)
                        : fmt::format("the data descriptor says crc {:08x}, {} compressed, {} uncompressed; decoding "
                                      "gave {:08x}, {}, {}",
                                      g->crc32, g->compressed_size, g->uncompressed_size, d.crc, d.consumed,
                                      d.produced)));
      } else {
        finish_cut(d.produced, "the file ends inside its data descriptor");
        r.entries.push_back(std::move(e));
        break;
      }
    }
    r.end_of_entries = e.end_offset;
    pos = e.end_offset;
    r.entries.push_back(std::move(e));
  }
  if (r.stop.empty()) r.stop = pos >= size() ? "end of file after the last entry" : "walk ended";
  return r;
}

}  // namespace zm::scan
