// The mpi communicator: each process first sums its own replicas' buffers on the host (in replica
// order), then the processes sum those partial sums with one MPI_Allreduce, and every replica gets
// the total divided by the world's replica count. Only the process group touches MPI itself.
#include "core/error.h"
#include "strategies/comm/communicator.h"
#include "strategies/comm/host_reduce.h"

#if CNNB_HAVE_MPI

#include <algorithm>
#include <thread>

namespace cnnb {

namespace {

class MpiCommunicator final : public Communicator {
 public:
  MpiCommunicator(ProcessGroup& pg, std::vector<Device*> devices)
      : Communicator(pg, devices),
        reducer_(devices, std::clamp<int>(int(std::thread::hardware_concurrency()) / std::max(1, pg.local_size()), 1,
                                          int(devices.size()))) {}

  std::string_view name() const override { return "mpi"; }

  void allreduce_mean(std::span<float* const> bufs, int64_t count) override {
    check_buffers(bufs, count, "allreduce_mean");
    const auto views = reducer_.host_views(bufs, count);
    if (processes().size() == 1) {
      reducer_.mean_in_place(views, count, float(world_replicas()));
    } else {
      sum_.resize(size_t(count));
      reducer_.sum(views, count, sum_.data());
      processes().allreduce_sum(std::span(sum_));
      reducer_.assign_divided(views, count, sum_.data(), float(world_replicas()));
    }
    reducer_.write_back(bufs, count);
  }

  void broadcast(std::span<float* const> bufs, int64_t count) override {
    check_buffers(bufs, count, "broadcast");
    const auto views = reducer_.host_views(bufs, count);
    processes().broadcast(std::as_writable_bytes(std::span(views[0], size_t(count))), 0);
    reducer_.assign_divided(views.subspan(1), count, views[0], 1.0f);
    reducer_.write_back(bufs, count);
  }

 private:
  HostReducer reducer_;
  std::vector<float> sum_;
};

}  // namespace

std::unique_ptr<Communicator> make_mpi_communicator(ProcessGroup& processes, std::vector<Device*> devices,
                                                    const CommOptions&) {
  return std::make_unique<MpiCommunicator>(processes, std::move(devices));
}

}  // namespace cnnb

#endif
