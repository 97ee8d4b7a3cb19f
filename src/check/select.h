// Which entries' data a command checks: the PATTERN arguments and --exclude of verify and cat,
// matched with the glob rules restore uses (bsdtar's), so that the same words select the same
// entries in every command.
#pragma once
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
  // No pattern and no exclusion: every entry.
  bool everything() const { return patterns.empty() && excludes.empty(); }
  bool selects(const std::string& name) const;
};

}  // namespace zm::check
