#include "io/cpus.h"

#include <sched.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <iterator>
#include <thread>
#include <vector>

namespace zm::io {

namespace {

std::optional<long long> number(std::string_view s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.remove_suffix(1);
  long long v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<std::string> slurp(const std::string& path) {
  std::ifstream f(path);
  if (!f) return std::nullopt;
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

unsigned affinity_cpus() {
  // A set sized for many processors: the default cpu_set_t holds 1,024, and sched_getaffinity
  // fails with EINVAL on a kernel configured for more.
  for (int n = 1024; n <= (1 << 16); n *= 4) {
    cpu_set_t* set = CPU_ALLOC(n);
    if (!set) break;
    const std::size_t size = CPU_ALLOC_SIZE(n);
    const bool ok = ::sched_getaffinity(0, size, set) == 0;
    const int count = ok ? CPU_COUNT_S(size, set) : 0;
    CPU_FREE(set);
    if (ok) return unsigned(std::max(count, 1));
  }
  return std::max(1u, std::thread::hardware_concurrency());
}

// The quota of the process's cgroup and of each cgroup above it, the smallest: a parent's limit
// binds its children too. Inside a container's cgroup namespace the path is "/" and the files
// are at the top of the mount.
std::optional<unsigned> quota_cpus() {
  auto self = slurp("/proc/self/cgroup");
  if (!self) return std::nullopt;
  auto cg = cpu_cgroup(*self);
  if (!cg) return std::nullopt;
  std::vector<std::string> roots;
  if (cg->v2)
    roots = {"/sys/fs/cgroup"};
  else
    roots = {"/sys/fs/cgroup/" + cg->controllers, "/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/cpu"};
  std::optional<unsigned> least;
  for (const auto& root : roots) {
    std::string path = cg->path;
    bool found = false;
    for (;;) {
      const std::string dir = root + (path == "/" ? "" : path);
      std::optional<unsigned> here;
      if (cg->v2) {
        if (auto text = slurp(dir + "/cpu.max")) found = true, here = cpus_of_cpu_max(*text);
      } else if (auto q = slurp(dir + "/cpu.cfs_quota_us")) {
        auto p = slurp(dir + "/cpu.cfs_period_us");
        auto qn = number(*q);
        auto pn = p ? number(*p) : std::nullopt;
        found = true;
        if (qn && pn) here = cpus_of_cfs(*qn, *pn);
      }
      if (here) least = least ? std::min(*least, *here) : *here;
      if (path == "/" || path.empty()) break;
      const auto slash = path.rfind('/');
      path = slash == 0 ? "/" : path.substr(0, slash);
    }
    if (found) break;
  }
  return least;
}

}  // namespace

std::optional<unsigned> cpus_of_cfs(long long quota_us, long long period_us) {
  if (quota_us <= 0 || period_us <= 0) return std::nullopt;
  return unsigned(std::max<long long>(1, (quota_us + period_us - 1) / period_us));
}

std::optional<unsigned> cpus_of_cpu_max(std::string_view cpu_max) {
  const auto space = cpu_max.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  const std::string_view quota = cpu_max.substr(0, space);
  if (quota == "max") return std::nullopt;
  auto q = number(quota), p = number(cpu_max.substr(space + 1));
  if (!q || !p) return std::nullopt;
  return cpus_of_cfs(*q, *p);
}

std::optional<CgroupPath> cpu_cgroup(std::string_view text) {
  // A hybrid system lists both; its cpu controller is the v1 one then.
  std::optional<CgroupPath> v1, v2;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    // hierarchy-ID:controller-list:cgroup-path (cgroups(7))
    const auto c1 = line.find(':');
    const auto c2 = c1 == std::string_view::npos ? c1 : line.find(':', c1 + 1);
    if (c2 == std::string_view::npos) continue;
    const std::string_view id = line.substr(0, c1), controllers = line.substr(c1 + 1, c2 - c1 - 1);
    const std::string path(line.substr(c2 + 1));
    if (id == "0" && controllers.empty()) v2 = CgroupPath{true, path, ""};
    std::string_view rest = controllers;
    while (!v1) {
      const auto comma = rest.find(',');
      if (rest.substr(0, comma) == "cpu") v1 = CgroupPath{false, path, std::string(controllers)};
      if (comma == std::string_view::npos) break;
      rest = rest.substr(comma + 1);
    }
  }
  return v1 ? v1 : v2;
}

unsigned usable_cpus() {
  const unsigned affinity = affinity_cpus();
  const auto quota = quota_cpus();
  return quota ? std::min(affinity, *quota) : affinity;
}

}  // namespace zm::io
