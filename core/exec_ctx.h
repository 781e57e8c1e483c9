#pragma once
// C++17: included by .cu files too.
#include <cstddef>
#include <cstdint>
#include <string>

namespace cnnb {

enum class DeviceKind { cpu, cuda };

inline const char* device_kind_name(DeviceKind k) { return k == DeviceKind::cpu ? "cpu" : "cuda"; }

struct CudaCtx;  // stream, cuBLAS and cuDNN handles, workspace: backends/cuda/cuda_ctx.h
class HostWorkspace;  // a CPU replica's scratch memory: core/host_workspace.h

// Everything a kernel may need besides its arguments. One per replica; never shared between threads.
struct ExecCtx {
  DeviceKind kind = DeviceKind::cpu;
  int device = 0;       // CUDA ordinal, or CPU slot index
  int threads = 1;      // CPU threads this replica may use (OpenMP / BLAS)
  CudaCtx* cuda = nullptr;  // non-owning; set on CUDA replicas
  HostWorkspace* host_workspace = nullptr;  // non-owning; set on CPU replicas (none: each op call owns its scratch)
};

}  // namespace cnnb
