// The GPU module (core/gpu_module.h): loaded only when a GPU is asked for, every table and every GPU
// variant of kernels.def found in it, and a failed load explained in words a user can act on. Each
// ctest test is a process of its own, so "not loaded yet" is this test's own state.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "backends/backend.h"
#include "backends/cuda_environment.h"
#include "backends/gpu_backends.h"
#include "backends/registry.h"
#include "bench/harness/sweep.h"
#include "bench/micro/gpu_timer.h"
#include "core/device.h"
#include "core/error.h"
#include "core/gpu_module.h"
#include "strategies/comm/communicator.h"
#include "strategies/devices.h"

namespace cnnb {
namespace {

using ::testing::HasSubstr;

#if CNNB_HAVE_CUDNN
constexpr bool kHaveCudnn = true;
#else
constexpr bool kHaveCudnn = false;
#endif

int kernels_def_lines(const std::string& device_suffix) {
  std::ifstream in(std::string(CNNB_SOURCE_DIR) + "/backends/kernels.def");
  int n = 0;
  for (std::string line; std::getline(in, line);)
    n += line.starts_with("KERNEL(") && line.ends_with(device_suffix);
  return n;
}

TEST(GpuModuleLoadError, NamesTheMissingLibraryAndWhatProvidesIt) {
  const char* tail = ": cannot open shared object file: No such file or directory";
  EXPECT_EQ(explain_module_load_error(std::string("libcudnn.so.9") + tail, 13),
            "libcudnn.so.9 not found (install cuDNN 9 for CUDA 13, or build with -DCNNB_CUDA=OFF)");
  EXPECT_EQ(explain_module_load_error(std::string("libcudnn_graph.so.9") + tail, 12),
            "libcudnn_graph.so.9 not found (install cuDNN 9 for CUDA 12, or build with -DCNNB_CUDA=OFF)");
  EXPECT_EQ(explain_module_load_error(std::string("libnccl.so.2") + tail, 13),
            "libnccl.so.2 not found (install NCCL 2 for CUDA 13, or build with -DCNNB_CUDA=OFF)");
  EXPECT_EQ(explain_module_load_error(std::string("libcublasLt.so.13") + tail, 13),
            "libcublasLt.so.13 not found (install cuBLAS for CUDA 13, or build with -DCNNB_CUDA=OFF)");
  EXPECT_EQ(explain_module_load_error(std::string("libcublas.so.12") + tail, 12),
            "libcublas.so.12 not found (install cuBLAS for CUDA 12, or build with -DCNNB_CUDA=OFF)");
  EXPECT_EQ(explain_module_load_error(std::string("libcudart.so.13") + tail, 13),
            "libcudart.so.13 not found (install the CUDA 13 runtime, or build with -DCNNB_CUDA=OFF)");
  EXPECT_EQ(explain_module_load_error(std::string("libstdc++.so.6") + tail, 13),
            "libstdc++.so.6 not found (needed by cnnbench's GPU module; or build with -DCNNB_CUDA=OFF)");
  // Anything but a missing file (a missing symbol, a wrong ELF class) is passed on as the loader said it.
  const std::string symbol = "/x/libcnnbench_gpu.so: undefined symbol: cudnnCreate";
  EXPECT_EQ(explain_module_load_error(symbol, 13), symbol);
}

// ctest runs each test in a process of its own; run by hand after other tests, the module may be loaded.
#define CNNB_SKIP_IF_ALREADY_LOADED()                                                                         \
  if (gpu_module_tried()) GTEST_SKIP() << "an earlier test in this process loaded the GPU module: run this " \
                                          "test alone (ctest does)"

TEST(GpuModule, ACpuRunsQuestionsDoNotLoadIt) {
  CNNB_SKIP_IF_ALREADY_LOADED();
  // What a CPU training run asks: its backend, its devices, the contexts it runs on, its record.
  EXPECT_TRUE(backend_info("cpu-gemm").available);
  const OpSet<float> ops = resolve_backend("cpu-gemm");
  EXPECT_FALSE(ops.chosen.empty());
  auto cpu = make_cpu_device(0, 1);
  EXPECT_TRUE(conv_algorithms(cpu->ctx()).empty());
  EXPECT_FALSE(cuda_context_health({}).lost);
  EXPECT_EQ(parse_devices("cpu:2", DeviceKind::cpu, 0).count(), 2);
  const SweepHost host = SweepHost::detect({"cpu-ref", "cpu-gemm"});
  EXPECT_EQ(host.gpus, 0);
  EXPECT_TRUE(host.unavailable_backends.empty());
  const nlohmann::json cuda = cuda_environment_json();
  EXPECT_FALSE(gpu_module_loaded());
  EXPECT_EQ(cuda.at("built_with_cuda").get<bool>(), gpu_module_in_build());
  EXPECT_FALSE(cuda.at("queried").get<bool>());
  if (gpu_module_in_build()) {
    EXPECT_FALSE(gpu_module_tried());
    EXPECT_EQ(cuda.at("reason"), "this process ran no GPU code, so it did not load the GPU module");
    EXPECT_EQ(cuda::environment_lines(cuda),
              std::vector<std::string>{"not queried: this process ran no GPU code, so it did not load the GPU module"});
  }
}

TEST(GpuModule, AGpuQuestionLoadsItOrSaysWhyNot) {
  CNNB_SKIP_IF_ALREADY_LOADED();
  const int gpus = cuda_device_count();
  const std::string& why = gpu_module_unavailable();
  if (!gpu_module_in_build()) {
    EXPECT_EQ(gpus, 0);
    EXPECT_EQ(why, "this cnnbench was built without CUDA (configure with the `cuda` preset)");
    EXPECT_THAT([] { make_cuda_device(0); },
                ::testing::ThrowsMessage<InputError>(HasSubstr("gpu:0 requested, but no GPU can be used: " + why)));
    return;
  }
  // This build's module, beside libcnnbench.so, with the CUDA libraries of the machine that built it.
  EXPECT_EQ(why, "");
  EXPECT_TRUE(gpu_module_loaded());
  // The record now says what CUDA offers, as the module found it.
  const nlohmann::json cuda = cuda_environment_json();
  EXPECT_TRUE(cuda.at("queried").get<bool>());
  EXPECT_EQ(int(cuda.at("gpus").size()), gpus);
}

TEST(GpuModule, EveryTableAndEveryGpuVariantIsInIt) {
  if (!gpu_module_in_build()) {
    // Without CUDA no GPU variant is listed, and asking for a table says why there is none.
    for (const KernelInfo& k : all_kernels()) EXPECT_EQ(k.device, DeviceKind::cpu) << k.full_name();
    EXPECT_THAT([] { gpu_module_entry(kGpuDeviceTable); },
                ::testing::ThrowsMessage<InputError>(HasSubstr("this cnnbench was built without CUDA")));
    return;
  }
  EXPECT_NE(gpu_module_table<GpuDeviceTable>(kGpuDeviceTable).device_count, nullptr);
  const auto& backends = gpu_module_table<GpuBackendTable>(kGpuBackendTable);
  EXPECT_NE(backends.environment, nullptr);
  EXPECT_NE(gpu_module_table<micro::GpuTimerTable>(micro::kGpuTimerTable).make, nullptr);
#if CNNB_HAVE_NCCL
  EXPECT_NE(gpu_module_table<GpuCommTable>(kGpuCommTable).make_nccl, nullptr);
#endif
  int gpu_variants = 0;
  for (const KernelInfo& k : all_kernels()) {
    if (k.device == DeviceKind::cpu) continue;
    ++gpu_variants;
    EXPECT_EQ(k.fn, nullptr) << k.full_name() << ": libcnnbench.so must not link a GPU kernel";
    EXPECT_NE(k.resolve(), nullptr) << k.full_name();
  }
  // As many as kernels.def has KERNEL lines for CUDA and, with cuDNN, for CUDNN, counted in the file.
  EXPECT_EQ(gpu_variants, kernels_def_lines("CUDA)") + (kHaveCudnn ? kernels_def_lines("CUDNN)") : 0));
  EXPECT_THAT([] { gpu_kernel_fn(Op::conv_fwd, "cuda", "no_such_variant"); },
              ::testing::ThrowsMessage<Error>(HasSubstr("the GPU module has no such variant")));
}

}  // namespace
}  // namespace cnnb
