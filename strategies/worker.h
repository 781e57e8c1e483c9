#pragma once
// One persistent host thread that runs jobs handed to it, one at a time: the thread that drives a
// replica for the whole run (a CUDA device stays current on it; OpenMP keeps its team for it).
#include <condition_variable>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <thread>

namespace cnnb {

class Worker {
 public:
  Worker();
  ~Worker();  // finishes the running job, then joins
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Starts `job` on the worker's thread; the previous job must have been waited for.
  void submit(std::function<void()> job);
  // Blocks until the job has finished; rethrows what it threw.
  void wait();

 private:
  void loop();

  std::mutex m_;
  std::condition_variable cv_;
  std::function<void()> job_;
  bool pending_ = false, stop_ = false;
  std::exception_ptr error_;
  std::thread thread_;  // last: starts after the members it uses exist
};

// Runs fn(i) on workers[i] for every i at once; with `caller_runs_first`, fn(0) runs on the calling
// thread instead and workers[0] stays idle. Waits for all even when one throws, then rethrows the
// exception of the lowest index.
void run_each(std::span<const std::unique_ptr<Worker>> workers, const std::function<void(int)>& fn,
              bool caller_runs_first = false);

}  // namespace cnnb
