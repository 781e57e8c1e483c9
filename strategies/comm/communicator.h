#pragma once
// What moves a replica's flat buffers between replicas: strategies talk only to this interface.
// A process holds `local_replicas()` replicas; with several processes (mpirun) every process holds the
// same number, and world replica g = rank * local_replicas + local index. Every call is collective:
// all replicas' buffers are passed at once, by the one thread that drives the step.
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/device.h"
#include "strategies/comm/process_group.h"

namespace cnnb {

enum class CommKind {
#define COMMUNICATOR(id, name, build, description) id,
#include "strategies/strategies.def"
};

struct CommInfo {
  CommKind kind;
  std::string_view name, description;
  bool available;                  // in this build
  std::string_view requirement;    // what the build needs when it is not available
};
std::vector<CommInfo> communicator_infos();

// "threads", "mpi", "nccl"; InputError listing the valid names otherwise, or naming what the build lacks.
// InputError for an unknown name (listing the valid ones) or a communicator this build does not have.
CommKind parse_comm(std::string_view name);
// InputError "--comm mpi: this cnnbench was built without MPI (libopenmpi-dev)" for one it does not have.
void require_comm_built(CommKind kind);
std::string_view comm_name(CommKind k);

struct CommOptions {
  double timeout_seconds = 300;  // bound on one collective before the run fails instead of hanging
};

class Communicator {
 public:
  // `devices`: this process's replicas' devices, in local-index order.
  Communicator(ProcessGroup& processes, std::vector<Device*> devices);
  virtual ~Communicator() = default;
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  virtual std::string_view name() const = 0;

  ProcessGroup& processes() const { return pg_; }
  int local_replicas() const { return int(devices_.size()); }
  int world_replicas() const { return pg_.size() * local_replicas(); }
  int first_replica() const { return pg_.rank() * local_replicas(); }  // world index of local replica 0
  Device& device(int local) const { return *devices_[size_t(local)]; }

  // bufs[i] (count floats on local replica i's device) becomes, on every replica of every process, the
  // mean over all world replicas. Reproducible bit for bit from run to run.
  virtual void allreduce_mean(std::span<float* const> bufs, int64_t count) = 0;
  // bufs[i] becomes world replica 0's buffer.
  virtual void broadcast(std::span<float* const> bufs, int64_t count) = 0;

  // An exchange that overlaps the computation producing its data (allreduce's gradient buckets, in a thread of
  // its own while the replicas run backward). prepare_marks(n) once; then each step, on local replica
  // i's thread, mark_ready(i, k) right after queuing the last write to what exchange k reads; and, once
  // every local replica has marked k, allreduce_mean_marked(bufs, count, k) from the exchange thread,
  // which waits for exactly that work and returns when the mean is in place. CPU work is done when its
  // call returns, and the host-staging communicators download on the replica's stream, so only a
  // device-side communicator (nccl) needs more than the plain call.
  virtual void prepare_marks(int /*marks*/) {}
  virtual void mark_ready(int /*local*/, int /*mark*/) {}
  virtual void allreduce_mean_marked(std::span<float* const> bufs, int64_t count, int /*mark*/) {
    allreduce_mean(bufs, count);
  }

 protected:
  void check_buffers(std::span<float* const> bufs, int64_t count, std::string_view what) const;

 private:
  ProcessGroup& pg_;
  std::vector<Device*> devices_;
};

std::unique_ptr<Communicator> make_communicator(CommKind kind, ProcessGroup& processes, std::vector<Device*> devices,
                                                const CommOptions& options);

// The GPU module's NCCL communicator (strategies/comm/nccl.cpp is compiled into the module), which
// make_communicator reaches through this table.
struct GpuCommTable {
  std::unique_ptr<Communicator> (*make_nccl)(ProcessGroup& processes, std::vector<Device*> devices,
                                             const CommOptions& options);
};
inline constexpr const char* kGpuCommTable = "cnnb_gpu_comm";

// The factories behind make_communicator, one per file (declared for every kind; defined in the builds that have it).
#define COMMUNICATOR(id, name, build, description)                                                       \
  std::unique_ptr<Communicator> make_##id##_communicator(ProcessGroup& processes, std::vector<Device*> devices, \
                                                         const CommOptions& options);
#include "strategies/strategies.def"

}  // namespace cnnb
