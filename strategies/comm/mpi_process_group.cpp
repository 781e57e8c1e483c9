// The MPI process group: host collectives over MPI_COMM_WORLD with a deadline. Compiled in every
// build; without MPI it only says so.
#include "strategies/comm/process_group.h"

#include "core/error.h"

#if CNNB_HAVE_MPI
// The C API only: the deprecated C++ bindings would come along otherwise.
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>

#include <chrono>
#include <exception>
#include <thread>
#endif

namespace cnnb {

#if CNNB_HAVE_MPI

namespace {

void check_mpi(int rc, std::string_view what) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING] = {};
  int len = 0;
  MPI_Error_string(rc, text, &len);
  fail("mpi: {} failed: {}", what, std::string_view(text, size_t(len)));
}

// MPI may be initialised once per process and must be finalised before exit, so this one object is
// process-wide by nature. When a collective timed out or an error unwound through a process group,
// the exit aborts the whole job instead: MPI_Finalize would wait for the ranks that are gone or stuck.
class MpiRuntime {
 public:
  static MpiRuntime& get() {
    static MpiRuntime rt;
    return rt;
  }
  void mark_failed() { failed_ = true; }

 private:
  MpiRuntime() {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (!initialized) {
      // SERIALIZED: one thread at a time calls MPI (the training thread, or allreduce's bucket exchange
      // thread while the training thread waits for the step), and not necessarily the one that started it.
      int provided = 0;
      check_mpi(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &provided), "MPI_Init_thread");
      if (provided < MPI_THREAD_SERIALIZED)
        fail("mpi: this MPI library provides thread level {}, cnnbench needs MPI_THREAD_SERIALIZED ({})", provided,
             int(MPI_THREAD_SERIALIZED));
      owned_ = true;
    }
  }
  ~MpiRuntime() {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!owned_ || finalized) return;
    if (failed_)
      MPI_Abort(MPI_COMM_WORLD, 1);
    else
      MPI_Finalize();
  }
  bool owned_ = false, failed_ = false;
};

class MpiGroup final : public ProcessGroup {
 public:
  explicit MpiGroup(double timeout) : rt_(MpiRuntime::get()), timeout_(timeout), unwinding_(std::uncaught_exceptions()) {
    check_mpi(MPI_Comm_dup(MPI_COMM_WORLD, &comm_), "MPI_Comm_dup");
    MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN);
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &size_);
    MPI_Comm node = MPI_COMM_NULL;
    check_mpi(MPI_Comm_split_type(comm_, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node), "MPI_Comm_split_type");
    MPI_Comm_rank(node, &local_rank_);
    MPI_Comm_size(node, &local_size_);
    MPI_Comm_free(&node);
  }
  ~MpiGroup() override {
    if (std::uncaught_exceptions() > unwinding_) failed_ = true;
    if (failed_) {
      rt_.mark_failed();
      return;  // a pending request may still use comm_
    }
    MPI_Comm_free(&comm_);
  }

  std::string name() const override { return fmt::format("mpi ({} process{})", size_, size_ == 1 ? "" : "es"); }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int local_rank() const override { return local_rank_; }
  int local_size() const override { return local_size_; }

  void allreduce_sum(std::span<float> v) override { allreduce(v.data(), v.size(), MPI_FLOAT, "MPI_Iallreduce(float)"); }
  void allreduce_sum(std::span<double> v) override {
    allreduce(v.data(), v.size(), MPI_DOUBLE, "MPI_Iallreduce(double)");
  }
  std::vector<double> gather(std::span<const double> v) override {
    std::vector<double> all(rank_ == 0 ? v.size() * size_t(size_) : 0);
    MPI_Request req;
    check(MPI_Igather(v.data(), count(v.size()), MPI_DOUBLE, all.data(), count(v.size()), MPI_DOUBLE, 0, comm_, &req),
          "MPI_Igather");
    wait(req, "MPI_Igather");
    return all;
  }
  void broadcast(std::span<std::byte> v, int root) override {
    MPI_Request req;
    check(MPI_Ibcast(v.data(), count(v.size()), MPI_BYTE, root, comm_, &req), "MPI_Ibcast");
    wait(req, "MPI_Ibcast");
  }
  void barrier() override {
    MPI_Request req;
    check(MPI_Ibarrier(comm_, &req), "MPI_Ibarrier");
    wait(req, "MPI_Ibarrier");
  }

 private:
  int count(size_t n) const {
    if (n > size_t(std::numeric_limits<int>::max())) fail("mpi: {} elements do not fit one MPI call", n);
    return int(n);
  }
  void check(int rc, std::string_view what) {
    if (rc != MPI_SUCCESS) failed_ = true;
    check_mpi(rc, what);
  }
  void allreduce(void* data, size_t n, MPI_Datatype type, const char* what) {
    if (size_ == 1 || n == 0) return;
    MPI_Request req;
    check(MPI_Iallreduce(MPI_IN_PLACE, data, count(n), type, MPI_SUM, comm_, &req), what);
    wait(req, what);
  }
  // Polls instead of blocking so that a missing rank is noticed; after a short spin it sleeps between
  // polls to leave the cores to replicas that are still computing (ranks often share a host).
  void wait(MPI_Request& req, const char* what) {
    using Clock = std::chrono::steady_clock;
    const auto start = Clock::now();
    const auto deadline = start + std::chrono::duration<double>(timeout_);
    for (int polls = 0;; ++polls) {
      int done = 0;
      check(MPI_Test(&req, &done, MPI_STATUS_IGNORE), what);
      if (done) return;
      if (polls < 200) continue;
      if (Clock::now() > deadline) {
        failed_ = true;
        fail("mpi: rank {} of {}: {} did not complete within {} s: another rank has died, stalled, or is running a "
             "different command (the limit is --comm-timeout)",
             rank_, size_, what, timeout_);
      }
      std::this_thread::sleep_for(std::chrono::microseconds(20));
    }
  }

  MpiRuntime& rt_;
  double timeout_;
  int unwinding_;
  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0, size_ = 1, local_rank_ = 0, local_size_ = 1;
  bool failed_ = false;
};

}  // namespace

std::unique_ptr<ProcessGroup> make_mpi_process_group(double timeout_seconds) {
  CNNB_CHECK(timeout_seconds > 0, "the collective timeout must be positive, got {}", timeout_seconds);
  return std::make_unique<MpiGroup>(timeout_seconds);
}

std::string mpi_library_version() {
  char text[MPI_MAX_LIBRARY_VERSION_STRING] = {};
  int len = 0;
  MPI_Get_library_version(text, &len);
  std::string v(text, size_t(len));
  while (!v.empty() && (v.back() == '\n' || v.back() == '\0')) v.pop_back();
  return v;
}

#else

std::unique_ptr<ProcessGroup> make_mpi_process_group(double) {
  fail_input("--comm mpi: this cnnbench was built without MPI (install libopenmpi-dev and re-run cmake)");
}

std::string mpi_library_version() { return ""; }

#endif

}  // namespace cnnb
