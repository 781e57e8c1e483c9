#include "backends/cuda/device_query.h"

#include <cublas_api.h>
#include <cuda_runtime_api.h>
#include <fmt/format.h>

#include <cstdlib>
#include <fstream>
#include <iterator>

#if CNNB_HAVE_CUDNN
#include <cudnn.h>
#endif
#if CNNB_HAVE_NCCL
#include <nccl.h>
#endif

#include "core/device.h"

namespace cnnb {

namespace {

static_assert(cuda::err::success == cudaSuccess);
static_assert(cuda::err::stub_library == cudaErrorStubLibrary);
static_assert(cuda::err::insufficient_driver == cudaErrorInsufficientDriver);
static_assert(cuda::err::devices_unavailable == cudaErrorDevicesUnavailable);
static_assert(cuda::err::no_device == cudaErrorNoDevice);
static_assert(cuda::err::system_not_ready == cudaErrorSystemNotReady);
static_assert(cuda::err::system_driver_mismatch == cudaErrorSystemDriverMismatch);
static_assert(cuda::err::compat_not_supported == cudaErrorCompatNotSupportedOnDevice);

// Without a driver cudaGetDeviceCount returns cudaErrorInsufficientDriver and leaves the count
// untouched; without a GPU it returns cudaErrorNoDevice. Either way: zero GPUs, error cleared.
int count_devices(cudaError_t* why) {
  int n = 0;
  const cudaError_t err = cudaGetDeviceCount(&n);
  if (why) *why = err;
  if (err != cudaSuccess) {
    (void)cudaGetLastError();
    return 0;
  }
  return n;
}

std::string driver_release() {
  std::ifstream in("/proc/driver/nvidia/version");
  if (!in) return "";
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return cuda::driver_release_from_proc(text);
}

// cublasGetVersion needs a handle, which needs a GPU; the property API does not.
long long cublas_loaded() {
  int major = 0, minor = 0, patch = 0;
  if (cublasGetProperty(MAJOR_VERSION, &major) != CUBLAS_STATUS_SUCCESS ||
      cublasGetProperty(MINOR_VERSION, &minor) != CUBLAS_STATUS_SUCCESS ||
      cublasGetProperty(PATCH_LEVEL, &patch) != CUBLAS_STATUS_SUCCESS)
    return 0;
  return major * 10000LL + minor * 100LL + patch;
}

void query_libraries(cuda::CudaEnv& env) {
  env.runtime_built = CUDART_VERSION;
  if (cudaRuntimeGetVersion(&env.runtime_version) != cudaSuccess) env.runtime_version = 0;
  if (cudaDriverGetVersion(&env.driver_version) != cudaSuccess) env.driver_version = 0;
  (void)cudaGetLastError();
  env.driver_release = driver_release();
  env.cublas = {CUBLAS_VERSION, cublas_loaded()};
#if CNNB_HAVE_CUDNN
  env.cudnn = {CUDNN_VERSION, static_cast<long long>(cudnnGetVersion())};
#endif
#if CNNB_HAVE_NCCL
  int nccl = 0;
  env.nccl = {NCCL_VERSION_CODE, ncclGetVersion(&nccl) == ncclSuccess ? nccl : 0};
#endif
  if (const char* v = std::getenv("CUDA_VISIBLE_DEVICES")) env.visible_devices = v;
}

cuda::GpuInfo gpu_info(int ordinal, const cudaDeviceProp& p) {
  cuda::GpuInfo g;
  g.ordinal = ordinal;
  g.name = p.name;
  g.cc_major = p.major;
  g.cc_minor = p.minor;
  g.total_memory = p.totalGlobalMem;
  g.sm_count = p.multiProcessorCount;
  g.l2_cache = size_t(p.l2CacheSize);
  g.pci_bus_id = fmt::format("{:04x}:{:02x}:{:02x}.0", p.pciDomainID, p.pciBusID, p.pciDeviceID);
  return g;
}

}  // namespace

namespace cuda {

int device_count() { return count_devices(nullptr); }

CudaEnv query_environment() {
  CudaEnv env;
  env.built_with_cuda = true;
  env.queried = true;
  query_libraries(env);

  cudaError_t why = cudaSuccess;
  const int n = count_devices(&why);
  env.error_code = int(why);
  if (why != cudaSuccess) {
    env.error_name = cudaGetErrorName(why);
    env.error_text = cudaGetErrorString(why);
  }
  std::string failed;
  for (int i = 0; i < n; ++i) {
    cudaDeviceProp p{};
    const cudaError_t err = cudaGetDeviceProperties(&p, i);
    if (err == cudaSuccess) {
      env.gpus.push_back(gpu_info(i, p));
      continue;
    }
    (void)cudaGetLastError();
    failed += fmt::format("{}gpu:{}: cudaGetDeviceProperties failed: {}", failed.empty() ? "" : "; ", i,
                          cudaGetErrorName(err));
  }
  env.error = failed.empty() ? no_gpu_reason(env) : failed;
  return env;
}

}  // namespace cuda

}  // namespace cnnb
