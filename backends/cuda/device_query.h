#pragma once
// What CUDA sees on this machine, for `cnnbench list`, device selection and every run record.
// Host-only and safe without a driver or a GPU: nothing here throws.
#include <cstddef>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace cnnb::cuda {

struct GpuInfo {
  int ordinal = 0;
  std::string name;
  int cc_major = 0, cc_minor = 0;  // compute capability: 8.0 = A100, 9.0 = H100
  size_t total_memory = 0;         // bytes
  int sm_count = 0;
  size_t l2_cache = 0;             // bytes; what a benchmark must overwrite to flush L2
  std::string pci_bus_id;          // "0000:3b:00.0": tells identical GPUs apart in records
};

struct CudaEnv {
  int driver_version = 0;   // CUDA version the driver supports (13000 = 13.0); 0 without a driver
  int runtime_version = 0;  // cudart linked into cnnbench
  std::vector<GpuInfo> gpus;
  std::string error;  // why no GPU is usable ("" when at least one is), e.g. cudaErrorInsufficientDriver
};

CudaEnv cuda_environment();

// "13.0" from 13000.
std::string cuda_version_string(int version);

// One line per GPU plus a versions line, for logs and `cnnbench list`.
std::string summary(const CudaEnv& env);

void to_json(nlohmann::json& j, const GpuInfo& g);
void to_json(nlohmann::json& j, const CudaEnv& e);

}  // namespace cnnb::cuda

namespace cnnb {

// cuda_environment() as the run record's "cuda" object: versions, GPUs, and why none is usable.
nlohmann::json cuda_environment_json();

}  // namespace cnnb
