#pragma once
// Waiting for asynchronous communicator work with a bound: how the nccl communicator waits for its
// set-up, non-blocking group calls, collectives and finalize, so that a peer that never arrives ends
// the run with a message (--comm-timeout) instead of a hang. Host code over a query callable, so the
// loop that runs in production is tested without a GPU.
#include <chrono>
#include <functional>
#include <string>
#include <string_view>

namespace cnnb {

// What one look at the work found.
struct PollState {
  enum Kind { done, pending, failed };
  Kind kind = pending;
  std::string error;  // failed: what went wrong
};

class Deadline {
 public:
  using Clock = std::chrono::steady_clock;
  explicit Deadline(double seconds)
      : seconds_(seconds),
        at_(Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds))) {}
  bool passed() const { return Clock::now() > at_; }
  double seconds() const { return seconds_; }

 private:
  double seconds_;
  Clock::time_point at_;
};

// Asks `query` until it answers done, pausing between pending answers. A failed answer, an exception
// from `query`, or the deadline passing first calls `on_failure` (which aborts what is in flight) and
// throws: Error naming `what` and the failure, or the query's own exception.
void poll_until_done(const std::function<PollState()>& query, const Deadline& deadline, std::string_view what,
                     const std::function<void()>& on_failure,
                     std::chrono::microseconds pause = std::chrono::microseconds(20));

}  // namespace cnnb
