#include <doctest/doctest.h>

#include <sched.h>

#include "io/cpus.h"

using namespace zm::io;

TEST_CASE("cpus: a cgroup v2 cpu.max gives its quota in processors, rounded up") {
  CHECK(!cpus_of_cpu_max("max 100000\n"));
  CHECK(cpus_of_cpu_max("100000 100000\n") == 1u);
  CHECK(cpus_of_cpu_max("50000 100000") == 1u);   // half a processor still runs one thread
  CHECK(cpus_of_cpu_max("150000 100000\n") == 2u);
  CHECK(cpus_of_cpu_max("400000 100000\n") == 4u);
  CHECK(!cpus_of_cpu_max(""));
  CHECK(!cpus_of_cpu_max("garbage"));
  CHECK(!cpus_of_cpu_max("12x 100000"));
}

TEST_CASE("cpus: cgroup v1 cfs quota over period; -1 is no limit") {
  CHECK(!cpus_of_cfs(-1, 100000));
  CHECK(cpus_of_cfs(200000, 100000) == 2u);
  CHECK(cpus_of_cfs(250000, 100000) == 3u);
  CHECK(!cpus_of_cfs(100000, 0));
}

TEST_CASE("cpus: the cgroup that holds the cpu controller, from /proc/self/cgroup") {
  auto v2 = cpu_cgroup("0::/user.slice/user-1000.slice/session-2.scope\n");
  REQUIRE(v2);
  CHECK(v2->v2);
  CHECK(v2->path == "/user.slice/user-1000.slice/session-2.scope");
  // A hybrid system: the cpu controller is on a v1 hierarchy, which wins over the unified one.
  auto hybrid = cpu_cgroup("12:pids:/\n4:cpu,cpuacct:/docker/abc\n0::/docker/abc\n");
  REQUIRE(hybrid);
  CHECK(!hybrid->v2);
  CHECK(hybrid->path == "/docker/abc");
  CHECK(hybrid->controllers == "cpu,cpuacct");
  CHECK(!cpu_cgroup("4:cpuset:/\n3:cpuacct:/\n"));  // cpuacct is not cpu
  CHECK(!cpu_cgroup(""));
}

TEST_CASE("cpus: no more than the affinity mask allows") {
  cpu_set_t set;
  CPU_ZERO(&set);
  REQUIRE(sched_getaffinity(0, sizeof set, &set) == 0);
  const unsigned allowed = unsigned(CPU_COUNT(&set));
  CHECK(usable_cpus() >= 1u);
  CHECK(usable_cpus() <= allowed);
}
