#include "strategies/worker.h"

#include <utility>
#include <vector>

namespace cnnb {

Worker::Worker() : thread_([this] { loop(); }) {}

Worker::~Worker() {
  {
    std::lock_guard lock(m_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void Worker::submit(std::function<void()> job) {
  {
    std::lock_guard lock(m_);
    job_ = std::move(job);
    pending_ = true;
    error_ = nullptr;
  }
  cv_.notify_all();
}

void Worker::wait() {
  std::unique_lock lock(m_);
  cv_.wait(lock, [this] { return !pending_; });
  if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
}

void Worker::loop() {
  std::unique_lock lock(m_);
  for (;;) {
    cv_.wait(lock, [this] { return pending_ || stop_; });
    if (!pending_) return;  // stop with nothing left to run
    std::function<void()> job = std::move(job_);
    lock.unlock();
    std::exception_ptr error;
    try {
      job();
    } catch (...) {
      error = std::current_exception();
    }
    lock.lock();
    error_ = error;
    pending_ = false;
    cv_.notify_all();
  }
}

void run_each(std::span<const std::unique_ptr<Worker>> workers, const std::function<void(int)>& fn,
              bool caller_runs_first) {
  const int n = int(workers.size());
  const int first_worker = caller_runs_first ? 1 : 0;
  for (int i = first_worker; i < n; ++i) workers[size_t(i)]->submit([&fn, i] { fn(i); });
  // Waited for in index order, so the first error kept is the lowest index's (and no per-step vector).
  std::exception_ptr first_error;
  if (caller_runs_first && n > 0) {
    try {
      fn(0);
    } catch (...) {
      first_error = std::current_exception();
    }
  }
  for (int i = first_worker; i < n; ++i) {
    try {
      workers[size_t(i)]->wait();
    } catch (...) {
      if (!first_error) first_error = std::current_exception();
    }
  }
  if (first_error) std::rethrow_exception(first_error);
}

}  // namespace cnnb
