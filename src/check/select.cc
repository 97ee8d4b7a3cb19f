#include "check/select.h"

#include <fnmatch.h>

namespace zm::check {
namespace {

std::string strip_dots(std::string s) {
  while (s.size() >= 2 && s[0] == '.' && s[1] == '/') s.erase(0, 2);
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

}  // namespace

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

bool EntrySelection::selects(const std::string& name) const {
  bool take = patterns.empty();
  for (const auto& p : patterns) take = take || pattern_matches(p, name);
  for (const auto& x : excludes)
    if (take && exclude_matches(x, name)) take = false;
  return take;
}

}  // namespace zm::check
