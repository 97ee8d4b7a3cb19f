// Which entries' data a command checks: the PATTERN arguments and --exclude of verify and cat,
// matched with the glob rules restore uses (bsdtar's), so that the same words select the same
// entries in every command.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "report/report.h"

namespace zm::check {

// PATTERN as a shell glob over the whole name: `*` stays inside one component, "./" and a
// trailing "/" are ignored, and a pattern that names a directory takes what is under it.
bool pattern_matches(const std::string& pattern, const std::string& name);
// --exclude's matching: the same, tried at the start of every component of the name.
bool exclude_matches(const std::string& pattern, const std::string& name);

struct EntrySelection {
  std::vector<std::string> patterns, excludes;
  // verify --sample: of the entries the patterns take, those whose name, hashed with `seed`,
  // falls below `share` (0 to 1): a random subset that the same seed draws again.
  double share = 1;
  std::uint64_t seed = 0;
  // No pattern, no exclusion, no sample: every entry.
  bool everything() const { return patterns.empty() && excludes.empty() && !sampled(); }
  bool sampled() const { return share < 1; }
  bool selects(const std::string& name) const;
  bool picks(const std::string& name) const;  // by the patterns and exclusions alone, before a sample
  double draw(const std::string& name) const;  // the name's place in [0, 1) for this seed
};

// What a selection (PATTERN, --exclude, --sample) checked: the entries whose data was decoded,
// and the patterns that selected none (the report names them; the command then fails, as unzip -t
// does for a name not matched).
class Checked {
 public:
  explicit Checked(const EntrySelection* select) : select_(select) {
    if (select_) matched_.assign(select_->patterns.size(), false);
  }
  void add(const std::string& name, std::uint64_t compressed_size);  // an entry whose data was decoded
  nlohmann::json json(std::size_t of_entries, std::uint64_t of_bytes) const;

 private:
  const EntrySelection* select_;
  std::vector<bool> matched_;
  std::size_t entries_ = 0;
  std::uint64_t bytes_ = 0;
};

// The report's "checked" block from its rows, once they are judged: `decoded` says which rows'
// data was read (the compressed bytes counted are the rows' own).
void note_checked(report::Report& rep, const EntrySelection& select,
                  const std::function<bool(const report::EntryRow&)>& decoded);

}  // namespace zm::check
