#pragma once
// The processes of one run (mpirun ranks, or just this one) and the host-side collectives between
// them: what tower and param-avg average through, and how rank 0 learns the slowest rank's times.
// Every process must call the collectives in the same order; a process that does not arrive within
// the timeout makes the others fail with a message naming the collective instead of hanging.
#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace cnnb {

class ProcessGroup {
 public:
  virtual ~ProcessGroup() = default;
  virtual std::string name() const = 0;  // "single process", "mpi (Open MPI v4.1.4)"
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual int local_rank() const = 0;  // index among the processes on this host
  virtual int local_size() const = 0;  // processes on this host
  bool root() const { return rank() == 0; }

  // In place: every process ends with the element-wise sum over all processes (in rank order).
  virtual void allreduce_sum(std::span<float> v) = 0;
  virtual void allreduce_sum(std::span<double> v) = 0;
  // Rank 0 gets every process's v (all the same length) concatenated in rank order; the others get {}.
  virtual std::vector<double> gather(std::span<const double> v) = 0;
  virtual void broadcast(std::span<std::byte> v, int root) = 0;
  virtual void barrier() = 0;
};

// Just this process: every collective is the identity.
std::unique_ptr<ProcessGroup> make_single_process_group();

// The processes of MPI_COMM_WORLD; MPI is initialised on first use and finalised at exit. Without
// mpirun this process is rank 0 of 1. `timeout_seconds` bounds every collective. Throws InputError in
// a build without MPI.
std::unique_ptr<ProcessGroup> make_mpi_process_group(double timeout_seconds);

// True when a launcher (mpirun, srun) started this process: Open MPI's, PMIx's or PMI's rank variable is set.
bool launched_by_mpi();

// "Open MPI v4.1.4, ..." in an MPI build (without initialising MPI), otherwise "".
std::string mpi_library_version();

}  // namespace cnnb
