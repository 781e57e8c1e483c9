// The nccl communicator: GPU replicas reduce with ncclAllReduce(ncclAvg) on NCCL's own stream per GPU.
// Every local GPU gets one rank of a non-blocking communicator (ncclCommInitRankConfig, blocking = 0),
// all created inside one group with the unique id made by rank 0 (locally in one process, sent over the
// process group, MPI, across processes). Non-blocking, every NCCL call returns at once, and the
// communicator says through ncclCommGetAsyncError when the work is done: so set-up, connection set-up
// (made by the first collective), each collective and finalize are all bounded by --comm-timeout.
// Compute hands over to NCCL with an event, and NCCL back to compute with another, so the exchange
// is ordered after backward and before the update without blocking either stream by hand. An exchange
// that overlaps backward (allreduce's gradient buckets) hands over with one event per bucket instead, recorded by
// the replica's thread right after it queued that bucket's gradients.
// Compiled in CI (CUDA + NCCL build) but not run there: no GPU.
#include "core/error.h"
#include "strategies/comm/communicator.h"

#if CNNB_HAVE_NCCL

#include <cuda_runtime_api.h>
#include <nccl.h>

#include <exception>

#include <fmt/format.h>

#include "backends/cuda/check.h"
#include "backends/cuda/cuda_ctx.h"
#include "strategies/comm/deadline.h"
#include "strategies/comm/nccl_status.h"

namespace cnnb {

namespace {

// The communicators of this process's ranks. Finalized (grouped: one thread owns them all), then
// destroyed; aborted instead after any failure once work was queued, or when finalize fails or times out,
// since a collective may still be running then.
class NcclComms {
 public:
  explicit NcclComms(double timeout) : timeout_(timeout) {}
  NcclComms(const NcclComms&) = delete;
  NcclComms& operator=(const NcclComms&) = delete;
  ~NcclComms();

  void mark_abort() noexcept { abort_ = true; }
  bool aborted() const { return abort_; }

  // Polls every communicator until none is in progress; a failure or the deadline marks them for abort
  // and throws.
  void wait_ready(std::string_view what, const Deadline& deadline);
  // The state of communicator i while a collective's completion is outstanding.
  PollState running_state(size_t i) const;

  std::vector<ncclComm_t> v;

 private:
  void finalize();

  double timeout_;
  bool abort_ = false;
};

// One ncclGroupStart..ncclGroupEnd on this thread. end() closes it and waits until the communicators
// leave ncclInProgress. Left by an exception while it lives (a call inside the group, end() itself, or
// what follows it in the guard's scope, such as the wait for the collective), it closes the group if
// still open and marks the communicators for abort: a collective may have been queued.
class NcclGroup {
 public:
  NcclGroup(NcclComms& comms, std::string_view what)
      : comms_(comms), what_(what), exceptions_(std::uncaught_exceptions()) {
    const ncclResult_t rc = ncclGroupStart();
    if (rc != ncclSuccess) fail("nccl: ncclGroupStart ({}) failed: {}", what_, describe_nccl(rc));
    open_ = true;
  }
  NcclGroup(const NcclGroup&) = delete;
  NcclGroup& operator=(const NcclGroup&) = delete;
  ~NcclGroup() {
    if (open_) (void)ncclGroupEnd();
    if (std::uncaught_exceptions() > exceptions_) comms_.mark_abort();
  }

  void end(const Deadline& deadline) {
    open_ = false;
    check_nccl_call(ncclGroupEnd(), fmt::format("ncclGroupEnd ({})", what_));
    comms_.wait_ready(what_, deadline);
  }

 private:
  NcclComms& comms_;
  std::string what_;
  int exceptions_;
  bool open_ = false;
};

NcclComms::~NcclComms() {
  if (v.empty()) return;
  if (!abort_) {
    try {
      finalize();
    } catch (...) {
      abort_ = true;
    }
  }
  for (ncclComm_t c : v)
    if (c) (void)(abort_ ? ncclCommAbort(c) : ncclCommDestroy(c));
}

void NcclComms::finalize() {
  const Deadline deadline(timeout_);
  NcclGroup group(*this, "ncclCommFinalize");
  for (ncclComm_t c : v)
    if (c) check_nccl_call(ncclCommFinalize(c), "ncclCommFinalize");
  group.end(deadline);
}

void NcclComms::wait_ready(std::string_view what, const Deadline& deadline) {
  poll_until_done(
      [&] {
        for (ncclComm_t c : v) {
          if (!c) continue;
          ncclResult_t async = ncclSuccess;
          const ncclResult_t query = ncclCommGetAsyncError(c, &async);
          PollState s = nccl_state(query, async);
          if (s.kind != PollState::done) return s;
        }
        return PollState{PollState::done, {}};
      },
      deadline, fmt::format("nccl: {}", what), [this] { mark_abort(); });
}

PollState NcclComms::running_state(size_t i) const {
  ncclResult_t async = ncclSuccess;
  const ncclResult_t query = ncclCommGetAsyncError(v[i], &async);
  return nccl_state(query, async, PollState::pending);
}

// NCCL's stream on one GPU and the two events of the handoff.
struct NcclLane {
  explicit NcclLane(int ord) : ordinal(ord) {
    cuda::ScopedDevice on(ordinal);
    try {
      CNNB_CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
      CNNB_CUDA_CHECK(cudaEventCreateWithFlags(&ready, cudaEventDisableTiming));
      CNNB_CUDA_CHECK(cudaEventCreateWithFlags(&done, cudaEventDisableTiming));
    } catch (...) {
      release();  // the destructor does not run for a constructor that throws
      throw;
    }
  }
  NcclLane(const NcclLane&) = delete;
  NcclLane& operator=(const NcclLane&) = delete;
  ~NcclLane() {
    cuda::ScopedDevice on(ordinal);
    release();
  }
  void release() noexcept {
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
      : Communicator(pg, devices), timeout_(timeout), comms_(timeout) {
    const int n = local_replicas();
    std::vector<int> ordinals;
    for (int i = 0; i < n; ++i) {
      if (device(i).kind() != DeviceKind::cuda)
        fail_input("--comm nccl exchanges between GPUs, but replica {} runs on {}", i, device(i).name());
      ordinals.push_back(device(i).ctx().device);
    }
    init(pg, ordinals);
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
    check_usable("ncclAllReduce");
    const Deadline deadline(timeout_);
    for (auto& lane : lanes_) {
      CNNB_CHECK(mark >= 0 && mark < int(lane->marks.size()), "nccl: mark {} of {} prepared", mark, lane->marks.size());
      cuda::ScopedDevice on(lane->ordinal);
      CNNB_CUDA_CHECK(cudaStreamWaitEvent(lane->stream, lane->marks[size_t(mark)], 0));
    }
    NcclGroup group(comms_, "ncclAllReduce");
    for (size_t i = 0; i < lanes_.size(); ++i)
      check_nccl_call(
          ncclAllReduce(bufs[i], bufs[i], size_t(count), ncclFloat, ncclAvg, comms_.v[i], lanes_[i]->stream),
          "ncclAllReduce");
    group.end(deadline);
    for (auto& lane : lanes_) {
      cuda::ScopedDevice on(lane->ordinal);
      CNNB_CUDA_CHECK(cudaEventRecord(lane->done, lane->stream));
    }
    wait_done("ncclAllReduce", deadline);
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

  // One rank per local GPU, created in one group (several ranks from one thread must be), each with its
  // device current; the group returns at once and the wait for set-up is bounded.
  void init(ProcessGroup& pg, const std::vector<int>& ordinals) {
    ncclUniqueId id{};
    if (pg.root()) {
      const ncclResult_t rc = ncclGetUniqueId(&id);
      if (rc != ncclSuccess) fail("nccl: ncclGetUniqueId failed: {}", describe_nccl(rc));
    }
    pg.broadcast(std::as_writable_bytes(std::span(&id, 1)), 0);
    const Deadline deadline(timeout_);
    comms_.v.assign(ordinals.size(), nullptr);
    ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
    config.blocking = 0;
    // One config per rank, all alive until the group has ended: NCCL may read them only then.
    std::vector<ncclConfig_t> configs(ordinals.size(), config);
    cuda::ScopedDevice restore(ordinals[0]);
    NcclGroup group(comms_, "communicator set-up (ncclCommInitRankConfig)");
    for (size_t i = 0; i < ordinals.size(); ++i) {
      CNNB_CUDA_CHECK(cudaSetDevice(ordinals[i]));
      check_nccl_call(ncclCommInitRankConfig(&comms_.v[i], world_replicas(), id, first_replica() + int(i), &configs[i]),
                      "ncclCommInitRankConfig");
    }
    group.end(deadline);
  }

  void check_usable(std::string_view what) const {
    if (comms_.aborted()) fail("nccl: {} after an earlier failure aborted the communicators", what);
  }

  // One collective on every local GPU: compute -> NCCL event handoff, the grouped calls (several GPUs
  // from one thread must be grouped, or the first call would wait for the others), NCCL -> compute
  // handoff, then a wait with a deadline (the exchange is timed as its own phase).
  template <class Call>
  void run(Call call, std::string_view what) {
    check_usable(what);
    const Deadline deadline(timeout_);
    for (size_t i = 0; i < lanes_.size(); ++i) {
      cuda::ScopedDevice on(lanes_[i]->ordinal);
      CNNB_CUDA_CHECK(cudaEventRecord(lanes_[i]->ready, compute_stream(i)));
      CNNB_CUDA_CHECK(cudaStreamWaitEvent(lanes_[i]->stream, lanes_[i]->ready, 0));
    }
    NcclGroup group(comms_, what);
    for (size_t i = 0; i < lanes_.size(); ++i) check_nccl_call(call(i), what);
    group.end(deadline);
    for (size_t i = 0; i < lanes_.size(); ++i) {
      cuda::ScopedDevice on(lanes_[i]->ordinal);
      CNNB_CUDA_CHECK(cudaEventRecord(lanes_[i]->done, lanes_[i]->stream));
      CNNB_CUDA_CHECK(cudaStreamWaitEvent(compute_stream(i), lanes_[i]->done, 0));
    }
    wait_done(what, deadline);
  }

  // Polls the done events and NCCL's asynchronous errors; a peer that never arrives ends in abort.
  void wait_done(std::string_view what, const Deadline& deadline) {
    for (size_t i = 0; i < lanes_.size(); ++i) {
      cuda::ScopedDevice on(lanes_[i]->ordinal);
      poll_until_done(
          [&] {
            const cudaError_t q = cudaEventQuery(lanes_[i]->done);
            if (q == cudaSuccess) return PollState{PollState::done, {}};
            if (q != cudaErrorNotReady) CNNB_CUDA_CHECK(q);
            return comms_.running_state(i);
          },
          deadline, fmt::format("nccl: {} on gpu {}", what, lanes_[i]->ordinal), [this] { comms_.mark_abort(); });
    }
  }

  double timeout_;
  std::vector<std::unique_ptr<NcclLane>> lanes_;
  NcclComms comms_;  // finalized or aborted before the lanes' streams, on which its kernels run, are destroyed
};

}  // namespace

std::unique_ptr<Communicator> make_nccl_communicator(ProcessGroup& processes, std::vector<Device*> devices,
                                                     const CommOptions& options) {
  return std::make_unique<NcclCommunicator>(processes, std::move(devices), options.timeout_seconds);
}

}  // namespace cnnb

// The GPU module's entry for the strategies layer (core/gpu_module.h).
extern "C" const cnnb::GpuCommTable cnnb_gpu_comm{&cnnb::make_nccl_communicator};

#endif
