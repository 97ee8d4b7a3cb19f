// How many processors this process may keep busy: what the scheduler lets it run on
// (sched_getaffinity: taskset, a cpuset) and what its control group's CPU quota allows (a
// container's --cpus: cgroup v2 cpu.max, or v1 cpu.cfs_quota_us over cpu.cfs_period_us), the
// smaller of the two. std::thread::hardware_concurrency counts the machine's processors instead.
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace zm::io {

// At least 1.
unsigned usable_cpus();

// The processors a quota amounts to, rounded up (a quota of 1.5 processors keeps two threads
// busy part of the time), at least 1; nullopt when there is no limit.
// cgroup v2 cpu.max: "max 100000" (none) or "150000 100000" (QUOTA PERIOD, microseconds).
std::optional<unsigned> cpus_of_cpu_max(std::string_view cpu_max);
// cgroup v1: cpu.cfs_quota_us (-1: none) and cpu.cfs_period_us.
std::optional<unsigned> cpus_of_cfs(long long quota_us, long long period_us);
// The cgroup v2 path ("0::/PATH") or, without one, the path of the v1 hierarchy that has the
// cpu controller ("N:cpu,cpuacct:/PATH"), from the text of /proc/self/cgroup.
struct CgroupPath {
  bool v2 = false;
  std::string path;
  std::string controllers;  // v1: the hierarchy's controllers as listed ("cpu,cpuacct")
};
std::optional<CgroupPath> cpu_cgroup(std::string_view proc_self_cgroup);

}  // namespace zm::io
