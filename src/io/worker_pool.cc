#include "io/worker_pool.h"

#include "io/cleanup.h"

#include <utility>

namespace zm::io {

WorkerPool::WorkerPool(unsigned threads, std::uint64_t max_in_flight)
    : threads_(threads > 1 ? threads : 0), max_in_flight_(max_in_flight) {
  workers_.reserve(threads_);
}

WorkerPool::~WorkerPool() {
  try {
    close();
  } catch (...) {  // already unwinding from the owner's own error, or it waited and took it
  }
}

void WorkerPool::submit(const Task& task) {
  if (!threads_) {
    try {
      task.run(task.job, 0);
    } catch (...) {
      if (!error_) error_ = std::current_exception();
      failed_ = true;
    }
    return;
  }
  std::unique_lock lock(mu_);
  room_.wait(lock, [&] { return in_flight_ < max_in_flight_ || queue_.empty(); });
  in_flight_ += task.bytes;
  ++outstanding_;
  queue_.push_back(task);
  // A new worker only when the tasks outnumber those there are: few entries, few threads.
  const bool start = workers_.size() < threads_ && workers_.size() < outstanding_;
  lock.unlock();
  if (start) {
    const auto worker = unsigned(workers_.size());
    workers_.emplace_back([this, worker] {
      cleanup::block_in_this_thread();  // the signals that clean up are the owner's (io/cleanup.h)
      work(worker);
    });
  }
  ready_.notify_one();
}

void WorkerPool::wait() {
  if (threads_) {
    std::unique_lock lock(mu_);
    room_.wait(lock, [&] { return outstanding_ == 0; });
  }
  rethrow_first_error();
}

void WorkerPool::close() {
  {
    std::lock_guard lock(mu_);
    closing_ = true;
  }
  ready_.notify_all();
  for (auto& t : workers_) t.join();  // each runs what is queued before it ends
  workers_.clear();
  rethrow_first_error();
}

void WorkerPool::rethrow_first_error() {
  // Every task has ended here, so no worker writes error_ any more.
  if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
}

void WorkerPool::work(unsigned worker) {
  for (;;) {
    Task task;
    {
      std::unique_lock lock(mu_);
      ready_.wait(lock, [&] { return closing_ || !queue_.empty(); });
      if (queue_.empty()) return;
      task = queue_.front();
      queue_.pop_front();
    }
    std::exception_ptr error;
    try {
      task.run(task.job, worker);
    } catch (...) {
      error = std::current_exception();
      failed_ = true;
    }
    std::lock_guard lock(mu_);
    if (error && !error_) error_ = std::move(error);
    in_flight_ -= task.bytes;
    --outstanding_;
    room_.notify_all();
  }
}

}  // namespace zm::io
