#pragma once
// The devices of one process's replicas, from --devices: CPU slots or CUDA GPUs.
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/exec_ctx.h"

namespace cnnb {

struct DeviceList {
  DeviceKind kind = DeviceKind::cpu;
  std::vector<int> ids;  // CPU slot indices 0..R-1, or CUDA ordinals (repeated: several replicas share that GPU); one replica each
  int count() const { return int(ids.size()); }
  int distinct() const;      // different devices among them: distinct GPUs, or count() for CPU slots
  std::string str() const;   // "cpu:2", "gpu:0,1", "gpu:0,0"
};

// At most this many CPU slots: more is a typo, not a benchmark.
inline constexpr int kMaxCpuSlots = 256;
// At most this many replicas on one GPU (gpu:0,0,...): enough to test every strategy on a one-GPU machine.
inline constexpr int kMaxReplicasPerGpu = 8;

// Parses and checks a --devices value:
//   cpu:R        R replicas sharing this host's cores (R may exceed the cores: each then gets one thread)
//   gpu:0,1,...  these CUDA ordinals, one replica each; an ordinal listed k times puts k replicas on that GPU
//                (gpu:0,0 tests the strategies on a one-GPU machine; NCCL cannot connect two replicas of one GPU)
//   gpu:all      every visible GPU
//   gpu:local    the one GPU whose ordinal is this process's rank on its host (one rank per GPU under mpirun)
//   ""           one device of the backend's kind (cpu:1 or gpu:0)
// Throws InputError for bad syntax, more than kMaxReplicasPerGpu replicas on one GPU, a device kind the backend
// cannot drive, no CUDA device, or more GPUs than are visible.
DeviceList parse_devices(std::string_view spec, DeviceKind backend_kind, int local_rank = 0);

// The same, with the number of visible GPUs asked of `visible_gpus` (called only for gpu specs), so that
// GPU specs can be tested on a machine without one.
DeviceList parse_devices(std::string_view spec, DeviceKind backend_kind, int local_rank,
                         const std::function<int()>& visible_gpus);

}  // namespace cnnb
