// Which entries' data a command checks: the PATTERN arguments and --exclude of verify and cat,
// matched with the glob rules restore uses (bsdtar's), so that the same words select the same
// entries in every command.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

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
  double draw(const std::string& name) const;  // the name's place in [0, 1) for this seed
};

}  // namespace zm::check
