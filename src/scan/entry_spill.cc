#include "scan/entry_spill.h"

#include <cstring>

namespace zm::scan {

namespace {

// A field added to Entry (or to one of its parts) must be written and read here too, or a
// repair of a large archive would silently lose it between its walk and its plan. These stop
// the build when the number of fields changes (a structured binding names every one), even a
// field that fits in padding.
[[maybe_unused]] void every_field_is_spilled(const Entry& e, const LocalClaim& l, const DataDescriptor& d,
                                             const codec::DecodeResult& r) {
  [[maybe_unused]] const auto& [name, made_by, needed, flags, method, time, date, crc, csize, usize, lfh_offset,
                                internal_attr, external_attr, cd_zip64, in_directory, cd_extra_malformed,
                                refused_by, disk_start, extras, lfh, lfh_problem, data_offset, descriptor,
                                descriptor_cut, decoded, crypt, cut_intact, end_offset, next_record_follows,
                                extent_known, status, claims_from_directory] = e;
  // Written as they are (plain values): a field that is not one breaks this.
  static_assert(std::is_trivially_copyable_v<LocalClaim> && std::is_trivially_copyable_v<DataDescriptor>);
  [[maybe_unused]] const auto& [l1, l2, l3, l4, l5, l6, l7, l8, l9, l10] = l;
  [[maybe_unused]] const auto& [d1, d2, d3, d4, d5] = d;
  [[maybe_unused]] const auto& [r1, r2, r3, r4, r5] = r;
}

struct Out {
  std::string& b;
  template <class T>
  void put(T v) {
    static_assert(std::is_trivially_copyable_v<T>);
    b.append(reinterpret_cast<const char*>(&v), sizeof v);
  }
  void str(const std::string& s) {
    put(std::uint32_t(s.size()));
    b.append(s);
  }
};

struct In {
  const char* p;
  const char* end;
  template <class T>
  T get() {
    T v;
    if (std::size_t(end - p) < sizeof v) throw io::IoError("a temporary file of entries was read back short");
    std::memcpy(&v, p, sizeof v);
    p += sizeof v;
    return v;
  }
  std::string str() {
    auto n = get<std::uint32_t>();
    if (std::size_t(end - p) < n) throw io::IoError("a temporary file of entries was read back short");
    std::string s(p, n);
    p += n;
    return s;
  }
};

void encode(const Entry& e, std::string& b) {
  Out o{b};
  o.str(e.name);
  for (auto v : {e.version_made_by, e.version_needed, e.flags, e.method, e.mod_time, e.mod_date, e.internal_attr})
    o.put(v);
  o.put(e.crc32);
  o.put(e.compressed_size);
  o.put(e.uncompressed_size);
  o.put(e.lfh_offset);
  o.put(e.external_attr);
  o.put(e.disk_start);
  o.put(std::uint8_t(e.cd_zip64 | e.in_directory << 1 | e.cd_extra_malformed << 2 | e.descriptor_cut << 3 |
                     e.next_record_follows << 4 | e.extent_known << 5 | e.claims_from_directory << 6 |
                     bool(e.extras) << 7));
  o.put(e.cd_extra_refused_by);
  if (e.extras) {
    o.str(e.extras->cd_extra);
    o.str(e.extras->comment);
    o.str(e.extras->lfh_extra);
  }
  o.put(std::uint8_t(e.lfh.has_value() | e.descriptor.has_value() << 1 | e.decoded.has_value() << 2 |
                     e.cut_intact.has_value() << 3));
  if (e.lfh) o.put(*e.lfh);  // plain fields only (the static_assert above keeps it so)
  o.put(e.lfh_problem);
  o.put(e.data_offset);
  if (e.descriptor) o.put(*e.descriptor);
  if (e.decoded) {
    o.put(e.decoded->status);
    o.put(e.decoded->consumed);
    o.put(e.decoded->produced);
    o.put(e.decoded->crc);
    o.str(e.decoded->error);
  }
  o.put(e.crypt);
  if (e.cut_intact) o.put(*e.cut_intact);
  o.put(e.end_offset);
  o.put(e.status);
}

Entry decode(In& in) {
  Entry e;
  e.name = in.str();
  for (auto* v : {&e.version_made_by, &e.version_needed, &e.flags, &e.method, &e.mod_time, &e.mod_date,
                  &e.internal_attr})
    *v = in.get<std::uint16_t>();
  e.crc32 = in.get<std::uint32_t>();
  e.compressed_size = in.get<std::uint64_t>();
  e.uncompressed_size = in.get<std::uint64_t>();
  e.lfh_offset = in.get<std::uint64_t>();
  e.external_attr = in.get<std::uint32_t>();
  e.disk_start = in.get<std::uint32_t>();
  auto bits = in.get<std::uint8_t>();
  e.cd_zip64 = bits & 1;
  e.in_directory = bits & 2;
  e.cd_extra_malformed = bits & 4;
  e.descriptor_cut = bits & 8;
  e.next_record_follows = bits & 16;
  e.extent_known = bits & 32;
  e.claims_from_directory = bits & 64;
  e.cd_extra_refused_by = in.get<std::uint8_t>();
  if (bits & 128) {
    auto x = std::make_shared<Entry::Extras>();
    x->cd_extra = in.str();
    x->comment = in.str();
    x->lfh_extra = in.str();
    e.extras = std::move(x);
  }
  auto has = in.get<std::uint8_t>();
  if (has & 1) e.lfh = in.get<LocalClaim>();
  e.lfh_problem = in.get<LocalProblem>();
  e.data_offset = in.get<std::uint64_t>();
  if (has & 2) e.descriptor = in.get<DataDescriptor>();
  if (has & 4) {
    codec::DecodeResult d;
    d.status = in.get<codec::DecodeResult::Status>();
    d.consumed = in.get<std::uint64_t>();
    d.produced = in.get<std::uint64_t>();
    d.crc = in.get<std::uint32_t>();
    d.error = in.str();
    e.decoded = std::move(d);
  }
  e.crypt = in.get<CryptOutcome>();
  if (has & 8) e.cut_intact = in.get<std::uint64_t>();
  e.end_offset = in.get<std::uint64_t>();
  e.status = in.get<report::EntryStatus>();
  return e;
}

}  // namespace

std::uint64_t EntrySpill::append(const Entry& e) {
  buf_.assign(4, '\0');
  encode(e, buf_);
  const auto n = std::uint32_t(buf_.size() - 4);
  std::memcpy(buf_.data(), &n, 4);
  ++count_;
  return file_.append(buf_);
}

Entry EntrySpill::read_at(std::uint64_t pos) {
  std::uint32_t n = 0;
  if (file_.read_at(pos, {reinterpret_cast<std::uint8_t*>(&n), 4}) != 4)
    throw io::IoError("a temporary file of entries was read back short");
  std::string b(n, '\0');
  if (file_.read_at(pos + 4, {reinterpret_cast<std::uint8_t*>(b.data()), n}) != n)
    throw io::IoError("a temporary file of entries was read back short");
  In in{b.data(), b.data() + b.size()};
  return decode(in);
}

void EntrySpill::each_batch(std::size_t batch, const std::function<void(std::vector<Entry>&)>& f) {
  io::SequentialReader rd(file_, 0);
  std::vector<Entry> out;
  for (std::size_t i = 0; i < count_; ++i) {
    auto head = rd.peek(4);
    if (head.size() < 4) throw io::IoError("a temporary file of entries was read back short");
    std::uint32_t n;
    std::memcpy(&n, head.data(), 4);
    auto rec = rd.peek(4 + std::size_t(n));
    if (rec.size() < 4 + std::size_t(n)) throw io::IoError("a temporary file of entries was read back short");
    In in{reinterpret_cast<const char*>(rec.data()) + 4, reinterpret_cast<const char*>(rec.data()) + 4 + n};
    out.push_back(decode(in));
    rd.skip(4 + std::size_t(n));
    if (out.size() == batch) {
      f(out);
      out.clear();
    }
  }
  if (!out.empty()) f(out);
}

}  // namespace zm::scan
