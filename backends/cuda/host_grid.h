#pragma once
// The host twin of launch.cuh's DeviceGrid: runs an element functor for every index in order, on the
// calling thread. With it the CPU suite runs the cuda/naive launchers (naive_launchers.h) and the
// cuda-gemm flows as they are, only without a GPU. C++17.
#include <cstdint>
#include <vector>

namespace cnnb::cuda {

struct HostGrid {
  const char* kernel;  // op/family/variant, for messages
  template <class F>
  void operator()(int64_t n, const F& f) const {
    for (int64_t i = 0; i < n; ++i) f(i);
  }
};

// A block functor B (B::kLanes threads, B::kPhases phases with a block barrier after each, called as
// b(block, lane, phase, shared)) over `blocks` blocks: every lane finishes a phase before any starts
// the next, as the barriers guarantee on the GPU.
template <class B>
void run_blocks_on_host(int blocks, const B& b) {
  std::vector<float> shared(B::kLanes);
  for (int block = 0; block < blocks; ++block)
    for (int phase = 0; phase < B::kPhases; ++phase)
      for (int lane = 0; lane < B::kLanes; ++lane) b(block, lane, phase, shared.data());
}

}  // namespace cnnb::cuda
