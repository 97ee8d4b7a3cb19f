#include "check/walk_tally.h"

#include "zip/records.h"

namespace zm::check {

namespace {

class WalkRows final : public report::RowSource {
 public:
  WalkRows(std::shared_ptr<WalkTally> tally, std::vector<report::EntryRow> rest)
      : tally_(std::move(tally)), rest_(std::move(rest)) {
    for (const auto& r : rest_) ok_ += r.status == report::EntryStatus::ok;
  }
  std::size_t size() const override { return tally_->count() + rest_.size(); }
  std::size_t ok() const override { return tally_->ok() + ok_; }
  void each(const std::function<void(const report::EntryRow&)>& f) const override {
    tally_->each(f);
    for (const auto& r : rest_) f(r);
  }

 private:
  std::shared_ptr<WalkTally> tally_;
  std::vector<report::EntryRow> rest_;
  std::size_t ok_ = 0;
};

// The name in the local header at `offset` (4.3.7), or what there is of it.
std::string local_name(io::ByteSource& src, std::uint64_t offset) {
  std::uint8_t fixed[zip::kLocalHeaderLen] = {};
  src.read_at(offset, fixed);
  auto name = src.read_vec(offset + zip::kLocalHeaderLen, zip::local_name_len(fixed));
  return {name.begin(), name.end()};
}

}  // namespace

std::shared_ptr<const report::RowSource> walk_rows(std::shared_ptr<WalkTally> tally, std::vector<report::EntryRow> rest) {
  return std::make_shared<WalkRows>(std::move(tally), std::move(rest));
}

void WalkTally::add(std::vector<scan::Entry>& done) {
  for (auto& e : done) {
    judge_entry(e, src_.size(), judged);
    password.add(e, count_);
    if (names_on_) {
      name_judge_.add(e, std::uint32_t(count_));
      features_.add(e);
    }
    comp_ += e.compressed_size;
    uncomp_ += e.uncompressed_size;
    if (keep_rows)
      rows_.push_back({e.lfh_offset, e.compressed_size, e.uncompressed_size, e.crc32, e.method, e.status,
                       e.has_descriptor_flag(), e.cd_zip64 || e.lfh_zip64(), (e.flags & zip::kFlagUtf8) != 0});
    ++count_;
    ok_ += e.status == report::EntryStatus::ok;
    if (scan::walked_whole(e)) last_whole_ = scan::LastWhole{e.name, count_, e.end_offset};
    if (!src_.seekable() && !names_from) names_.push_back(std::move(e.name));
  }
}

void judge_walk(scan::ScanResult& walk, std::uint64_t source_size, WalkTally* tally) {
  judge_walk(walk, source_size, tally ? std::move(tally->judged) : std::vector<report::Finding>{});
  PasswordJudge own;
  PasswordJudge& password = tally ? tally->password : own;
  const std::size_t first = tally ? tally->count() : 0;
  for (std::size_t i = 0; i < walk.entries.size(); ++i) password.add(walk.entries[i], first + i);
  if (!password.settle(walk.findings)) return;
  for (auto i : password.chance()) {
    if (i >= first) walk.entries[i - first].status = report::EntryStatus::encrypted;
    else tally->set_status(i, report::EntryStatus::encrypted);
  }
}

std::string WalkTally::name(std::size_t i) const {
  if (names_from) return names_from(rows_[i].offset);
  return names_.empty() ? local_name(src_, rows_[i].offset) : names_[i];
}

void WalkTally::finish_names(const std::vector<scan::Entry>& rest, std::vector<report::Finding>& out) {
  const std::size_t before = count_;
  for (std::size_t i = 0; i < rest.size(); ++i) {
    name_judge_.add(rest[i], std::uint32_t(before + i));
    features_.add(rest[i]);
  }
  name_judge_.finish(
      [&](std::uint32_t i) {
        if (i >= before) return Named{rest[i - before].name, rest[i - before].lfh_offset};
        return Named{name(i), rows_[i].offset};
      },
      out);
  features_.finish(out);
}

void WalkTally::each(const std::function<void(const report::EntryRow&)>& f) const {
  // The row is made by the same scan::to_row as every other, from what the 32 bytes kept.
  io::CachedSource headers(src_);
  scan::Entry e;
  for (std::size_t i = 0; i < rows_.size(); ++i) {
    const Row& r = rows_[i];
    e.name = names_from ? names_from(r.offset) : names_.empty() ? local_name(headers, r.offset) : names_[i];
    e.flags = std::uint16_t((r.data_descriptor ? zip::kFlagDescriptor : 0) | (r.utf8 ? zip::kFlagUtf8 : 0));
    e.method = r.method;
    e.compressed_size = r.compressed_size;
    e.uncompressed_size = r.uncompressed_size;
    e.crc32 = r.crc32;
    e.lfh_offset = r.offset;
    e.status = r.status;
    e.cd_zip64 = r.zip64;
    f(scan::to_row(e));
  }
}

}  // namespace zm::check
