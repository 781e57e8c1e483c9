#pragma once
// What CUDA offers this process, for every run record, `cnnbench list` and reports: the versions
// cnnbench was built against and the ones it loaded, the GPUs, and why none is usable. The data, its
// JSON and its text are compiled in every build so that the CPU suite tests them; with CUDA,
// backends/cuda/device_query.cpp asks the runtime, and a CPU-only build says that it is one.
// Host-only, C++17, and nothing here throws.
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "backends/cuda_versions.h"

namespace cnnb::cuda {

// The cudaError_t values whose reasons differ (driver_types.h; device_query.cpp checks them against it).
namespace err {
inline constexpr int success = 0;
inline constexpr int stub_library = 34;
inline constexpr int insufficient_driver = 35;
inline constexpr int devices_unavailable = 46;
inline constexpr int no_device = 100;
inline constexpr int system_not_ready = 802;
inline constexpr int system_driver_mismatch = 803;
inline constexpr int compat_not_supported = 804;
}  // namespace err

struct GpuInfo {
  int ordinal = 0;
  std::string name;
  int cc_major = 0, cc_minor = 0;  // compute capability: 8.0 = A100, 9.0 = H100
  size_t total_memory = 0;         // bytes
  int sm_count = 0;
  size_t l2_cache = 0;             // bytes; what a benchmark must overwrite to flush L2
  std::string pci_bus_id;          // "0000:3b:00.0": tells identical GPUs apart in records
};

// A library's version code from its header (built) and from the binary loaded at run time; 0 when
// unknown or not in this build. Decoded by the library's own function in cuda_versions.h.
struct LibraryVersion {
  long long built = 0, loaded = 0;
};

struct CudaEnv {
  bool built_with_cuda = false;
  bool queried = false;        // this process asked CUDA (loading the GPU module to do so, whether or not that
                               // worked); false in a CPU-only build and in a process that ran no GPU code
  int driver_version = 0;      // newest CUDA the driver supports (13000 = 13.0); 0 without a driver
  std::string driver_release;  // the driver's own version, "580.65.06"; "" where /proc does not say
  int runtime_version = 0;     // cudart loaded at run time
  int runtime_built = 0;       // CUDART_VERSION cnnbench was compiled against
  LibraryVersion cublas, cudnn, nccl;
  std::optional<std::string> visible_devices;  // CUDA_VISIBLE_DEVICES, which can hide every GPU
  std::vector<GpuInfo> gpus;
  int error_code = err::success;  // what cudaGetDeviceCount returned
  std::string error_name;         // "cudaErrorInsufficientDriver"; "" on success
  std::string error_text;         // cudaGetErrorString's text
  std::string error;              // why no GPU is usable ("" when one is): no_gpu_reason() and failed queries
};

// Why no GPU is usable, in words a user can act on, from the state alone; "" when a GPU is listed.
// cudaErrorInsufficientDriver means "no driver" when cudaDriverGetVersion reports none, and "the driver
// is older than the runtime" when it reports a version.
std::string no_gpu_reason(const CudaEnv& env);

// Asks the CUDA runtime (or, in a CPU-only build, says it is one).
CudaEnv cuda_environment();

// "CUDA: N GPU(s)" and the lines of environment_lines, indented: for logs.
std::string summary(const CudaEnv& env);

// The facts as readable lines: each GPU (or why there is none), the driver, the CUDA runtime, cuBLAS,
// cuDNN and NCCL (loaded and built against). From a record's environment.cuda, so that reports read
// records of any age: null (a CPU-only build) and the older {driver_version, runtime_version, gpus,
// error} form are understood.
std::vector<std::string> environment_lines(const nlohmann::json& cuda);

// A record's environment.cuda field `key` when it is a boolean; `otherwise` when the field is absent (an
// older record), not a boolean, or `cuda` is no object.
bool cuda_flag(const nlohmann::json& cuda, const char* key, bool otherwise);

void to_json(nlohmann::json& j, const GpuInfo& g);
void to_json(nlohmann::json& j, const CudaEnv& e);

}  // namespace cnnb::cuda

namespace cnnb {

// cuda_environment() as the run record's environment.cuda object.
nlohmann::json cuda_environment_json();

}  // namespace cnnb
