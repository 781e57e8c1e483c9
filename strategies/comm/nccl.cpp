// The nccl communicator: GPU replicas reduce with ncclAllReduce(ncclAvg) on NCCL's own stream per GPU.
// One process: ncclCommInitAll over its GPUs. Several processes: rank 0's unique id goes to the others
// over the process group (MPI), then every process inits one rank per local GPU in a group call.
// Compute hands over to NCCL with an event, and NCCL back to compute with another, so the exchange
// is ordered after backward and before the update without blocking either stream by hand. An exchange
// that overlaps backward (allreduce --buckets) hands over with one event per bucket instead, recorded by
// the replica's thread right after it queued that bucket's gradients.
// Compiled in CI (CUDA + NCCL build) but not run there: no GPU.
#include "core/error.h"
#include "strategies/comm/communicator.h"

#if CNNB_HAVE_NCCL

#include <cuda_runtime_api.h>
#include <nccl.h>

#include <chrono>
#include <thread>

#include "backends/cuda/check.h"
#include "backends/cuda/cuda_ctx.h"

namespace cnnb {

namespace {

void check_nccl(ncclResult_t rc, std::string_view what) {
  if (rc == ncclSuccess) return;
  const char* last = ncclGetLastError(nullptr);
  fail("nccl: {} failed: {}{}{}", what, ncclGetErrorString(rc), last && *last ? ": " : "", last ? last : "");
}

// The communicators of this process's ranks; aborted instead of destroyed after a failure, since a
// collective may still be running then.
struct NcclComms {
  std::vector<ncclComm_t> v;
  bool abort = false;
  NcclComms() = default;
  NcclComms(const NcclComms&) = delete;
  NcclComms& operator=(const NcclComms&) = delete;
  ~NcclComms() {
    for (ncclComm_t c : v)
      if (c) (void)(abort ? ncclCommAbort(c) : ncclCommDestroy(c));
  }
};

// NCCL's stream on one GPU and the two events of the handoff.
struct NcclLane {
  explicit NcclLane(int ord) : ordinal(ord) {
    cuda::ScopedDevice on(ordinal);
    CNNB_CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
    CNNB_CUDA_CHECK(cudaEventCreateWithFlags(&ready, cudaEventDisableTiming));
    CNNB_CUDA_CHECK(cudaEventCreateWithFlags(&done, cudaEventDisableTiming));
  }
  NcclLane(const NcclLane&) = delete;
  NcclLane& operator=(const NcclLane&) = delete;
  ~NcclLane() {
    cuda::ScopedDevice on(ordinal);
    for (cudaEvent_t m : marks) (void)cudaEventDestroy(m);
    if (done) (void)cudaEventDestroy(done);
    if (ready) (void)cudaEventDestroy(ready);
    if (stream) (void)cudaStreamDestroy(stream);
    (void)cudaGetLastError();
  }
  void add_marks(int n) {
    cuda::ScopedDevice on(ordinal);
    while (int(marks.size()) < n) {
      cudaEvent_t e = nullptr;
      CNNB_CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
      marks.push_back(e);
    }
  }
  int ordinal;
  cudaStream_t stream = nullptr;
  cudaEvent_t ready = nullptr, done = nullptr;
  std::vector<cudaEvent_t> marks;  // one per overlapped exchange of a step
};

class NcclCommunicator final : public Communicator {
 public:
  NcclCommunicator(ProcessGroup& pg, std::vector<Device*> devices, double timeout)
      : Communicator(pg, devices), timeout_(timeout) {
    const int n = local_replicas();
    std::vector<int> ordinals;
    for (int i = 0; i < n; ++i) {
      if (device(i).kind() != DeviceKind::cuda)
        fail_input("--comm nccl exchanges between GPUs, but replica {} runs on {}", i, device(i).name());
      ordinals.push_back(device(i).ctx().device);
    }
    comms_.v.assign(size_t(n), nullptr);
    if (pg.size() == 1) {
      check_nccl(ncclCommInitAll(comms_.v.data(), n, ordinals.data()), "ncclCommInitAll");
    } else {
      ncclUniqueId id{};
      if (pg.root()) check_nccl(ncclGetUniqueId(&id), "ncclGetUniqueId");
      pg.broadcast(std::as_writable_bytes(std::span(&id, 1)), 0);
      // Several ranks from one thread must be created inside one group, each with its device current.
      cuda::ScopedDevice restore(ordinals[0]);
      check_nccl(ncclGroupStart(), "ncclGroupStart");
      for (int i = 0; i < n; ++i) {
        CNNB_CUDA_CHECK(cudaSetDevice(ordinals[size_t(i)]));
        check_nccl(ncclCommInitRank(&comms_.v[size_t(i)], world_replicas(), id, first_replica() + i),
                   "ncclCommInitRank");
      }
      check_nccl(ncclGroupEnd(), "ncclGroupEnd (ncclCommInitRank)");
    }
    for (int ord : ordinals) lanes_.push_back(std::make_unique<NcclLane>(ord));
  }

  std::string_view name() const override { return "nccl"; }

  void allreduce_mean(std::span<float* const> bufs, int64_t count) override {
    check_buffers(bufs, count, "allreduce_mean");
    run(
        [&](size_t i) {
          return ncclAllReduce(bufs[i], bufs[i], size_t(count), ncclFloat, ncclAvg, comms_.v[i], lanes_[i]->stream);
        },
        "ncclAllReduce");
  }

  void prepare_marks(int marks) override {
    for (auto& lane : lanes_) lane->add_marks(marks);
  }

  // On the replica's thread, with the replica's device current: captures exactly the work queued so far.
  void mark_ready(int local, int mark) override {
    NcclLane& lane = *lanes_[size_t(local)];
    CNNB_CHECK(mark >= 0 && mark < int(lane.marks.size()), "nccl: mark {} of {} prepared", mark, lane.marks.size());
    cuda::ScopedDevice on(lane.ordinal);
    CNNB_CUDA_CHECK(cudaEventRecord(lane.marks[size_t(mark)], compute_stream(size_t(local))));
  }

  // The replicas' streams keep computing: NCCL's stream waits for the mark only, and nothing is queued
  // on the compute streams from here (that would stall the rest of backward behind this bucket). The
  // host wait for completion orders the update, which is queued only after the whole exchange returned.
  void allreduce_mean_marked(std::span<float* const> bufs, int64_t count, int mark) override {
    check_buffers(bufs, count, "allreduce_mean");
    for (auto& lane : lanes_) {
      CNNB_CHECK(mark >= 0 && mark < int(lane->marks.size()), "nccl: mark {} of {} prepared", mark, lane->marks.size());
      cuda::ScopedDevice on(lane->ordinal);
      CNNB_CUDA_CHECK(cudaStreamWaitEvent(lane->stream, lane->marks[size_t(mark)], 0));
    }
    check_nccl(ncclGroupStart(), "ncclGroupStart");
    for (size_t i = 0; i < lanes_.size(); ++i)
      check_nccl(ncclAllReduce(bufs[i], bufs[i], size_t(count), ncclFloat, ncclAvg, comms_.v[i], lanes_[i]->stream),
                 "ncclAllReduce");
    check_nccl(ncclGroupEnd(), "ncclAllReduce");
    for (auto& lane : lanes_) {
      cuda::ScopedDevice on(lane->ordinal);
      CNNB_CUDA_CHECK(cudaEventRecord(lane->done, lane->stream));
    }
    wait_done("ncclAllReduce");
  }

  void broadcast(std::span<float* const> bufs, int64_t count) override {
    check_buffers(bufs, count, "broadcast");
    run(
        [&](size_t i) {
          return ncclBroadcast(bufs[i], bufs[i], size_t(count), ncclFloat, 0, comms_.v[i], lanes_[i]->stream);
        },
        "ncclBroadcast");
  }

 private:
  cudaStream_t compute_stream(size_t i) const { return device(int(i)).ctx().cuda->stream; }

  // One collective on every local GPU: compute -> NCCL event handoff, the grouped calls, NCCL ->
  // compute handoff, then a wait with a deadline (the exchange is timed as its own phase).
  template <class Call>
  void run(Call call, std::string_view what) {
    for (size_t i = 0; i < lanes_.size(); ++i) {
      cuda::ScopedDevice on(lanes_[i]->ordinal);
      CNNB_CUDA_CHECK(cudaEventRecord(lanes_[i]->ready, compute_stream(i)));
      CNNB_CUDA_CHECK(cudaStreamWaitEvent(lanes_[i]->stream, lanes_[i]->ready, 0));
    }
    // Calls for several GPUs from one thread must be grouped, or the first would wait for the others.
    check_nccl(ncclGroupStart(), "ncclGroupStart");
    for (size_t i = 0; i < lanes_.size(); ++i) check_nccl(call(i), what);
    check_nccl(ncclGroupEnd(), what);
    for (size_t i = 0; i < lanes_.size(); ++i) {
      cuda::ScopedDevice on(lanes_[i]->ordinal);
      CNNB_CUDA_CHECK(cudaEventRecord(lanes_[i]->done, lanes_[i]->stream));
      CNNB_CUDA_CHECK(cudaStreamWaitEvent(compute_stream(i), lanes_[i]->done, 0));
    }
    wait_done(what);
  }

  // Polls the done events and NCCL's asynchronous errors; a peer that never arrives ends in abort.
  void wait_done(std::string_view what) {
    using Clock = std::chrono::steady_clock;
    const auto deadline = Clock::now() + std::chrono::duration<double>(timeout_);
    for (size_t i = 0; i < lanes_.size(); ++i) {
      cuda::ScopedDevice on(lanes_[i]->ordinal);
      for (;;) {
        const cudaError_t q = cudaEventQuery(lanes_[i]->done);
        if (q == cudaSuccess) break;
        if (q != cudaErrorNotReady) CNNB_CUDA_CHECK(q);
        ncclResult_t async = ncclSuccess;
        check_nccl(ncclCommGetAsyncError(comms_.v[i], &async), "ncclCommGetAsyncError");
        if (async != ncclSuccess) {
          comms_.abort = true;
          check_nccl(async, what);
        }
        if (Clock::now() > deadline) {
          comms_.abort = true;
          fail("nccl: {} on gpu {} did not complete within {} s: another rank has died or stalled (--comm-timeout)",
               what, lanes_[i]->ordinal, timeout_);
        }
        std::this_thread::sleep_for(std::chrono::microseconds(20));
      }
    }
  }

  double timeout_;
  NcclComms comms_;                               // destroyed after the lanes, whose streams it may use
  std::vector<std::unique_ptr<NcclLane>> lanes_;
};

}  // namespace

std::unique_ptr<Communicator> make_nccl_communicator(ProcessGroup& processes, std::vector<Device*> devices,
                                                     const CommOptions& options) {
  return std::make_unique<NcclCommunicator>(processes, std::move(devices), options.timeout_seconds);
}

}  // namespace cnnb

#endif
