// What a run record, a report and `cnnbench list` say about CUDA: the version decoders against hand
// values and the libraries' own header macros, the reason no GPU is usable for every state the runtime
// can be in, the record's JSON, and its readable lines. All of it runs without a GPU.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "backends/cuda_environment.h"

#if CNNB_HAVE_CUDA
#include <cublas_api.h>
#include <cuda_runtime_api.h>
#endif
#if CNNB_HAVE_CUDNN
#include <cudnn_version.h>
#endif
#if CNNB_HAVE_NCCL
#include <nccl.h>
#endif

namespace cnnb::cuda {
namespace {

using Lines = std::vector<std::string>;

TEST(CudaVersions, CudaRuntimeAndDriver) {
  EXPECT_EQ(cuda_version_string(13000), "13.0");
  EXPECT_EQ(cuda_version_string(12040), "12.4");
  EXPECT_EQ(cuda_version_string(9020), "9.2");
  EXPECT_EQ(cuda_version_string(0), "none");
}

TEST(CudaVersions, CudnnBeforeAndFromVersion9) {
  EXPECT_EQ(cudnn_version_string(91900), "9.19.0");
  EXPECT_EQ(cudnn_version_string(90100), "9.1.0");
  EXPECT_EQ(cudnn_version_string(91002), "9.10.2");
  EXPECT_EQ(cudnn_version_string(8907), "8.9.7");
  EXPECT_EQ(cudnn_version_string(8100), "8.1.0");
  EXPECT_EQ(cudnn_version_string(0), "");
}

TEST(CudaVersions, NcclBeforeAndFrom2_9) {
  EXPECT_EQ(nccl_version_string(22809), "2.28.9");
  EXPECT_EQ(nccl_version_string(22805), "2.28.5");
  EXPECT_EQ(nccl_version_string(21003), "2.10.3");
  EXPECT_EQ(nccl_version_string(20900), "2.9.0");
  EXPECT_EQ(nccl_version_string(2708), "2.7.8");
  EXPECT_EQ(nccl_version_string(0), "");
}

TEST(CudaVersions, Cublas) {
  EXPECT_EQ(cublas_version_string(130100), "13.1.0");
  EXPECT_EQ(cublas_version_string(120402), "12.4.2");
  EXPECT_EQ(cublas_version_string(0), "");
}

// The decoders agree with the parts each header defines separately (only a CUDA build has the headers).
#if CNNB_HAVE_CUDA
TEST(CudaVersions, AgreeWithTheHeadersOfThisBuild) {
  EXPECT_EQ(cuda_version_string(CUDART_VERSION), fmt::format("{}.{}", CUDART_VERSION / 1000, CUDART_VERSION % 100 / 10));
  EXPECT_EQ(cublas_version_string(CUBLAS_VERSION),
            fmt::format("{}.{}.{}", CUBLAS_VER_MAJOR, CUBLAS_VER_MINOR, CUBLAS_VER_PATCH));
#if CNNB_HAVE_CUDNN
  EXPECT_EQ(cudnn_version_string(CUDNN_VERSION), fmt::format("{}.{}.{}", CUDNN_MAJOR, CUDNN_MINOR, CUDNN_PATCHLEVEL));
#endif
#if CNNB_HAVE_NCCL
  EXPECT_EQ(nccl_version_string(NCCL_VERSION_CODE), fmt::format("{}.{}.{}", NCCL_MAJOR, NCCL_MINOR, NCCL_PATCH));
  EXPECT_EQ(nccl_version_string(NCCL_VERSION(2, 7, 8)), "2.7.8");
#endif
}
#endif

TEST(CudaVersions, DriverReleaseFromProc) {
  EXPECT_EQ(driver_release_from_proc("NVRM version: NVIDIA UNIX x86_64 Kernel Module  535.104.05  Sat Aug 19 01:15:15 UTC "
                                     "2023\nGCC version:  gcc version 12.2.0 (Debian 12.2.0-14)\n"),
            "535.104.05");
  EXPECT_EQ(driver_release_from_proc("NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  580.65.06  Release Build  "
                                     "(dvs-builder@U22)  Sun Jul 27 07:09:43 UTC 2025\nGCC version: 13.3.0\n"),
            "580.65.06");
  EXPECT_EQ(driver_release_from_proc("NVRM version: NVIDIA UNIX aarch64 Kernel Module  550.54.15  Tue Mar  5 22:15:33 UTC 2024"),
            "550.54.15");
  EXPECT_EQ(driver_release_from_proc("GCC version: gcc version 12.2.0\n"), "");
  EXPECT_EQ(driver_release_from_proc("NVRM version: unknown\nGCC version: 12.2.0\n"), "") << "the GCC line is not the driver";
  EXPECT_EQ(driver_release_from_proc(""), "");
}

CudaEnv built_env(int error_code, int driver, int runtime = 13000) {
  CudaEnv e;
  e.built_with_cuda = true;
  e.queried = true;
  e.error_code = error_code;
  e.driver_version = driver;
  e.runtime_version = runtime;
  e.runtime_built = 13000;
  return e;
}

TEST(CudaNoGpuReason, EveryStateSaysWhy) {
  CudaEnv cpu_only;
  EXPECT_EQ(no_gpu_reason(cpu_only), "this cnnbench was built without CUDA (configure with the `cuda` preset)");
  EXPECT_EQ(no_gpu_reason(built_env(35, 0)),
            "no NVIDIA driver is installed (cudaErrorInsufficientDriver, and cudaDriverGetVersion reports none)");
  EXPECT_EQ(no_gpu_reason(built_env(35, 12040)),
            "the driver is older than the CUDA runtime: it supports CUDA 12.4, cnnbench's runtime is CUDA 13.0 "
            "(cudaErrorInsufficientDriver); install a driver for CUDA 13.0 or newer");
  EXPECT_EQ(no_gpu_reason(built_env(35, 13000)), "the driver (CUDA 13.0) refuses the CUDA runtime 13.0 (cudaErrorInsufficientDriver)");
  EXPECT_EQ(no_gpu_reason(built_env(34, 0)),
            "the libcuda.so loaded is the CUDA toolkit's stub, not a driver (cudaErrorStubLibrary): install the NVIDIA "
            "driver, or take the toolkit's stubs directory out of LD_LIBRARY_PATH");
  EXPECT_EQ(no_gpu_reason(built_env(100, 13000)), "the driver found no CUDA GPU (cudaErrorNoDevice)");
  CudaEnv hidden = built_env(100, 13000);
  hidden.visible_devices = "";
  EXPECT_EQ(no_gpu_reason(hidden), "the driver found no CUDA GPU (cudaErrorNoDevice); CUDA_VISIBLE_DEVICES= may hide them");
  EXPECT_EQ(no_gpu_reason(built_env(803, 13000)),
            "the NVIDIA kernel module and the user-space driver library have different versions "
            "(cudaErrorSystemDriverMismatch): reboot after a driver update, or reinstall the driver");
  EXPECT_EQ(no_gpu_reason(built_env(802, 13000)),
            "the system is not ready for CUDA work (cudaErrorSystemNotReady): a daemon the driver needs, such as "
            "nvidia-fabricmanager, is not running");
  EXPECT_EQ(no_gpu_reason(built_env(46, 13000)),
            "every GPU is busy or in a compute mode that refuses this process (cudaErrorDevicesUnavailable; see "
            "nvidia-smi's compute mode)");
  EXPECT_EQ(no_gpu_reason(built_env(804, 13000)),
            "the CUDA forward-compatibility libraries in use do not support this GPU (cudaErrorCompatNotSupportedOnDevice)");
  EXPECT_EQ(no_gpu_reason(built_env(0, 13000)), "the CUDA runtime reports 0 devices");
  CudaEnv other = built_env(999, 13000);
  other.error_name = "cudaErrorUnknown";
  other.error_text = "unknown error";
  EXPECT_EQ(no_gpu_reason(other), "cudaErrorUnknown (unknown error)");
  other.error_name.clear();
  EXPECT_EQ(no_gpu_reason(other), "cudaGetDeviceCount failed with error 999");
  CudaEnv with_gpu = built_env(0, 13000);
  with_gpu.gpus.push_back({});
  EXPECT_EQ(no_gpu_reason(with_gpu), "");
}

// Two A100s on CUDA 13 with every library, as a record holds them.
CudaEnv two_a100() {
  CudaEnv e = built_env(0, 13000);
  e.driver_release = "580.65.06";
  e.cublas = {130100, 130100};
  e.cudnn = {91900, 91002};
  e.nccl = {22809, 22809};
  e.visible_devices = "0,1";
  for (int i = 0; i < 2; ++i)
    e.gpus.push_back({i, "NVIDIA A100-SXM4-80GB", 8, 0, 85899345920ull, 108, 41943040, fmt::format("0000:{:02x}:00.0", 7 + i)});
  return e;
}

TEST(CudaRecord, JsonHoldsEveryFactDecoded) {
  const nlohmann::json j = two_a100();
  const nlohmann::json want = nlohmann::json::parse(R"j({
    "built_with_cuda": true, "queried": true, "driver_version": "13.0", "driver_release": "580.65.06",
    "runtime_version": "13.0", "runtime_built": "13.0",
    "cublas": {"built": "13.1.0", "loaded": "13.1.0"}, "cudnn": {"built": "9.19.0", "loaded": "9.10.2"},
    "nccl": {"built": "2.28.9", "loaded": "2.28.9"}, "visible_devices": "0,1",
    "gpus": [{"ordinal": 0, "name": "NVIDIA A100-SXM4-80GB", "compute_capability": "8.0", "memory_bytes": 85899345920,
              "sm_count": 108, "l2_cache_bytes": 41943040, "pci_bus_id": "0000:07:00.0"},
             {"ordinal": 1, "name": "NVIDIA A100-SXM4-80GB", "compute_capability": "8.0", "memory_bytes": 85899345920,
              "sm_count": 108, "l2_cache_bytes": 41943040, "pci_bus_id": "0000:08:00.0"}],
    "error": null, "reason": null})j");
  EXPECT_EQ(j, want) << j.dump(1);
}

TEST(CudaRecord, CpuOnlyBuildHasNullsAndTheReason) {
  CudaEnv e;
  e.error = no_gpu_reason(e);
  const nlohmann::json want = nlohmann::json::parse(R"j({
    "built_with_cuda": false, "queried": false, "driver_version": null, "driver_release": null, "runtime_version": null,
    "runtime_built": null, "cublas": null, "cudnn": null, "nccl": null, "visible_devices": null, "gpus": [],
    "error": null, "reason": "this cnnbench was built without CUDA (configure with the `cuda` preset)"})j");
  EXPECT_EQ(nlohmann::json(e), want) << nlohmann::json(e).dump(1);
}

TEST(CudaRecord, NoDriverNamesTheError) {
  CudaEnv e = built_env(35, 0);
  e.error_name = "cudaErrorInsufficientDriver";
  e.cublas = {130100, 130100};
  e.error = no_gpu_reason(e);
  const nlohmann::json j = e;
  EXPECT_EQ(j["error"], "cudaErrorInsufficientDriver");
  EXPECT_EQ(j["driver_version"], nullptr);
  EXPECT_EQ(j["reason"], "no NVIDIA driver is installed (cudaErrorInsufficientDriver, and cudaDriverGetVersion reports none)");
  EXPECT_EQ(j["cudnn"], nullptr) << "not in this fixture's build";
}

TEST(CudaLines, GpusDriverRuntimeAndLibraries) {
  EXPECT_EQ(environment_lines(nlohmann::json(two_a100())),
            (Lines{"gpu:0 NVIDIA A100-SXM4-80GB: compute capability 8.0, 80.0 GiB, 108 SMs, L2 40.0 MiB, PCI 0000:07:00.0",
                   "gpu:1 NVIDIA A100-SXM4-80GB: compute capability 8.0, 80.0 GiB, 108 SMs, L2 40.0 MiB, PCI 0000:08:00.0",
                   "driver: 580.65.06, supports CUDA up to 13.0", "CUDA runtime: 13.0 loaded, built against 13.0",
                   "cuBLAS: 13.1.0 loaded, built against 13.1.0",
                   "cuDNN: 9.10.2 loaded, built against 9.19.0 (they differ)",
                   "NCCL: 2.28.9 loaded, built against 2.28.9", "CUDA_VISIBLE_DEVICES=0,1"}));
}

TEST(CudaLines, NoDriverAndLibrariesNotInTheBuild) {
  CudaEnv e = built_env(35, 0);
  e.cublas = {130100, 130100};
  e.error = no_gpu_reason(e);
  EXPECT_EQ(environment_lines(nlohmann::json(e)),
            (Lines{"no usable GPU: no NVIDIA driver is installed (cudaErrorInsufficientDriver, and cudaDriverGetVersion "
                   "reports none)",
                   "driver: none", "CUDA runtime: 13.0 loaded, built against 13.0",
                   "cuBLAS: 13.1.0 loaded, built against 13.1.0", "cuDNN: not in this build", "NCCL: not in this build"}));
}

TEST(CudaLines, DriverWithoutProcAndARuntimeThatDiffers) {
  CudaEnv e = built_env(35, 12040, 12080);
  e.error = no_gpu_reason(e);
  const Lines lines = environment_lines(nlohmann::json(e));
  ASSERT_GE(lines.size(), 3u);
  EXPECT_EQ(lines[1], "driver: release unknown, supports CUDA up to 12.4");
  EXPECT_EQ(lines[2], "CUDA runtime: 12.8 loaded, built against 13.0 (they differ)");
}

TEST(CudaLines, CpuOnlyAndOlderRecords) {
  const Lines cpu{"no usable GPU: this cnnbench was built without CUDA (configure with the `cuda` preset)"};
  EXPECT_EQ(environment_lines(nullptr), cpu);
  CudaEnv e;
  e.error = no_gpu_reason(e);
  EXPECT_EQ(environment_lines(nlohmann::json(e)), cpu);
  // The form records had before versions of each library were kept.
  const auto old = nlohmann::json::parse(R"j({"driver_version": "none", "runtime_version": "13.0", "gpus": [],
    "error": "cudaErrorInsufficientDriver (CUDA driver version is insufficient for CUDA runtime version)"})j");
  EXPECT_EQ(environment_lines(old),
            (Lines{"no usable GPU: cudaErrorInsufficientDriver (CUDA driver version is insufficient for CUDA runtime "
                   "version)",
                   "driver: none", "CUDA runtime: 13.0 loaded", "cuBLAS: not recorded", "cuDNN: not recorded",
                   "NCCL: not recorded"}));
  EXPECT_EQ(environment_lines(nlohmann::json::parse(R"j({"gpus": 3, "driver_version": 7})j")),
            (Lines{"no usable GPU: unknown", "driver: none", "CUDA runtime: not in this build", "cuBLAS: not recorded",
                   "cuDNN: not recorded", "NCCL: not recorded"}))
      << "fields of the wrong type count as absent";
}

TEST(CudaLines, SummaryCountsTheGpus) {
  const std::string s = summary(two_a100());
  EXPECT_EQ(s.substr(0, s.find('\n')), "CUDA: 2 GPU(s)");
  EXPECT_NE(s.find("\n  driver: 580.65.06, supports CUDA up to 13.0\n"), std::string::npos) << s;
}

// This machine, whatever it has: the build's own versions, and a reason exactly when no GPU is listed.
TEST(CudaEnvironment, ThisMachine) {
  const CudaEnv env = cuda_environment();
  EXPECT_EQ(env.error.empty(), !env.gpus.empty()) << env.error;
#if CNNB_HAVE_CUDA
  EXPECT_TRUE(env.built_with_cuda);
  EXPECT_EQ(env.runtime_built, CUDART_VERSION);
  EXPECT_GE(env.runtime_version, 12000);
  EXPECT_EQ(env.cublas.built, CUBLAS_VERSION);
  EXPECT_EQ(env.cublas.loaded, CUBLAS_VER_MAJOR * 10000 + CUBLAS_VER_MINOR * 100 + CUBLAS_VER_PATCH)
      << "the cuBLAS loaded is not the one in /usr/local/cuda";
  EXPECT_EQ(env.error_name.empty(), env.error_code == err::success) << env.error_code;
#else
  EXPECT_FALSE(env.built_with_cuda);
  EXPECT_EQ(env.error, "this cnnbench was built without CUDA (configure with the `cuda` preset)");
#endif
#if CNNB_HAVE_CUDNN
  EXPECT_EQ(env.cudnn.built, CUDNN_VERSION);
  EXPECT_GE(env.cudnn.loaded, 90000);
#else
  EXPECT_EQ(env.cudnn.built, 0);
#endif
#if CNNB_HAVE_NCCL
  EXPECT_EQ(env.nccl.built, NCCL_VERSION_CODE);
  EXPECT_GT(env.nccl.loaded, 0);
#else
  EXPECT_EQ(env.nccl.built, 0);
#endif
  EXPECT_EQ(cuda_environment_json(), nlohmann::json(env));
}

}  // namespace
}  // namespace cnnb::cuda
