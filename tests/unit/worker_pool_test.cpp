// io::WorkerPool: every task runs once, the bound on bytes in flight holds, and a task's error
// reaches the owner.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <thread>
#include <vector>

#include "io/worker_pool.h"

using namespace zm;

namespace {

struct Counted {
  std::atomic<int>* runs;
  unsigned worker = ~0u;
};

void count(void* job, unsigned worker) {
  auto& c = *static_cast<Counted*>(job);
  c.worker = worker;
  ++*c.runs;
}

void fail(void*, unsigned) { throw std::runtime_error("read failed"); }

}  // namespace

TEST_CASE("worker pool: every task runs once, on a worker below slots()") {
  for (unsigned threads : {0u, 1u, 3u}) {
    CAPTURE(threads);
    io::WorkerPool pool(threads, 1000);
    std::atomic<int> runs{0};
    std::vector<Counted> jobs(200, Counted{&runs});
    for (auto& j : jobs) pool.submit({&count, &j, 10});
    pool.wait();
    CHECK(runs == 200);
    for (const auto& j : jobs) CHECK(j.worker < pool.slots());
    pool.close();
  }
}

TEST_CASE("worker pool: submit waits while the bytes in flight are at the bound and a task is queued") {
  // Two workers, each held by a task of 60 bytes; a third task is queued though 120 bytes are in
  // flight (nothing was queued), a fourth must wait for room.
  std::atomic<bool> open{false};
  auto held = [](void* job, unsigned) {
    while (!static_cast<std::atomic<bool>*>(job)->load()) std::this_thread::yield();
  };
  io::WorkerPool pool(2, 100);
  std::atomic<int> submitted{0};
  std::thread owner([&] {
    for (int i = 0; i < 4; ++i) {
      pool.submit({held, &open, 60});
      ++submitted;
    }
    pool.wait();
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  // The third goes in only once the workers have taken the first two off the queue; the fourth
  // waits for one of them to end.
  CHECK(submitted >= 2);
  CHECK(submitted <= 3);
  open = true;
  owner.join();
  CHECK(submitted == 4);
}

TEST_CASE("worker pool: a task's error is thrown by wait(), and later tasks may skip") {
  for (unsigned threads : {1u, 2u}) {
    CAPTURE(threads);
    io::WorkerPool pool(threads, 1000);
    pool.submit({&fail, nullptr, 1});
    CHECK_THROWS_WITH_AS(pool.wait(), "read failed", std::runtime_error);
    CHECK(pool.failed());
    pool.wait();  // thrown once
  }
}
