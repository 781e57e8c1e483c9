// cnnbench-micro: Google Benchmark over every kernel variant in kernels.def x the micro cases of its op
// (backends/op_cases.h: the presets' layers at batch 64), named op/family/variant/case, e.g.
// conv_fwd/cpu/im2col_gemm/tfcifar_conv2. Counters: GFLOP/s (op_flops, the same count for every variant
// of an op) and GB/s (compulsory traffic), both per second of measured time.
//
//   cnnbench-micro --benchmark_filter=conv_fwd/ --benchmark_out=micro.json --benchmark_out_format=json
//   cnnbench-micro --cnnb_threads=4     CPU threads of the CPU device (default: all cores)
//   cnnbench-micro --cnnb_cache=warm    GPU benchmarks without the L2 flush (default: cold)
//
// CPU variants are timed by wall clock (UseRealTime: they are multithreaded). GPU variants use manual
// time: cudaEvents on the device's stream around the op call only (bench/micro/gpu_timer.h). An H100's L2
// (50 MB) holds every micro case, so repeated calls would find their inputs there, unlike a
// training step where the other layers' tensors pass through L2 in between: by default (cold) a buffer of
// twice the L2 size is overwritten on the stream before every timed call, outside the timed span, as
// nvbench does. The mode is in every GPU benchmark's label ("cold L2" / "warm L2"), in the counter
// L2_flush_MiB and in the output's context (cnnb_gpu_cache). Without a GPU the GPU benchmarks are skipped
// ("no CUDA device"). After a failure that loses the CUDA context (a sticky error such as an illegal
// address), the failing benchmark says so and every later GPU benchmark is skipped with "not run: CUDA
// context lost after <its name>"; CPU benchmarks go on.
#include <benchmark/benchmark.h>

#include <exception>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include <fmt/format.h>

#include "backends/context_health.h"
#include "backends/cpu/blas.h"
#include "backends/op_cases.h"
#include "backends/registry.h"
#include "bench/micro/gpu_timer.h"
#include "bench/micro/micro_flags.h"
#include "core/device.h"
#include "core/error.h"

namespace cnnb {
namespace {

using micro::CacheMode;

void run_cpu_case(benchmark::State& state, const KernelInfo& k, const OpCase& c, Device& dev) {
  state.SetLabel(c.geometry());
  try {
    CaseTensors t(c, dev);
    const auto call = t.bind(k);
    call();  // warm-up: first touch of the buffers, thread pools, library handles
    for (auto _ : state) call();
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return;
  }
  state.counters["GFLOP/s"] = benchmark::Counter(case_flops(c) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GB/s"] = benchmark::Counter(case_bytes(c) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

// What every GPU benchmark shares: the device (null without one), the cache mode, and the guard that
// remembers a lost CUDA context.
struct GpuBench {
  Device* dev = nullptr;
  CacheMode cache = CacheMode::cold;
  ContextLossGuard* context = nullptr;
};

void run_gpu_case(benchmark::State& state, const KernelInfo& k, const OpCase& c, const GpuBench& g,
                  const std::string& name) {
  if (!g.dev) {
    state.SkipWithError("no CUDA device");
    return;
  }
  if (g.context->lost()) {
    state.SkipWithError(g.context->not_run_reason().c_str());
    return;
  }
  state.SetLabel(fmt::format("{}, {} L2", c.geometry(), micro::cache_mode_name(g.cache)));
  try {
    const std::unique_ptr<micro::OpTimer> timer = micro::make_gpu_op_timer(*g.dev, g.cache);
    CaseTensors t(c, *g.dev);
    const auto call = t.bind(k);
    call();  // warm-up: first touch of the buffers, library handles, cuDNN's algorithm choice
    g.dev->synchronize();
    for (auto _ : state) state.SetIterationTime(timer->time(call));
    state.counters["L2_flush_MiB"] = double(timer->flush_bytes()) / (1024.0 * 1024.0);
  } catch (const std::exception& e) {
    constexpr int kGpu0[] = {0};
    std::string why = e.what();
    if (g.context->lost_after_failure(name, kGpu0))
      why += fmt::format("; CUDA context lost ({}): the remaining GPU benchmarks are not run", g.context->error());
    state.SkipWithError(why.c_str());
    return;
  }
  state.counters["GFLOP/s"] = benchmark::Counter(case_flops(c) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GB/s"] = benchmark::Counter(case_bytes(c) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
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

void print_help() {
  fmt::print("{}\n", micro::kMicroFlagsHelp);
  benchmark::PrintDefaultHelp();
}

// The cache mode as recorded in the output's context, with the sizes of this GPU.
std::string cache_context(CacheMode cache, Device* gpu) {
  if (!gpu) return fmt::format("{} (no GPU)", micro::cache_mode_name(cache));
  const size_t l2 = micro::device_l2_bytes(*gpu);
  const double mib = 1024.0 * 1024.0;
  if (cache == CacheMode::warm)
    return fmt::format("warm: L2 ({:.0f} MiB) not flushed between timed calls", double(l2) / mib);
  return fmt::format("cold: {:.0f} MiB overwritten before every timed call (L2 {:.0f} MiB)",
                     double(micro::l2_flush_bytes(l2)) / mib, double(l2) / mib);
}

int micro_main(int argc, char** argv) {
  const micro::MicroFlags flags =
      micro::take_micro_flags(argc, argv, int(std::max(1u, std::thread::hardware_concurrency())));
  benchmark::Initialize(&argc, argv, &print_help);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;

  auto cpu = make_cpu_device(0, flags.threads);
  std::unique_ptr<Device> gpu;
  if (cuda_device_count() > 0) gpu = make_cuda_device(0);
  ContextLossGuard context(cuda_context_health);
  const GpuBench gpu_bench{gpu.get(), flags.cache, &context};
  benchmark::AddCustomContext("cnnb_cpu_threads", std::to_string(flags.threads));
  benchmark::AddCustomContext("cnnb_gpu", gpu ? gpu->name() : "none");
  benchmark::AddCustomContext("cnnb_gpu_cache", cache_context(flags.cache, gpu.get()));
  benchmark::AddCustomContext("cnnb_git_commit", CNNB_GIT_COMMIT);

  register_sgemm_reference(flags.threads);
  for (const KernelInfo& k : all_kernels()) {
    for (const OpCase& c : op_cases(k.op, CaseSet::micro)) {
      const std::string name = fmt::format("{}/{}", k.full_name(), c.name);
      benchmark::internal::Benchmark* b = nullptr;
      if (k.device == DeviceKind::cpu) {
        Device* dev = cpu.get();
        b = benchmark::RegisterBenchmark(name.c_str(),
                                         [&k, c, dev](benchmark::State& s) { run_cpu_case(s, k, c, *dev); });
        b->UseRealTime();
      } else {
        b = benchmark::RegisterBenchmark(name.c_str(), [&k, c, &gpu_bench, name](benchmark::State& s) {
          run_gpu_case(s, k, c, gpu_bench, name);
        });
        b->UseManualTime();
      }
      b->Unit(benchmark::kMicrosecond);
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
  } catch (const cnnb::InputError& e) {
    fmt::print(stderr, "cnnbench-micro: {}\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    fmt::print(stderr, "cnnbench-micro: {}\n", e.what());
    return 1;
  }
}
