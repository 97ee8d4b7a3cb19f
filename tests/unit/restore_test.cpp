// restore/beneath.h and restore/plan.h: opening beneath a directory never follows a link (openat2
// and the per-component fallback alike), and paths sort with a folder's contents right after it.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <string>

#include "restore/beneath.h"
#include "restore/plan.h"

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
  CHECK(parent_of("a/b/c") == "a/b");
  CHECK(leaf_of("a/b/c") == "c");
  CHECK(parent_of("c").empty());
}
