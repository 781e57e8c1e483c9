#include "strategies/comm/process_group.h"

#include <cstdlib>

namespace cnnb {

namespace {

class SingleProcess final : public ProcessGroup {
 public:
  std::string name() const override { return "single process"; }
  int rank() const override { return 0; }
  int size() const override { return 1; }
  int local_rank() const override { return 0; }
  int local_size() const override { return 1; }
  void allreduce_sum(std::span<float>) override {}
  void allreduce_sum(std::span<double>) override {}
  std::vector<double> gather(std::span<const double> v) override { return {v.begin(), v.end()}; }
  void broadcast(std::span<std::byte>, int) override {}
  void barrier() override {}
};

}  // namespace

std::unique_ptr<ProcessGroup> make_single_process_group() { return std::make_unique<SingleProcess>(); }

bool launched_by_mpi() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"})
    if (std::getenv(v)) return true;
  return false;
}

}  // namespace cnnb
