// The worker threads of one command: the walk's decodes beside it (scan/local_scanner.cc) and
// verify's runs of directory entries (check/verifier.cc). docs/design.md, "The worker pool".
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace zm::io {

// Bytes of entry data a command lets its workers have queued or being decoded at once (the
// default of ScanOptions::max_in_flight and VerifyOptions::max_in_flight). From a pipe those
// bytes sit in the stream's ring, whose default window is the same 16 MiB; from a file the
// workers read them themselves, and the bound keeps the walk or the directory's batch from
// running far ahead of the decoding.
inline constexpr std::uint64_t kEntryBytesInFlight = 16u << 20;

class WorkerPool {
 public:
  // A plain function and the job it works on, so that handing a task over allocates nothing.
  // `worker` (below slots()) says whose per-thread state the task may use.
  struct Task {
    void (*run)(void* job, unsigned worker) = nullptr;
    void* job = nullptr;
    std::uint64_t bytes = 0;  // entry data the task holds until it ends, counted against the bound
  };

  // Up to `threads` workers, started as tasks wait for them (an archive of a few entries starts
  // few). With threads <= 1 there are none: submit() runs each task at once on the caller's
  // thread, as worker 0.
  WorkerPool(unsigned threads, std::uint64_t max_in_flight);
  // Joins the workers; an error a task threw is dropped then (the owner is unwinding already).
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // How many per-worker states a caller keeps: one per worker, or one for the inline case.
  unsigned slots() const { return threads_ ? threads_ : 1; }
  // Queues a task. It first waits while the bytes in flight have reached the bound and a task is
  // still queued, so that an entry larger than the bound still goes, behind those being decoded.
  void submit(const Task& task);
  // Waits until every task submitted so far has ended, then throws (on the owner's thread) the
  // first exception a task threw. The workers stay for more tasks.
  void wait();
  // wait(), then joins the workers.
  void close();
  // True once a task has thrown: tasks still to run may skip their work, the command ends with
  // that error anyway.
  bool failed() const { return failed_.load(std::memory_order_relaxed); }

 private:
  void work(unsigned worker);
  void rethrow_first_error();

  const unsigned threads_;
  const std::uint64_t max_in_flight_;
  // Only the owner (the thread that submits) starts and joins workers.
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable ready_, room_;
  std::deque<Task> queue_;
  std::uint64_t in_flight_ = 0;  // bytes of the tasks queued or running
  std::size_t outstanding_ = 0;  // tasks queued or running
  bool closing_ = false;
  std::exception_ptr error_;
  std::atomic<bool> failed_{false};
};

}  // namespace zm::io
