#include "core/step_clock.h"

#include <chrono>
#include <vector>

#include "core/error.h"

namespace cnnb {

namespace {

class HostStepClock final : public StepClock {
 public:
  explicit HostStepClock(int marks) : at_(size_t(marks)) {}
  void mark(int i) override { at_[index(i)] = Clock::now(); }
  double seconds(int a, int b) const override {
    return std::chrono::duration<double>(at_[index(b)] - at_[index(a)]).count();
  }
  int marks() const override { return int(at_.size()); }

 private:
  using Clock = std::chrono::steady_clock;
  size_t index(int i) const {
    CNNB_ASSERT(i >= 0 && size_t(i) < at_.size());
    return size_t(i);
  }
  std::vector<Clock::time_point> at_;
};

}  // namespace

std::unique_ptr<StepClock> make_host_step_clock(int marks) {
  CNNB_CHECK(marks >= 2, "a step clock needs at least 2 marks, got {}", marks);
  return std::make_unique<HostStepClock>(marks);
}

}  // namespace cnnb
