#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "check/names.h"

using zm::check::unsafe_name_reason;

TEST_CASE("names: safe names pass") {
  // A backslash inside a name escapes nothing: CP932's 0x5C as a second byte (0x95 0x5C is U+8868).
  for (const char* n : {"a.txt", "dir/", "dir/sub/file", "a..b", "..a/b", "uploadedfiles/x.bin", "\xc3\xbc.md",
                        "dir\\file", "\x95\x5c.txt", "a\\b\\c"})
    CHECK_MESSAGE(!unsafe_name_reason(n), n);
}

TEST_CASE("names: names that could escape the target directory are unsafe") {
  struct Case { std::string name, why; };
  std::vector<Case> cases = {
      {"../etc/passwd", "'..'"},          {"a/../../b", "'..'"},        {"..", "'..'"},
      {"/etc/passwd", "absolute"},        {"C:/Windows/x", "drive"},    {"c:x", "drive"},
      {"a\\..\\b", "'..'"},               {"\\share\\x", "absolute"},
      {std::string("a\0b", 3), "NUL"},    {"", "empty"},
  };
  for (const auto& c : cases) {
    auto r = unsafe_name_reason(c.name);
    REQUIRE_MESSAGE(r, c.name);
    CHECK_MESSAGE(r->find(c.why) != std::string::npos, *r);
  }
}

TEST_CASE("names: symlink mode bits") {
  CHECK(zm::check::is_symlink_mode(0120777));
  CHECK_FALSE(zm::check::is_symlink_mode(0100644));
  CHECK_FALSE(zm::check::is_symlink_mode(040755));
}
