// After warm-up a training step allocates nothing: activations, workspaces and
// batch buffers are planned once and reused. Counted on the CPU backends, single and allreduce over
// two replicas, around Strategy::step on a ReplicaSet.
//
// How it counts: this file replaces the global operator new/delete of the whole test binary (C++ allows
// one replacement per program, and a replacement cannot be limited to one file). The replacement
// forwards to malloc/free and adds one relaxed atomic load per call, so every other test pays nothing
// measurable; it counts only while a test has armed it, on every thread (the replicas' workers, the
// communicator's helpers, OpenMP threads). What it cannot see: allocations that bypass operator new —
// malloc inside C libraries (OpenBLAS, libgomp's team setup, oneDNN's own allocator) and the devices'
// aligned_alloc, which only happens when buffers are built, before the count starts.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <new>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "bench/harness/trainer.h"
#include "strategy_run.h"

namespace {

std::atomic<bool> g_armed{false};
std::atomic<long> g_allocations{0};

void* counted_alloc(std::size_t n, std::size_t align) {
  if (g_armed.load(std::memory_order_relaxed)) g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (n == 0) n = 1;
  void* p = align > alignof(std::max_align_t) ? std::aligned_alloc(align, (n + align - 1) / align * align) : std::malloc(n);
  if (!p) throw std::bad_alloc();
  return p;
}

}  // namespace

void* operator new(std::size_t n) { return counted_alloc(n, 0); }
void* operator new[](std::size_t n) { return counted_alloc(n, 0); }
void* operator new(std::size_t n, std::align_val_t a) { return counted_alloc(n, std::size_t(a)); }
void* operator new[](std::size_t n, std::align_val_t a) { return counted_alloc(n, std::size_t(a)); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
// The nothrow forms too: a delete of ours must never meet a new from elsewhere (std::stable_sort's
// temporary buffer uses nothrow new; under AddressSanitizer a mixed pair is an alloc-dealloc mismatch).
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  try {
    return counted_alloc(n, 0);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](std::size_t n, const std::nothrow_t& t) noexcept { return operator new(n, t); }
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  try {
    return counted_alloc(n, std::size_t(a));
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t& t) noexcept { return operator new(n, a, t); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }

namespace cnnb {
namespace {

// Counts operator new calls on any thread between construction and count().
class AllocationCount {
 public:
  AllocationCount() {
    g_allocations = 0;
    g_armed = true;
  }
  ~AllocationCount() { g_armed = false; }
  AllocationCount(const AllocationCount&) = delete;
  AllocationCount& operator=(const AllocationCount&) = delete;
  long count() {
    g_armed = false;
    return g_allocations.load();
  }
};

// Every op kind with scratch: conv (im2col columns, per-thread dW partials), pool (ref's backward sums),
// LRN (window sums, backward's two arrays), dense; Adam for the optimizer state.
constexpr const char* kModel = "conv3x3x4,relu,maxpool2,lrn3,fc8,relu,fc4";

long allocations_in_steps(const std::string& backend, const std::string& strategy, int replicas, int threads,
                          TimingMode timing = TimingMode::events) {
  const Dataset& data = test::strategy_data();
  const ModelPlan plan = plan_model(parse_model(kModel), data.shape, data.classes);
  OptimizerConfig adam;
  adam.kind = OptimizerConfig::Kind::adam;
  adam.lr = 0.01;
  DeviceList devices;
  for (int i = 0; i < replicas; ++i) devices.ids.push_back(i);
  constexpr int kShard = 8;
  ReplicaSet rs(ReplicaSetup{plan, resolve_backend(backend), adam, devices, threads, kShard, 0, 3, Pipeline::direct, 2,
                             timing});
  const auto pg = make_single_process_group();
  const auto comm = make_communicator(CommKind::threads, *pg, rs.devices(), CommOptions{60});
  const auto strat = make_strategy(strategy);
  strat->setup(rs, *comm);
  const int batch = kShard * replicas;
  const std::vector<int64_t> order = epoch_permutation(data.train.count(), 3, 1);
  const auto step = [&](int s) {
    StepTimes t;
    strat->step(rs, *comm, GlobalBatch{data.train, data.shape, std::span(order.data() + s * batch, size_t(batch))}, t);
  };
  constexpr int kWarmup = 2, kSteps = 4;
  for (int s = 0; s < kWarmup; ++s) step(s);
  AllocationCount count;
  for (int s = kWarmup; s < kWarmup + kSteps; ++s) step(s);
  return count.count();
}

// cpu-onednn is not here: oneDNN's primitive::execute takes its arguments as a std::unordered_map and
// converts them into a new std::vector<dnnl_exec_arg_t> on every call (oneapi/dnnl/dnnl.hpp), so every
// op call allocates inside oneDNN's API whatever cnnbench caches around it.
std::vector<std::string> cpu_backends() { return {"cpu-ref", "cpu-gemm"}; }

TEST(Allocations, TheCounterSeesAnAllocationOnAnyThread) {
  AllocationCount count;
  std::thread([] { delete new int(7); }).join();  // the thread's own start-up allocates too: >= 1
  auto* v = new std::vector<int>(3);
  delete v;
  EXPECT_GE(count.count(), 2);
}

TEST(Allocations, NoneInTheStepLoopAfterWarmUpSingle) {
  for (const auto& backend : cpu_backends()) {
    SCOPED_TRACE(backend);
    EXPECT_EQ(allocations_in_steps(backend, "single", 1, 2), 0);
  }
}

TEST(Allocations, NoneInTheStepLoopAfterWarmUpAllreduceTwoReplicas) {
  for (const auto& backend : cpu_backends()) {
    SCOPED_TRACE(backend);
    EXPECT_EQ(allocations_in_steps(backend, "allreduce", 2, 2), 0);
  }
}

TEST(Allocations, NoneInTheStepLoopAfterWarmUpUnderSyncTiming) {
  for (const auto& backend : cpu_backends()) {
    SCOPED_TRACE(backend);
    EXPECT_EQ(allocations_in_steps(backend, "allreduce", 2, 1, TimingMode::sync), 0);
  }
}

// The workspace is part of a replica's memory in the run record, and of its total.
TEST(Allocations, ReplicaMemoryItemisesTheWorkspace) {
  TrainConfig c;
  c.model = kModel;
  c.dataset = test::kStrategyData;
  c.backend = "cpu-gemm";
  c.threads = 2;
  c.batch = 8;
  c.steps_per_epoch = 2;
  c.warmup_steps = 0;
  c.test_limit = 8;
  const TrainResult r = train(c, test::strategy_data(), nullptr);
  ASSERT_TRUE(r.replica_memory.contains("workspace"));
  // conv1's columns for 2 threads (9 x 64 floats each) at least, in whole 64 KiB steps.
  const double ws = r.replica_memory.at("workspace");
  EXPECT_GE(ws, 2 * 9 * 64 * sizeof(float));
  EXPECT_EQ(std::fmod(ws, 65536.0), 0.0);
  double sum = 0;
  for (const auto& [k, v] : r.replica_memory)
    if (k != "total") sum += v;
  EXPECT_EQ(r.replica_memory.at("total"), sum);
  c.backend = "cpu-ref";  // its scratch is small but real: pool backward and LRN window sums
  EXPECT_GT(train(c, test::strategy_data(), nullptr).replica_memory.at("workspace"), 0);
}

}  // namespace
}  // namespace cnnb
