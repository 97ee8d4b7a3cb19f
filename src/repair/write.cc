#include "repair/write.h"

#include <fmt/format.h>

#include <cstring>

#include "scan/central_directory.h"

namespace zm::repair {

Writer::Writer(io::ByteSource& src, codec::Workspace& ws, std::function<io::OutputSink&()> open, bool in_place,
               std::string input_name)
    : src_(src), small_reads_(src), ws_(ws), open_(std::move(open)), in_place_(in_place),
      input_name_(std::move(input_name)), directory_(std::make_shared<io::Spill>(input_name_)), copies_(input_name_) {}

io::OutputSink& Writer::out() {
  if (!out_) out_ = &open_();
  return *out_;
}

// A million small entries are three small pieces each: gathered here, so that the sink (a file,
// a spool, a cipher) sees megabytes, not three system calls an entry.
void Writer::emit(std::string_view bytes) {
  if (pending_.size() + bytes.size() > kGather) flush();
  if (bytes.size() >= kGather) {
    out().write(bytes);
  } else {
    pending_.append(bytes);
  }
}

void Writer::flush() {
  if (!pending_.empty()) out().write(pending_);
  pending_.clear();
}

void Writer::put(const zip::EntryRecord& r) {
  directory_->append(zip::central_record_bytes(r));
  ++records_;
}

void Writer::add(const scan::Entry& e, zip::EntryRecord r) {
  out();
  salvaged_ += e.uncompressed_size;
  if (in_place_) {
    put(r);
    return;
  }
  auto changed = [&] { return io::Failure(io::Fail::cannot_read, input_name_ + ": the file changed while it was being repaired"); };
  r.local_offset = pos_;
  std::string h = zip::local_header_bytes(r);
  emit(h);
  pos_ += h.size();
  if (e.compressed_size < kKernelCopy) {
    // A small entry's data is read straight into what is gathered, not through buf_ first.
    if (pending_.size() + e.compressed_size > kGather) flush();
    const std::size_t at = pending_.size(), n = std::size_t(e.compressed_size);
    pending_.resize(at + n);
    if (small_reads_.read_at(e.data_offset, {reinterpret_cast<std::uint8_t*>(pending_.data() + at), n}) != n)
      throw changed();
  } else {
    copy_data(e);
  }
  const Copied c{e.data_offset, pos_, e.compressed_size};
  copies_.put(&c, sizeof c);
  if (e.decoded && e.decoded->status == codec::DecodeResult::Status::ok) known_.add(r.local_offset, *e.decoded);
  pos_ += e.compressed_size;
  if (r.flags & zip::kFlagDescriptor) {
    std::string d = zip::descriptor_bytes(r);
    emit(d);
    pos_ += d.size();
  }
  put(r);
}

// A large entry's data, by the kernel from file to file where it can, else through buf_.
void Writer::copy_data(const scan::Entry& e) {
  flush();
  std::uint64_t done = 0;
  if (const int fd = src_.descriptor(); fd >= 0) done = out().copy_from(fd, e.data_offset, e.compressed_size);
  if (buf_.empty()) buf_.resize(1 << 20);
  while (done < e.compressed_size) {
    std::size_t n = std::size_t(std::min<std::uint64_t>(buf_.size(), e.compressed_size - done));
    if (src_.read_at(e.data_offset + done, {buf_.data(), n}) != n)
      throw io::Failure(io::Fail::cannot_read, input_name_ + ": the file changed while it was being repaired");
    emit({reinterpret_cast<const char*>(buf_.data()), n});
    done += n;
  }
}

void Writer::add_partial(const scan::Entry& e) {
  // The intact start of a cut or damaged entry, stored under NAME.partial: decoded once to learn
  // its CRC and length, then again straight into the output (bounded memory).
  std::uint64_t limit = (e.end_offset > e.data_offset ? e.end_offset : src_.size()) - e.data_offset;
  if (e.method == zip::kStored && e.status == report::EntryStatus::truncated) limit = src_.size() - e.data_offset;
  codec::DecodeRequest dr{e.data_offset, limit, e.method};
  dr.lzma_eos = e.flags & 2;
  dr.expected_uncompressed = e.uncompressed_size;
  auto first = ws_.decode(src_, dr);
  if (first.produced == 0) return;
  out();
  zip::EntryRecord r;
  r.name = e.name + ".partial";
  r.method = zip::kStored;
  r.mod_time = e.mod_time;
  r.mod_date = e.mod_date;
  r.flags = e.flags & zip::kFlagUtf8;
  r.crc32 = first.crc;
  r.compressed_size = r.uncompressed_size = first.produced;
  r.local_offset = pos_;
  std::string h = zip::local_header_bytes(r);
  emit(h);
  pos_ += h.size();
  std::uint64_t written = 0;
  dr.sink = [&](std::span<const std::uint8_t> chunk) {
    std::size_t n = std::size_t(std::min<std::uint64_t>(chunk.size(), first.produced - written));
    emit({reinterpret_cast<const char*>(chunk.data()), n});
    written += n;
  };
  ws_.decode(src_, dr);
  if (written != first.produced) throw io::Failure(io::Fail::cannot_read, input_name_ + ": the file changed while it was being repaired");
  pos_ += written;
  salvaged_ += written;
  findings.push_back(report::make_finding(
      report::Code::entry_salvaged, r.name, e.lfh_offset,
      fmt::format("the intact first {} bytes of '{}' are kept as '{}'", written, report::printable_name(e.name),
                  report::printable_name(r.name))));
  put(r);
}

void Writer::finish() {
  flush();
  io::OutputSink& o = out();
  const std::uint64_t cd_offset = in_place_ ? o.base() : pos_;
  const std::uint64_t cd_size = directory_->size();
  if (buf_.empty()) buf_.resize(1 << 20);
  for (std::uint64_t done = 0; done < cd_size;) {
    std::size_t n = directory_->read_at(done, {buf_.data(), std::size_t(std::min<std::uint64_t>(buf_.size(), cd_size - done))});
    o.write({reinterpret_cast<const char*>(buf_.data()), n});
    done += n;
  }
  o.write(zip::end_records_bytes(records_, cd_offset, cd_size));
  o.finish();
}

std::optional<std::string> check_copies(io::ByteSource& input, io::ByteSource& output, io::Spill& copies) {
  copies.flush();
  // In file order on both sides: one read cache each serves runs of small entries.
  io::CachedSource in(input), out(output);
  io::SequentialReader ledger(copies, 0);
  std::vector<std::uint8_t> a(1 << 20), b(1 << 20);
  for (std::uint64_t at = 0; at < copies.size(); at += sizeof(Copied)) {
    Copied c;
    std::memcpy(&c, ledger.peek(sizeof c).data(), sizeof c);
    ledger.skip(sizeof c);
    for (std::uint64_t done = 0; done < c.length;) {
      const std::size_t n = std::size_t(std::min<std::uint64_t>(a.size(), c.length - done));
      const std::size_t got = out.read_at(c.to + done, {b.data(), n});
      if (in.read_at(c.from + done, {a.data(), n}) != n || got != n || std::memcmp(a.data(), b.data(), n) != 0)
        return fmt::format("the {} bytes of entry data written at offset {} are not the input's at offset {}", c.length,
                           c.to, c.from);
      done += n;
    }
  }
  return std::nullopt;
}

namespace {

class RepairedRows final : public report::RowSource {
 public:
  RepairedRows(std::shared_ptr<const io::Spill> directory, std::size_t count, std::vector<report::EntryRow> rest)
      : directory_(std::move(directory)), count_(count), rest_(std::move(rest)) {}
  std::size_t size() const override { return count_ + rest_.size(); }
  std::size_t ok() const override { return count_; }
  void each(const std::function<void(const report::EntryRow&)>& f) const override {
    // The spill is only read here; a reader of its own keeps this const.
    auto& dir = const_cast<io::Spill&>(*directory_);
    io::SequentialReader rd(dir, 0);
    for (std::size_t i = 0; i < count_; ++i) {
      const std::size_t len = zip::central_record_len(rd.peek(zip::kCentralHeaderLen)).value_or(0);
      auto rec = rd.peek(len);
      zip::Cursor c(rec);
      scan::Entry e = scan::entry_from_record(zip::parse_central(c), nullptr);
      rd.skip(len);
      e.status = report::EntryStatus::ok;  // proven with the archive
      auto row = scan::to_row(e);
      f(row);
    }
    for (const auto& r : rest_) f(r);
  }

 private:
  std::shared_ptr<const io::Spill> directory_;
  std::size_t count_;
  std::vector<report::EntryRow> rest_;
};

}  // namespace

std::shared_ptr<const report::RowSource> repaired_rows(std::shared_ptr<const io::Spill> directory, std::size_t count,
                                                       std::vector<report::EntryRow> rest) {
  return std::make_shared<RepairedRows>(std::move(directory), count, std::move(rest));
}

}  // namespace zm::repair
