// Every CUDA kernel variant in kernels.def against cpu/ref on GPU 0, on every test case of its op
// (backends/op_cases.h, the same check as `cnnbench verify`), plus what only a GPU can show: the
// CUDA Device's transfers, a grid-stride loop longer than one grid, and the shared-memory conv_fwd
// on shapes that stress its tiling. On a machine without a usable GPU every test reports SKIPPED
// with the reason.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "backends/cuda_environment.h"
#include "backends/op_cases.h"
#include "backends/registry.h"
#include "backends/verify.h"
#include "core/device.h"
#include "core/error.h"
#include "core/rng.h"
#include "tests/kernel_cases.h"

namespace cnnb {
namespace {

// A fixture base that skips, not fails, without a GPU, and otherwise gives each test GPU 0.
template <class Base>
class WithGpu : public Base {
 protected:
  void SetUp() override {
    if (cuda_device_count() == 0) GTEST_SKIP() << "no usable CUDA GPU: " << cuda::cuda_environment().error;
    gpu_ = make_cuda_device(0);
  }
  Device& gpu() { return *gpu_; }

 private:
  std::unique_ptr<Device> gpu_;
};

// ---- every CUDA variant on the shared cases

using test::KernelCase;

class CudaKernelsVsRef : public WithGpu<::testing::TestWithParam<KernelCase>> {};

TEST_P(CudaKernelsVsRef, Matches) {
  const auto& [k, c] = GetParam();
  const VerifyResult r = verify_kernel(*k, c, gpu());
  EXPECT_TRUE(r.pass) << r.kernel << " on " << r.case_name << " (" << r.geometry << "): " << r.reason
                      << " [tolerance " << r.tol.str() << ", max abs error " << r.max_abs_err << ", nmse " << r.nmse
                      << "]";
}

INSTANTIATE_TEST_SUITE_P(, CudaKernelsVsRef, ::testing::ValuesIn(test::kernel_cases(DeviceKind::cuda)),
                         test::kernel_case_name);

// ---- helpers for the GPU-only checks

std::vector<float> integers(size_t n, int lo, int hi, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> v(n);
  for (auto& x : v) x = float(lo + int64_t(rng.below(uint64_t(hi - lo + 1))));
  return v;
}

const KernelInfo& kernel(Op op, const char* family, const char* variant) {
  const KernelInfo* k = find_kernel(op, family, variant);
  CNNB_CHECK(k, "{}/{}/{} is not in this build", op_name(op), family, variant);
  return *k;
}

Buffer<float> on(Device& dev, const std::vector<float>& host) {
  Buffer<float> b(dev, host.size());
  b.upload(host);
  return b;
}

// ---- the CUDA Device

using CudaDevice = WithGpu<::testing::Test>;

TEST_F(CudaDevice, UploadCopyZeroDownload) {
  EXPECT_EQ(gpu().kind(), DeviceKind::cuda);
  EXPECT_EQ(gpu().name().rfind("gpu:0 (", 0), 0u) << gpu().name();
  const auto host = integers(1000003, -100, 100, 1);
  Buffer<float> a = on(gpu(), host), b(gpu(), host.size());
  gpu().copy(b.data(), a.data(), a.bytes());
  EXPECT_EQ(b.to_host(), host);
  a.zero();
  EXPECT_EQ(a.to_host(), std::vector<float>(host.size(), 0.0f));
  gpu().synchronize();
}

// HostBuffer on a GPU is page-locked memory from the device: the driver says so, the device counts it while
// it lives, it is a copy source and destination, and a move hands it over without touching the device.
TEST_F(CudaDevice, HostBuffersArePinnedAndRoundTrip) {
  const auto host = integers(4099, -9, 9, 8);
  const auto before = gpu().memory_use();
  ASSERT_TRUE(before.has_value());
  const size_t block = host.size() * sizeof(float);
  {
    HostBuffer<float> src(gpu(), host.size()), dst(gpu(), host.size());
    cudaPointerAttributes attr{};
    ASSERT_EQ(cudaPointerGetAttributes(&attr, src.data()), cudaSuccess);
    EXPECT_EQ(attr.type, cudaMemoryTypeHost);
    std::copy(host.begin(), host.end(), src.begin());
    Buffer<float> d(gpu(), host.size());
    EXPECT_EQ(gpu().memory_use()->pinned_host, before->pinned_host + 2 * block) << "a Buffer pins nothing";
    gpu().upload(d.data(), src.data(), src.bytes());
    d.download(dst.data(), dst.size());
    EXPECT_TRUE(std::equal(dst.begin(), dst.end(), host.begin()));
    float* const p = dst.data();
    HostBuffer<float> moved = std::move(dst);
    EXPECT_EQ(moved.data(), p);
    EXPECT_EQ(dst.data(), nullptr);
    EXPECT_EQ(dst.size(), 0u);
    EXPECT_EQ(gpu().memory_use()->pinned_host, before->pinned_host + 2 * block);
    src = std::move(moved);  // frees src's own block
    EXPECT_EQ(gpu().memory_use()->pinned_host, before->pinned_host + block);
  }
  EXPECT_EQ(gpu().memory_use()->pinned_host, before->pinned_host);
}

TEST_F(CudaDevice, RefusesAnOrdinalThatDoesNotExist) {
  const int n = cuda_device_count();
  try {
    make_cuda_device(n);
    FAIL() << "gpu:" << n << " was accepted with " << n << " GPUs";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(fmt::format("{} CUDA GPU(s)", n)), std::string::npos) << e.what();
  }
}

// ---- launch geometry

// More elements than one grid of the launcher's cap (32 blocks of 256 per SM), so the grid-stride
// loop must go round several times; the tail is not a multiple of the block size.
TEST_F(CudaDevice, GridStrideLoopCoversSeveralGrids) {
  const auto env = cuda::cuda_environment();
  const int64_t n = int64_t(env.gpus.at(0).sm_count) * 32 * 256 * 3 + 77;
  const auto x = integers(size_t(n), -3, 3, 2);
  Buffer<float> dx = on(gpu(), x), dy = on(gpu(), std::vector<float>(size_t(n), std::nanf("")));
  kernel_fn<Op::relu_fwd>(kernel(Op::relu_fwd, "cuda", "naive"))(gpu().ctx(), ReluFwdArgs{n, dx.data(), dy.data()});
  const auto y = dy.to_host();
  size_t bad = 0;
  for (size_t i = 0; i < x.size(); ++i) bad += y[i] != (x[i] > 0.0f ? x[i] : 0.0f);
  EXPECT_EQ(bad, 0u) << "of " << n;
}

// ---- conv_fwd/cuda/smem_tiled on shapes that stress the tiling

std::vector<float> run_conv_fwd(Device& dev, const KernelInfo& k, const ConvGeom& g, const std::vector<float>& x,
                                const std::vector<float>& w, const std::vector<float>& b) {
  Buffer<float> bx = on(dev, x), bw = on(dev, w), bb = on(dev, b),
                by = on(dev, std::vector<float>(size_t(g.y_size()), std::nanf("")));
  kernel_fn<Op::conv_fwd>(k)(dev.ctx(), ConvFwdArgs{g, bx.data(), bw.data(), bb.data(), by.data()});
  dev.synchronize();
  return by.to_host();
}

TEST_F(CudaDevice, SmemTiledConvOnTilingEdgeCases) {
  auto geom = [](int n, int c, int h, int w, int k, int r, int s, int stride, int pad) {
    ConvGeom g;
    g.n = n, g.c = c, g.h = h, g.w = w, g.k = k, g.r = r, g.s = s, g.stride = stride, g.pad = pad;
    return g;
  };
  const ConvGeom cases[] = {
      geom(2, 3, 33, 17, 4, 3, 3, 1, 1),     // partial tiles in both directions
      geom(1, 64, 20, 20, 3, 3, 3, 2, 1),    // 13 channel chunks of 5, the last one short
      geom(1, 3, 67, 67, 2, 11, 11, 4, 2),   // AlexNet-like 11x11 stride 4: one channel per chunk
      geom(1, 2, 9, 9, 2, 5, 4, 3, 2),       // non-square filter, stride 3
      geom(1100, 1, 3, 3, 64, 3, 3, 1, 1),   // n*k = 70400 > 65535: the block loops over (n, k)
  };
  auto cpu = make_cpu_device(0, 1);
  for (const ConvGeom& g : cases) {
    SCOPED_TRACE(fmt::format("n{} c{} {}x{} k{} {}x{} stride {} pad {}", g.n, g.c, g.h, g.w, g.k, g.r, g.s,
                             g.stride, g.pad));
    const auto x = integers(size_t(g.x_size()), -3, 3, 3), w = integers(size_t(g.w_size()), -2, 2, 4),
               b = integers(size_t(g.k), -4, 4, 5);
    const auto want = run_conv_fwd(*cpu, kernel(Op::conv_fwd, "cpu", "ref"), g, x, w, b);
    const auto got = run_conv_fwd(gpu(), kernel(Op::conv_fwd, "cuda", "smem_tiled"), g, x, w, b);
    size_t bad = 0, first = 0;
    for (size_t i = 0; i < want.size(); ++i)
      if (!(got[i] == want[i]) && bad++ == 0) first = i;
    EXPECT_EQ(bad, 0u) << "first at " << first << ": got " << got[first] << ", cpu-ref " << want[first];
  }
}

TEST_F(CudaDevice, SmemTiledConvRefusesAFilterBeyondSharedMemory) {
  ConvGeom g;
  g.n = 1, g.c = 1, g.h = 120, g.w = 120, g.k = 1, g.r = 7, g.s = 7, g.stride = 7, g.pad = 0;
  const auto x = integers(size_t(g.x_size()), -1, 1, 6), w = integers(size_t(g.w_size()), -1, 1, 7);
  try {
    run_conv_fwd(gpu(), kernel(Op::conv_fwd, "cuda", "smem_tiled"), g, x, w, {0.0f});
    FAIL() << "a 7x7 stride-7 filter needs more than 48 KiB per channel and was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("conv_fwd/cuda/naive"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace cnnb
