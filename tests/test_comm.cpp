// The communicators' host-side logic, run as production code without a GPU: the deadline loop every
// nccl wait goes through (with a fake query), which communicator
// `--comm auto` picks for every strategy, device kind and count, what a record calls the path the
// bytes took, and the threads communicator's staging of device replicas (with fake devices).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "core/device.h"
#include "core/error.h"
#include "strategies/comm/communicator.h"
#include "strategies/comm/deadline.h"
#include "strategies/comm/route.h"
#include "strategies/strategy.h"

namespace cnnb {
namespace {

using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;

// ---- the deadline loop

// A query that answers from a script, then repeats its last answer; counts its calls.
struct ScriptedQuery {
  std::vector<PollState> script;
  int calls = 0;
  PollState operator()() {
    const size_t i = std::min(size_t(calls++), script.size() - 1);
    return script[i];
  }
};

PollState pending() { return {PollState::pending, {}}; }
PollState done() { return {PollState::done, {}}; }

TEST(CommDeadline, InProgressThenSuccessReturnsWithoutAbort) {
  ScriptedQuery q{{pending(), pending(), pending(), done()}};
  int aborts = 0;
  poll_until_done(std::ref(q), Deadline(60), "nccl: test", [&] { ++aborts; });
  EXPECT_EQ(q.calls, 4);
  EXPECT_EQ(aborts, 0);
}

TEST(CommDeadline, NeverDoneTimesOutAndAbortsOnce) {
  ScriptedQuery q{{pending()}};
  int aborts = 0;
  const auto t0 = Clock::now();
  EXPECT_THAT([&] { poll_until_done(std::ref(q), Deadline(0.05), "nccl: ncclAllReduce on gpu 1", [&] { ++aborts; }); },
              ::testing::ThrowsMessage<Error>(
                  HasSubstr("nccl: ncclAllReduce on gpu 1 did not complete within 0.05 s: another rank has died or "
                            "stalled (--comm-timeout)")));
  EXPECT_GE(std::chrono::duration<double>(Clock::now() - t0).count(), 0.05);
  EXPECT_EQ(aborts, 1);
  EXPECT_GT(q.calls, 1);
}

TEST(CommDeadline, AsyncErrorAbortsWithoutWaitingForTheDeadline) {
  ScriptedQuery q{{pending(), PollState{PollState::failed, "remote process exited"}, done()}};
  int aborts = 0;
  const auto t0 = Clock::now();
  EXPECT_THAT([&] { poll_until_done(std::ref(q), Deadline(60), "nccl: ncclCommFinalize", [&] { ++aborts; }); },
              ::testing::ThrowsMessage<Error>(HasSubstr("nccl: ncclCommFinalize failed: remote process exited")));
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - t0).count(), 30);
  EXPECT_EQ(q.calls, 2);
  EXPECT_EQ(aborts, 1);
}

TEST(CommDeadline, QueryExceptionAbortsAndPassesThrough) {
  int aborts = 0, calls = 0;
  const auto query = [&]() -> PollState {
    if (++calls == 2) throw InputError("event query: device lost");
    return pending();
  };
  EXPECT_THAT([&] { poll_until_done(query, Deadline(60), "nccl: test", [&] { ++aborts; }); },
              ::testing::ThrowsMessage<InputError>(::testing::StrEq("event query: device lost")));
  EXPECT_EQ(aborts, 1);
}

// Work found done is done, even once the deadline has passed: only waiting longer is refused.
TEST(CommDeadline, DoneAfterTheDeadlineStillCounts) {
  ScriptedQuery q{{done()}};
  int aborts = 0;
  poll_until_done(std::ref(q), Deadline(0), "nccl: test", [&] { ++aborts; });
  EXPECT_EQ(aborts, 0);
  EXPECT_EQ(q.calls, 1);
}

// ---- which communicator --comm auto picks

TEST(CommChoice, TableOverEveryStrategyDeviceKindAndCount) {
  int rows = 0, nccl_rows = 0;
  for (const StrategyInfo& s : strategy_infos()) {
    // Only allreduce hands its bytes to the communicator's collective; tower and param-avg stage them
    // through the host, single and independent exchange nothing.
    const bool through_collective = s.name == "allreduce";
    for (DeviceKind kind : {DeviceKind::cpu, DeviceKind::cuda})
      for (int gpus : {1, 2, 4})
        for (int processes : {1, 2, 3})
          for (bool nccl : {false, true}) {
            const int g = kind == DeviceKind::cuda ? gpus : 0;
            const CommKind got = choose_comm(CommFacts{s.exchange, kind, g, processes, nccl});
            const bool want_nccl = through_collective && kind == DeviceKind::cuda && g * processes > 1 && nccl;
            const CommKind want = want_nccl ? CommKind::nccl : processes > 1 ? CommKind::mpi : CommKind::threads;
            EXPECT_EQ(got, want) << s.name << " " << device_kind_name(kind) << " gpus=" << g
                                 << " processes=" << processes << " nccl=" << nccl;
            ++rows;
            nccl_rows += got == CommKind::nccl;
          }
  }
  EXPECT_EQ(rows, 5 * 2 * 3 * 3 * 2);
  // allreduce on cuda: gpus x processes > 1 everywhere but (1 GPU, 1 process), with NCCL in the build.
  EXPECT_EQ(nccl_rows, 3 * 3 - 1);
}

TEST(CommChoice, OneGpuInOneProcessGetsNoNccl) {
  EXPECT_EQ(choose_comm(CommFacts{ExchangePath::communicator, DeviceKind::cuda, 1, 1, true}), CommKind::threads);
  EXPECT_EQ(choose_comm(CommFacts{ExchangePath::communicator, DeviceKind::cuda, 1, 2, true}), CommKind::nccl);
  EXPECT_EQ(choose_comm(CommFacts{ExchangePath::host, DeviceKind::cuda, 4, 2, true}), CommKind::mpi);
  EXPECT_EQ(choose_comm(CommFacts{ExchangePath::none, DeviceKind::cuda, 4, 1, true}), CommKind::threads);
}

TEST(CommChoice, AutoCountsDistinctGpusAndAsksTheBuildForNccl) {
#if CNNB_HAVE_NCCL
  const CommKind two = CommKind::nccl;
#else
  const CommKind two = CommKind::threads;
#endif
  EXPECT_EQ(auto_comm(ExchangePath::communicator, DeviceList{DeviceKind::cuda, {0, 1}}, 1), two);
  EXPECT_EQ(auto_comm(ExchangePath::communicator, DeviceList{DeviceKind::cuda, {3, 3}}, 1), CommKind::threads);
  // Two distinct GPUs, but one carries two replicas: not NCCL, which could not make them ranks.
  EXPECT_EQ(auto_comm(ExchangePath::communicator, DeviceList{DeviceKind::cuda, {0, 0, 1}}, 1), CommKind::threads);
  EXPECT_EQ(auto_comm(ExchangePath::communicator, DeviceList{DeviceKind::cuda, {0, 0}}, 2), CommKind::mpi);
  EXPECT_EQ(auto_comm(ExchangePath::host, DeviceList{DeviceKind::cuda, {0, 1}}, 1), CommKind::threads);
  EXPECT_EQ(auto_comm(ExchangePath::communicator, DeviceList{DeviceKind::cpu, {0, 1, 2}}, 1), CommKind::threads);
  EXPECT_EQ(auto_comm(ExchangePath::communicator, DeviceList{DeviceKind::cpu, {0}}, 2), CommKind::mpi);
}

TEST(CommChoice, StrategiesDeclareTheirExchangePath) {
  EXPECT_EQ(strategy_info("allreduce").exchange, ExchangePath::communicator);
  EXPECT_EQ(strategy_info("tower").exchange, ExchangePath::host);
  EXPECT_EQ(strategy_info("param-avg").exchange, ExchangePath::host);
  EXPECT_EQ(strategy_info("single").exchange, ExchangePath::none);
  EXPECT_EQ(strategy_info("independent").exchange, ExchangePath::none);
  EXPECT_THROW(strategy_info("ring"), InputError);
}

TEST(CommChoice, ExplicitNcclIsRefusedWhereItCannotCarryTheExchange) {
  EXPECT_EQ(nccl_misfit(ExchangePath::communicator, DeviceList{DeviceKind::cuda, {0, 1}}), "");
  EXPECT_EQ(nccl_misfit(ExchangePath::communicator, DeviceList{DeviceKind::cuda, {2}}), "");
  EXPECT_EQ(nccl_misfit(ExchangePath::communicator, DeviceList{DeviceKind::cuda, {0, 0, 1}}),
            "gpu:0,0,1 puts 3 replicas on 2 GPU(s), and NCCL takes one rank per GPU in a communicator");
  EXPECT_EQ(nccl_misfit(ExchangePath::host, DeviceList{DeviceKind::cuda, {0, 1}}),
            "the strategy averages through host staging, not the communicator");
  EXPECT_EQ(nccl_misfit(ExchangePath::none, DeviceList{DeviceKind::cuda, {0, 1}}), "the strategy exchanges nothing");
}

// ---- what a record calls the path

TEST(CommChoice, RecordNamesThePathTheBytesTook) {
  EXPECT_EQ(exchange_route("tower", "threads", 1), "host staging + threads");
  EXPECT_EQ(exchange_route("param-avg", "nccl", 1), "host staging + threads");
  EXPECT_EQ(exchange_route("tower", "nccl", 2), "host staging + mpi");
  EXPECT_EQ(exchange_route("param-avg", "mpi", 1), "host staging + mpi");
  EXPECT_EQ(exchange_route("allreduce", "nccl", 1), "nccl");
  EXPECT_EQ(exchange_route("allreduce", "threads", 1), "threads");
  EXPECT_EQ(exchange_route("single", "threads", 1), "threads");
  EXPECT_EQ(exchange_route("tower", "probe", 1), "probe");
  EXPECT_THAT(std::string(busbw_basis("tower")), HasSubstr("host staging"));
  EXPECT_THAT(std::string(busbw_basis("allreduce")), HasSubstr("nccl-tests"));
  EXPECT_EQ(busbw_basis("independent"), "no exchange");
}

// ---- the threads communicator staging device replicas

// Host memory posing as a GPU: buffers are plain host memory, but its kind makes the communicators
// stage it like a GPU's. Counts its host allocations and checks that downloads land in them, and that
// every replica's download runs while the others' are running too.
class FakeGpu final : public Device {
 public:
  struct Shared {
    std::mutex m;
    std::condition_variable cv;
    int replicas = 0, downloading = 0;
    bool overlapped = true;
    std::set<std::thread::id> threads;
  };
  FakeGpu(int ordinal, Shared& shared) : shared_(shared), host_device_(make_cpu_device(ordinal, 1)) {
    ctx_.kind = DeviceKind::cuda;
    ctx_.device = ordinal;
  }
  const ExecCtx& ctx() const override { return ctx_; }
  std::string name() const override { return fmt::format("fake-gpu:{}", ctx_.device); }
  void* alloc(size_t bytes) override { return host_device_->alloc(bytes); }
  void free(void* p) noexcept override { host_device_->free(p); }
  void upload(void* dst, const void* src, size_t bytes) override { std::memcpy(dst, src, bytes); }
  void download(void* dst, const void* src, size_t bytes) override {
    EXPECT_TRUE(in_host_memory(dst, bytes)) << name() << ": staged outside its host memory";
    std::unique_lock lock(shared_.m);
    shared_.threads.insert(std::this_thread::get_id());
    ++shared_.downloading;
    shared_.cv.notify_all();
    // Every replica's copy must be under way at once: a sequential staging never gets past this.
    if (!shared_.cv.wait_for(lock, std::chrono::seconds(10), [&] { return shared_.downloading >= shared_.replicas; }))
      shared_.overlapped = false;
    lock.unlock();
    std::memcpy(dst, src, bytes);
  }
  void download_async(void* dst, const void* src, size_t bytes) override { download(dst, src, bytes); }
  void copy(void* dst, const void* src, size_t bytes) override { std::memcpy(dst, src, bytes); }
  void zero(void* p, size_t bytes) override { std::memset(p, 0, bytes); }
  void synchronize() override {}
  void* alloc_host(size_t bytes) override {
    void* p = ::operator new(bytes);
    ++allocations_;
    host_.push_back({static_cast<char*>(p), bytes});
    return p;
  }
  void free_host(void* p) noexcept override {
    std::erase_if(host_, [&](const auto& h) { return h.first == p; });
    ::operator delete(p);
  }
  void upload_now(void* dst, const void* src, size_t bytes) override { std::memcpy(dst, src, bytes); }
  size_t workspace_bytes() const override { return 0; }
  std::unique_ptr<StepClock> make_step_clock(int marks) override { return host_device_->make_step_clock(marks); }
  std::optional<DeviceMemoryUse> memory_use() const override { return std::nullopt; }
  int host_allocations() const { return allocations_; }

 private:
  bool in_host_memory(const void* p, size_t bytes) const {
    const char* c = static_cast<const char*>(p);
    for (const auto& [base, size] : host_)
      if (c >= base && c + bytes <= base + size) return true;
    return false;
  }
  ExecCtx ctx_;
  Shared& shared_;
  std::unique_ptr<Device> host_device_;  // the memory behind the pose
  std::vector<std::pair<char*, size_t>> host_;
  int allocations_ = 0;
};

TEST(ThreadsCommStaging, GpuReplicasStageThroughDeviceHostMemoryInParallel) {
  const int replicas = 3;
  FakeGpu::Shared shared;
  shared.replicas = replicas;
  std::vector<std::unique_ptr<FakeGpu>> gpus;
  std::vector<Device*> devs;
  for (int i = 0; i < replicas; ++i) devs.push_back(gpus.emplace_back(std::make_unique<FakeGpu>(i, shared)).get());
  const auto pg = make_single_process_group();
  const auto comm = make_communicator(CommKind::threads, *pg, devs, {});

  const int64_t n = 100003;
  std::vector<std::vector<float>> b(replicas, std::vector<float>(size_t(n)));
  std::vector<float*> ptrs;
  for (int r = 0; r < replicas; ++r) {
    for (int64_t i = 0; i < n; ++i) b[size_t(r)][size_t(i)] = float(i % 1000) * 0.25f + float(replicas * r);
    ptrs.push_back(b[size_t(r)].data());
  }
  comm->allreduce_mean(ptrs, n);
  for (int r = 0; r < replicas; ++r)
    for (int64_t i = 0; i < n; ++i)
      ASSERT_EQ(b[size_t(r)][size_t(i)], float(i % 1000) * 0.25f + float(replicas * (replicas - 1) / 2))
          << r << " " << i;
  EXPECT_TRUE(shared.overlapped) << "the replicas' downloads ran one after another";
  EXPECT_EQ(shared.threads.size(), size_t(replicas));
  for (const auto& g : gpus) EXPECT_EQ(g->host_allocations(), 1) << g->name();

  // A smaller exchange (a bucket) reuses the staging buffer; a broadcast copies replica 0 everywhere.
  shared.downloading = 0;
  for (int r = 0; r < replicas; ++r) b[size_t(r)][0] = float(7 * r + 1);
  comm->broadcast(ptrs, 5);
  for (int r = 0; r < replicas; ++r) EXPECT_EQ(b[size_t(r)][0], 1.0f) << r;
  for (const auto& g : gpus) EXPECT_EQ(g->host_allocations(), 1) << g->name();
}

}  // namespace
}  // namespace cnnb
