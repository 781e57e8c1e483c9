#pragma once
// What the harness makes of the strategies' per-step phase times. Every images/s the program prints or
// records (progress, epoch rows, the run record) comes from images_per_second, and every multi-process
// step time from take_slowest_rank.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "strategies/step_times.h"

namespace cnnb {

class ProcessGroup;

// Images per second of `steps` steps of `batch` images that took `seconds`; 0 when nothing was timed.
inline double images_per_second(std::int64_t steps, std::int64_t batch, double seconds) {
  return seconds > 0 ? double(steps) * double(batch) / seconds : 0.0;
}

// Seconds of steps [first, end): the sum of their phases.
double step_seconds(const std::vector<StepTimes>& steps, std::size_t first = 0);

// Under MPI each step is as slow as the slowest rank: rank 0 replaces its times of steps [first, end)
// with those of the rank whose step took longest. Collective: every rank calls it.
void take_slowest_rank(ProcessGroup& pg, std::vector<StepTimes>& steps, std::size_t first);

}  // namespace cnnb
