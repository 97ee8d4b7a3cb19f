// The one place that draws a progress line: on stderr, only when it is a terminal, at most ten
// times a second, and erased before anything else is printed.
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>

namespace zm::report {

class Progress {
 public:
  // `enabled` is false for --quiet; the terminal test is made here.
  Progress(bool enabled, std::uint64_t total);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;
  std::atomic<std::uint64_t>& counter() { return done_; }
  void finish();

 private:
  void run();
  std::atomic<std::uint64_t> done_{0};
  std::uint64_t total_;
  bool active_ = false;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace zm::report
