#include "check/select.h"

#include <fnmatch.h>

namespace zm::check {
namespace {

std::string strip_dots(std::string s) {
  while (s.size() >= 2 && s[0] == '.' && s[1] == '/') s.erase(0, 2);
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

// A number in [0, 1) that the name and the seed alone decide (FNV-1a, then SplitMix64's finaliser
// to spread it), so that a sample is the same in every run with the same seed and needs no state.
double draw_of(const std::string& name, std::uint64_t seed) {
  std::uint64_t h = 1469598103934665603ull ^ seed;
  for (unsigned char c : name) h = (h ^ c) * 1099511628211ull;
  h += 0x9e3779b97f4a7c15ull;
  h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ull;
  h = (h ^ (h >> 27)) * 0x94d049bb133111ebull;
  h ^= h >> 31;
  return double(h >> 11) / double(1ull << 53);
}

}  // namespace

double EntrySelection::draw(const std::string& name) const { return draw_of(name, seed); }

bool pattern_matches(const std::string& pattern, const std::string& name) {
  // FNM_PATHNAME keeps `*` inside one component; FNM_LEADING_DIR lets "docs" take "docs/a.txt",
  // as bsdtar -x docs does.
  return ::fnmatch(strip_dots(pattern).c_str(), strip_dots(name).c_str(), FNM_PATHNAME | FNM_LEADING_DIR) == 0;
}

bool exclude_matches(const std::string& pattern, const std::string& name) {
  // bsdtar anchors --exclude at no particular component: "b.bin" leaves out every b.bin.
  if (pattern_matches(pattern, name)) return true;
  for (std::size_t i = name.find('/'); i != std::string::npos && i + 1 < name.size(); i = name.find('/', i + 1))
    if (pattern_matches(pattern, name.substr(i + 1))) return true;
  return false;
}

bool EntrySelection::picks(const std::string& name) const {
  bool take = patterns.empty();
  for (const auto& p : patterns) take = take || pattern_matches(p, name);
  for (const auto& x : excludes)
    if (take && exclude_matches(x, name)) take = false;
  return take;
}

bool EntrySelection::selects(const std::string& name) const { return picks(name) && (!sampled() || draw(name) < share); }

void Checked::add(const std::string& name, std::uint64_t compressed_size) {
  if (!select_) return;
  ++entries_;
  bytes_ += compressed_size;
  // A pattern is matched by what it selected: a walk decodes an excluded bit-3 entry too.
  if (!select_->picks(name)) return;
  for (std::size_t p = 0; p < matched_.size(); ++p)
    if (!matched_[p]) matched_[p] = pattern_matches(select_->patterns[p], name);
}

nlohmann::json Checked::json(std::size_t of_entries, std::uint64_t of_bytes) const {
  nlohmann::json unmatched = nlohmann::json::array();
  for (std::size_t p = 0; p < matched_.size(); ++p)
    if (!matched_[p]) unmatched.push_back(report::printable_name(select_->patterns[p]));
  nlohmann::json out = {{"entries", entries_},        {"of_entries", of_entries}, {"compressed_bytes", bytes_},
                        {"of_compressed_bytes", of_bytes}, {"patterns", select_->patterns}, {"excludes", select_->excludes},
                        {"unmatched", unmatched}};
  if (select_->sampled()) out["sample"] = {{"share", select_->share}, {"seed", select_->seed}};
  return out;
}

void note_checked(report::Report& rep, const EntrySelection& select,
                  const std::function<bool(const report::EntryRow&)>& decoded) {
  Checked done(&select);
  std::uint64_t bytes = 0;
  auto add = [&](const report::EntryRow& row) {
    bytes += row.compressed_size;
    if (decoded(row)) done.add(row.name, row.compressed_size);
  };
  if (rep.lazy_rows)
    rep.lazy_rows->each(add);
  else
    for (const auto& row : rep.entries) add(row);
  rep.extra["checked"] = done.json(rep.row_count(), bytes);
}

}  // namespace zm::check
