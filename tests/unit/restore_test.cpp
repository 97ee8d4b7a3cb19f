// restore/beneath.h and restore/plan.h: opening beneath a directory never follows a link (openat2
// and the per-component fallback alike), and paths sort with a folder's contents right after it,
// each folder kept once.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <string>

#include "io/source.h"
#include "restore/beneath.h"
#include "restore/plan.h"
#include "scan/end_records.h"
#include "zipbuild.h"

using namespace zm::restore;

namespace {

struct TempDir {
  std::string path;
  TempDir() {
    char t[] = "/tmp/zipmedic-beneath-XXXXXX";
    path = ::mkdtemp(t);
  }
  ~TempDir() {
    Fd parent(::open("/tmp", O_RDONLY | O_DIRECTORY));
    remove_tree(parent.get(), path.substr(5));
  }
};

}  // namespace

TEST_CASE("open_beneath refuses a link on the way and a way out, both ways") {
  TempDir t;
  const std::string dir = t.path + "/dir", outside = t.path + "/outside";
  REQUIRE(::mkdir(dir.c_str(), 0755) == 0);
  REQUIRE(::mkdir(outside.c_str(), 0755) == 0);
  REQUIRE(::mkdir((dir + "/real").c_str(), 0755) == 0);
  REQUIRE(::symlink(outside.c_str(), (dir + "/link").c_str()) == 0);
  Fd d(::open(dir.c_str(), O_RDONLY | O_DIRECTORY));
  for (auto open : {&open_beneath, &open_beneath_by_component}) {
    Fd f(open(d.get(), "real/f", O_WRONLY | O_CREAT | O_EXCL, 0600));
    CHECK(f.get() >= 0);
    Fd through(open(d.get(), "link/f", O_WRONLY | O_CREAT | O_EXCL, 0600));
    CHECK(through.get() < 0);
    CHECK((errno == ELOOP || errno == ENOTDIR));
    Fd last(open(d.get(), "link", O_RDONLY, 0));
    CHECK(last.get() < 0);
    ::unlink((dir + "/real/f").c_str());
  }
  struct stat st {};
  CHECK(::stat((outside + "/f").c_str(), &st) != 0);
  Fd up(open_beneath(d.get(), "../outside/g", O_WRONLY | O_CREAT, 0600));
  CHECK(up.get() < 0);
  CHECK(open_dir_beneath(d.get(), "").get() >= 0);
}

TEST_CASE("path_less puts a folder's contents right after it") {
  CHECK(path_less("a", "a/b"));
  CHECK(path_less("a/b", "a-b"));
  CHECK(path_less("a/z", "a0"));
  CHECK_FALSE(path_less("a/b", "a"));
  CHECK(path_less("", "a"));
}

TEST_CASE("a plan keeps each folder once and orders paths across folders as whole paths sort") {
  // Directory order scrambled; "./a/b/c.txt" is an alias the plan must meet next to "a/b/c.txt".
  const std::vector<std::string> names = {"b/a.txt", "a/b/c.txt", "a-b",     "a0/x.txt", "a/z.txt", "a/b/",
                                          "c.txt",   "a/b.c/e",   "a/b-c/d", "A/b.txt",  "./a/b/c.txt"};
  std::vector<zm::test::Item> items;
  for (const auto& n : names) items.push_back({n, n.back() == '/' ? "" : n});
  zm::io::MemorySource src(zm::test::build_zip(items).bytes);
  auto end = zm::scan::locate_end_records(src);
  REQUIRE(end);
  Plan plan = make_plan(src, *end, {});
  std::vector<std::string> paths;
  for (const auto& it : plan.items) paths.push_back(plan.path(it));
  const std::vector<std::string> want = {"A",       "A/b.txt", "a",     "a/b",  "a/b/c.txt", "a/b/c.txt", "a/b-c",
                                         "a/b-c/d", "a/b.c",   "a/b.c/e", "a/z.txt", "a-b",     "a0",        "a0/x.txt",
                                         "b",       "b/a.txt", "c.txt"};
  CHECK(paths == want);
  // DIR, A, a, a/b, a/b-c, a/b.c, a0, b: once each, however many items lie in them.
  CHECK(plan.folders.size() == 8);
  CHECK(plan.name(plan.items[3]) == "a/b/");
  CHECK(plan.problems == 2);  // the alias and the name it repeats
  for (const auto& it : plan.items)
    if (it.entry != kImplied && names[it.entry] == "./a/b/c.txt") CHECK(plan.name(it) == "./a/b/c.txt");
}
