// cnnbench-micro: Google Benchmark over every kernel variant in kernels.def x the micro cases of its op
// (backends/op_cases.h: the presets' layers at batch 64), named op/family/variant/case, e.g.
// conv_fwd/cpu/im2col_gemm/tfcifar_conv2. Counters: GFLOP/s (op_flops, the same count for every variant
// of an op) and GB/s (compulsory traffic), both per second of measured time.
//
//   cnnbench-micro --benchmark_filter=conv_fwd/ --benchmark_out=micro.json --benchmark_out_format=json
//   cnnbench-micro --cnnb_threads=4     CPU threads of the CPU device (default: all cores)
//
// CPU variants are timed by wall clock (UseRealTime: they are multithreaded). GPU variants use manual
// time: steady_clock around the call and a device synchronize, so launch overhead is included; without
// a GPU they are reported as skipped ("no CUDA device").
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstring>
#include <exception>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include <fmt/format.h>

#include "backends/cpu/blas.h"
#include "backends/op_cases.h"
#include "backends/registry.h"
#include "core/device.h"

namespace cnnb {
namespace {

void run_case(benchmark::State& state, const KernelInfo& k, const OpCase& c, Device* dev) {
  if (!dev) {
    state.SkipWithError("no CUDA device");
    return;
  }
  state.SetLabel(c.geometry());
  try {
    CaseTensors t(c, *dev);
    const auto call = t.bind(k);
    call();  // warm-up: first touch of the buffers, thread pools, library handles
    dev->synchronize();
    const bool manual = k.device != DeviceKind::cpu;
    for (auto _ : state) {
      if (manual) {
        const auto t0 = std::chrono::steady_clock::now();
        call();
        dev->synchronize();
        state.SetIterationTime(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      } else {
        call();
      }
    }
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return;
  }
  state.counters["GFLOP/s"] = benchmark::Counter(case_flops(c) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GB/s"] = benchmark::Counter(case_bytes(c) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

// Takes --cnnb_threads=N out of argv (Google Benchmark rejects flags it does not know).
int take_threads_flag(int& argc, char** argv) {
  int threads = int(std::max(1u, std::thread::hardware_concurrency()));
  constexpr std::string_view kFlag = "--cnnb_threads=";
  int out = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg.substr(0, kFlag.size()) == kFlag) {
      threads = std::stoi(std::string(arg.substr(kFlag.size())));
      if (threads < 1) throw std::invalid_argument(fmt::format("{}: expected a positive thread count", arg));
    } else {
      argv[out++] = argv[i];
    }
  }
  argc = out;
  argv[argc] = nullptr;
  return threads;
}

// The machine's SGEMM rate, the yardstick for conv_fwd's GFLOP/s: square n x n x n through the same
// single-threaded OpenBLAS call and the same OpenMP block split that cpu-gemm uses.
void register_sgemm_reference(int threads) {
  for (int n : {256, 1024}) {
    auto* b = benchmark::RegisterBenchmark(fmt::format("sgemm/cpu/openblas/n{}", n).c_str(), [n, threads](benchmark::State& s) {
      cpu::use_single_threaded_blas();
      std::vector<float> a(size_t(n) * n, 0.5f), bm(size_t(n) * n, 0.25f), c(size_t(n) * n);
      const lowering::GemmCall g{false, false, n, n, n, n, n, n, 1.0f, 0.0f};
      for (auto _ : s) {
        cpu::sgemm_parallel(g, a.data(), bm.data(), c.data(), threads);
        benchmark::DoNotOptimize(c.data());
      }
      s.counters["GFLOP/s"] = benchmark::Counter(2.0 * n * n * n / 1e9, benchmark::Counter::kIsIterationInvariantRate);
    });
    b->Unit(benchmark::kMicrosecond)->UseRealTime();
  }
}

int micro_main(int argc, char** argv) {
  const int threads = take_threads_flag(argc, argv);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;

  auto cpu = make_cpu_device(0, threads);
  std::unique_ptr<Device> gpu;
  if (cuda_device_count() > 0) gpu = make_cuda_device(0);
  benchmark::AddCustomContext("cnnb_cpu_threads", std::to_string(threads));
  benchmark::AddCustomContext("cnnb_gpu", gpu ? gpu->name() : "none");
  benchmark::AddCustomContext("cnnb_git_commit", CNNB_GIT_COMMIT);

  register_sgemm_reference(threads);
  for (const KernelInfo& k : all_kernels()) {
    Device* dev = k.device == DeviceKind::cpu ? cpu.get() : gpu.get();
    for (const OpCase& c : op_cases(k.op, CaseSet::micro)) {
      auto* b = benchmark::RegisterBenchmark(fmt::format("{}/{}", k.full_name(), c.name).c_str(),
                                             [&k, c, dev](benchmark::State& s) { run_case(s, k, c, dev); });
      b->Unit(benchmark::kMicrosecond);
      if (k.device == DeviceKind::cpu)
        b->UseRealTime();
      else
        b->UseManualTime();
    }
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

}  // namespace
}  // namespace cnnb

int main(int argc, char** argv) {
  try {
    return cnnb::micro_main(argc, argv);
  } catch (const std::exception& e) {
    fmt::print(stderr, "cnnbench-micro: {}\n", e.what());
    return 1;
  }
}
