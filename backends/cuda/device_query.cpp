#include "backends/cuda/device_query.h"

#include <cuda_runtime_api.h>
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "core/device.h"

namespace cnnb {

namespace {

// Without a driver cudaGetDeviceCount returns cudaErrorInsufficientDriver and leaves the count
// untouched; without a GPU it returns cudaErrorNoDevice. Either way: zero GPUs, error cleared.
int device_count(cudaError_t* why) {
  int n = 0;
  const cudaError_t err = cudaGetDeviceCount(&n);
  if (why) *why = err;
  if (err != cudaSuccess) {
    (void)cudaGetLastError();
    return 0;
  }
  return n;
}

}  // namespace

int cuda_device_count() { return device_count(nullptr); }

namespace cuda {

CudaEnv cuda_environment() {
  CudaEnv env;
  if (cudaDriverGetVersion(&env.driver_version) != cudaSuccess) env.driver_version = 0;
  if (cudaRuntimeGetVersion(&env.runtime_version) != cudaSuccess) env.runtime_version = 0;
  (void)cudaGetLastError();

  cudaError_t why = cudaSuccess;
  const int n = device_count(&why);
  if (why != cudaSuccess)
    env.error = fmt::format("{} ({})", cudaGetErrorName(why), cudaGetErrorString(why));
  else if (n == 0)
    env.error = "the CUDA runtime reports 0 devices";

  for (int i = 0; i < n; ++i) {
    cudaDeviceProp p{};
    const cudaError_t err = cudaGetDeviceProperties(&p, i);
    if (err != cudaSuccess) {
      (void)cudaGetLastError();
      env.error += fmt::format("{}gpu:{}: cudaGetDeviceProperties failed: {}", env.error.empty() ? "" : "; ", i,
                               cudaGetErrorName(err));
      continue;
    }
    GpuInfo g;
    g.ordinal = i;
    g.name = p.name;
    g.cc_major = p.major;
    g.cc_minor = p.minor;
    g.total_memory = p.totalGlobalMem;
    g.sm_count = p.multiProcessorCount;
    g.l2_cache = size_t(p.l2CacheSize);
    g.pci_bus_id = fmt::format("{:04x}:{:02x}:{:02x}.0", p.pciDomainID, p.pciBusID, p.pciDeviceID);
    env.gpus.push_back(std::move(g));
  }
  return env;
}

std::string cuda_version_string(int version) {
  if (version <= 0) return "none";
  return fmt::format("{}.{}", version / 1000, version % 1000 / 10);
}

std::string summary(const CudaEnv& env) {
  std::string s = fmt::format("CUDA driver {}, runtime {}, {} GPU(s)", cuda_version_string(env.driver_version),
                              cuda_version_string(env.runtime_version), env.gpus.size());
  if (!env.error.empty()) s += fmt::format(" ({})", env.error);
  for (const auto& g : env.gpus)
    s += fmt::format("\n  gpu:{} {} sm_{}{} {:.1f} GiB {} SMs [{}]", g.ordinal, g.name, g.cc_major, g.cc_minor,
                     double(g.total_memory) / (1024.0 * 1024.0 * 1024.0), g.sm_count, g.pci_bus_id);
  return s;
}

void to_json(nlohmann::json& j, const GpuInfo& g) {
  j = {{"ordinal", g.ordinal},
       {"name", g.name},
       {"compute_capability", fmt::format("{}.{}", g.cc_major, g.cc_minor)},
       {"memory_bytes", g.total_memory},
       {"sm_count", g.sm_count},
       {"l2_cache_bytes", g.l2_cache},
       {"pci_bus_id", g.pci_bus_id}};
}

void to_json(nlohmann::json& j, const CudaEnv& e) {
  j = {{"driver_version", cuda_version_string(e.driver_version)},
       {"runtime_version", cuda_version_string(e.runtime_version)},
       {"gpus", e.gpus}};
  if (!e.error.empty()) j["error"] = e.error;
}

}  // namespace cuda

nlohmann::json cuda_environment_json() { return cuda::cuda_environment(); }

}  // namespace cnnb
