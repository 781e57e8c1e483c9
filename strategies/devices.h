#pragma once
// The devices of one process's replicas, from --devices: CPU slots or CUDA GPUs.
#include <string>
#include <string_view>
#include <vector>

#include "core/exec_ctx.h"

namespace cnnb {

struct DeviceList {
  DeviceKind kind = DeviceKind::cpu;
  std::vector<int> ids;  // CPU slot indices 0..R-1, or CUDA ordinals; one replica each
  int count() const { return int(ids.size()); }
  std::string str() const;  // "cpu:2", "gpu:0,1"
};

// At most this many CPU slots: more is a typo, not a benchmark.
inline constexpr int kMaxCpuSlots = 256;

// Parses and checks a --devices value:
//   cpu:R        R replicas sharing this host's cores (R may exceed the cores: each then gets one thread)
//   gpu:0,1,...  these CUDA ordinals, one replica each
//   gpu:all      every visible GPU
//   gpu:local    the one GPU whose ordinal is this process's rank on its host (one rank per GPU under mpirun)
//   ""           one device of the backend's kind (cpu:1 or gpu:0)
// Throws InputError for bad syntax, duplicates, a device kind the backend cannot drive, no CUDA device,
// or more GPUs than are visible.
DeviceList parse_devices(std::string_view spec, DeviceKind backend_kind, int local_rank = 0);

}  // namespace cnnb
