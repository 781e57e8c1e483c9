// The threads communicator: the replicas of one process reduce through shared memory. Each call sums
// every element in replica order, split over the caller and one helper thread per further replica
// (up to the core count), then writes the mean into every replica's buffer.
#include <algorithm>
#include <thread>

#include "core/error.h"
#include "strategies/comm/communicator.h"
#include "strategies/comm/host_reduce.h"

namespace cnnb {

namespace {

class ThreadsCommunicator final : public Communicator {
 public:
  ThreadsCommunicator(ProcessGroup& pg, std::vector<Device*> devices)
      : Communicator(pg, devices),
        reducer_(devices, std::min<int>(int(devices.size()), int(std::max(1u, std::thread::hardware_concurrency())))) {}

  std::string_view name() const override { return "threads"; }

  void allreduce_mean(std::span<float* const> bufs, int64_t count) override {
    check_buffers(bufs, count, "allreduce_mean");
    const auto views = reducer_.host_views(bufs, count);
    reducer_.mean_in_place(views, count, float(local_replicas()));
    reducer_.write_back(bufs, count);
  }

  void broadcast(std::span<float* const> bufs, int64_t count) override {
    check_buffers(bufs, count, "broadcast");
    const auto views = reducer_.host_views(bufs, count);
    reducer_.assign_divided(views.subspan(1), count, views[0], 1.0f);
    reducer_.write_back(bufs, count);
  }

 private:
  HostReducer reducer_;
};

}  // namespace

std::unique_ptr<Communicator> make_threads_communicator(ProcessGroup& processes, std::vector<Device*> devices,
                                                        const CommOptions&) {
  if (processes.size() > 1)
    fail_input("--comm threads connects the replicas of one process, but {} started {} processes: use --comm mpi",
               "mpirun", processes.size());
  return std::make_unique<ThreadsCommunicator>(processes, std::move(devices));
}

}  // namespace cnnb
