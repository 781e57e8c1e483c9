// Fault injection through the real CLI: a full output file system (a file size limit, so write() fails
// with EFBIG part way through a line), a sweep interrupted with SIGINT and re-run, and an MPI rank killed
// mid-training. (SIGKILL of a sweep and a torn last line are in test_sweep.cpp.)
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "cli_runner.h"
#include "reports/results.h"

namespace cnnb {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using test::run_cli;
using test::TempDir;

constexpr const char* kModel = "conv3x3x4,relu,maxpool2,fc10";
constexpr const char* kData = "synthetic:n=128,shape=1x10x10,classes=10,test=32";

std::string slurp(const fs::path& f) {
  std::ifstream in(f, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Every line of a results file, each parsed (a line that is not JSON fails the test).
std::vector<nlohmann::json> parsed_lines(const fs::path& f) {
  std::vector<nlohmann::json> v;
  std::istringstream in(slurp(f));
  for (std::string line; std::getline(in, line);) {
    EXPECT_FALSE(line.empty()) << f;
    try {
      v.push_back(nlohmann::json::parse(line));
    } catch (const std::exception& e) {
      ADD_FAILURE() << f << ": line " << v.size() + 1 << " is not JSON: " << e.what();
    }
  }
  return v;
}

// A child process whose stdout and stderr go into one pipe the parent reads from a thread.
class Child {
 public:
  // `setup` runs in the child before exec (resource limits, signal dispositions, environment).
  template <class Setup>
  Child(const std::string& shell_command, Setup setup) {
    int fds[2];
    if (::pipe(fds) != 0) throw std::runtime_error("pipe failed");
    pid_ = ::fork();
    if (pid_ == 0) {
      ::setpgid(0, 0);  // its own group, so that the test can end the whole job if it hangs
      ::dup2(fds[1], 1);
      ::dup2(fds[1], 2);
      ::close(fds[0]);
      ::close(fds[1]);
      setup();
      ::execl("/bin/sh", "sh", "-c", shell_command.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(fds[1]);
    reader_ = std::thread([this, fd = fds[0]] {
      char buf[4096];
      for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) {
        const std::lock_guard lock(mu_);
        out_.append(buf, size_t(n));
      }
      ::close(fd);
    });
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() {
    if (!waited_) {
      ::kill(-pid_, SIGKILL);
      wait_for(std::chrono::seconds(10));
    }
    if (reader_.joinable()) reader_.join();
  }
  pid_t pid() const { return pid_; }
  std::string output() {
    const std::lock_guard lock(mu_);
    return out_;
  }
  // Waits up to `limit`; true when the child ended (status() then holds its wait status).
  bool wait_for(std::chrono::duration<double> limit) {
    const auto end = Clock::now() + limit;
    while (!waited_) {
      const pid_t r = ::waitpid(pid_, &status_, WNOHANG);
      if (r == pid_) {
        waited_ = true;
        break;
      }
      if (Clock::now() > end) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (reader_.joinable()) reader_.join();
    return true;
  }
  int status() const { return status_; }

 private:
  pid_t pid_ = -1;
  int status_ = 0;
  bool waited_ = false;
  std::mutex mu_;
  std::string out_;
  std::thread reader_;
};

std::string cli(const std::string& args) { return fmt::format("exec '{}' {}", CNNB_CLI_PATH, args); }

// Four runs: the cpu-ref baseline and cpu-gemm, at two batch sizes.
std::string sweep_args(const fs::path& out, const std::string& extra = "") {
  return fmt::format("sweep --models {} --datasets {} --backends cpu-gemm --batches 8,16 --steps 2 --warmup 0 "
                     "--threads 1 --test-limit 16 --name faults --out '{}' {}",
                     kModel, kData, out.string(), extra);
}

void limit_file_size(rlim_t bytes) {
  const rlimit lim{bytes, bytes};
  ::setrlimit(RLIMIT_FSIZE, &lim);
  ::signal(SIGXFSZ, SIG_IGN);  // so that write() fails with EFBIG instead of the signal killing the process
}

// ---- a full output file system

TEST(FaultsDisk, ASweepThatFillsItsFileStopsWithOneMessageAndKeepsWholeLines) {
  TempDir dir;
  // Line sizes from an unhindered sweep: the limit then falls in the middle of the third line.
  const fs::path free_out = dir / "free.jsonl";
  const auto first = run_cli(sweep_args(free_out));
  ASSERT_EQ(first.exit_code, 0) << first.out;
  std::vector<size_t> sizes;
  {
    std::istringstream in(slurp(free_out));
    for (std::string l; std::getline(in, l);) sizes.push_back(l.size() + 1);
  }
  ASSERT_EQ(sizes.size(), 4u);
  const rlim_t limit = sizes[0] + sizes[1] + sizes[2] / 2;

  const fs::path out = dir / "full.jsonl";
  Child c(cli(sweep_args(out)), [&] { limit_file_size(limit); });
  ASSERT_TRUE(c.wait_for(std::chrono::seconds(120))) << c.output();
  ASSERT_TRUE(WIFEXITED(c.status())) << c.output();
  EXPECT_EQ(WEXITSTATUS(c.status()), 2) << c.output();
  const std::string msg = fmt::format("cnnbench: error: cannot write {}: File too large", out.string());
  EXPECT_NE(c.output().find(msg), std::string::npos) << c.output();
  EXPECT_EQ(c.output().find("cnnbench: error:"), c.output().rfind("cnnbench: error:")) << "one message\n" << c.output();

  // The two finished runs are there, whole; the third's partial line was cut off.
  const std::string text = slurp(out);
  EXPECT_LE(text.size(), limit);
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n');
  const auto lines = parsed_lines(out);
  ASSERT_EQ(lines.size(), 2u);
  for (const auto& l : lines) {
    EXPECT_EQ(l["status"], "ok") << l.dump();
    EXPECT_TRUE(validate_record(l).empty()) << l.dump();
  }

  // With space again, the same sweep finishes the other two and repeats none.
  const auto again = run_cli(sweep_args(out));
  ASSERT_EQ(again.exit_code, 0) << again.out;
  EXPECT_NE(again.out.find("2 to run, 2 already in"), std::string::npos) << again.out;
  const auto all = parsed_lines(out);
  ASSERT_EQ(all.size(), 4u);
  std::set<std::string> hashes;
  for (const auto& l : all) {
    EXPECT_EQ(l["status"], "ok");
    EXPECT_TRUE(hashes.insert(l["sweep"]["config_hash"].get<std::string>()).second) << "duplicate " << l.dump();
  }
  EXPECT_EQ(all[0], lines[0]);
  EXPECT_EQ(all[1], lines[1]);
}

TEST(FaultsDisk, ARunRecordThatDoesNotFitLeavesNoFileBehind) {
  TempDir dir;
  const fs::path out = dir / "run.json";
  Child c(cli(fmt::format("train --model {} --dataset {} --backend cpu-gemm --threads 1 --batch 8 --steps 2 --warmup 0 "
                          "--test-limit 16 --out '{}'",
                          kModel, kData, out.string())),
          [] { limit_file_size(1024); });  // a run record is several KiB
  ASSERT_TRUE(c.wait_for(std::chrono::seconds(60))) << c.output();
  ASSERT_TRUE(WIFEXITED(c.status())) << c.output();
  EXPECT_EQ(WEXITSTATUS(c.status()), 2) << c.output();
  EXPECT_NE(c.output().find(fmt::format("cnnbench: error: cannot write {}: File too large", out.string())),
            std::string::npos)
      << c.output();
  EXPECT_TRUE(fs::is_empty(dir.path())) << "no record and no temporary file";
}

// ---- interrupted sweeps

TEST(FaultsSignals, ASweepInterruptedWithSigintResumesWithEveryRunOnce) {
  TempDir dir;
  const fs::path out = dir / "int.jsonl";
  const std::string args = sweep_args(out, "--repetitions 5 --epochs 3");
  std::vector<nlohmann::json> before;
  {
    Child c(cli(args), [] {});
    const auto t0 = Clock::now();
    while ((!fs::exists(out) || slurp(out).find('\n') == std::string::npos) && Clock::now() - t0 < std::chrono::seconds(60))
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    ::kill(c.pid(), SIGINT);
    ASSERT_TRUE(c.wait_for(std::chrono::seconds(30))) << c.output();
    // Ctrl-C ends it at once (no handler): by the signal, not by a normal exit.
    EXPECT_TRUE(WIFSIGNALED(c.status()) && WTERMSIG(c.status()) == SIGINT) << c.status() << "\n" << c.output();
    const std::string text = slurp(out);
    ASSERT_FALSE(text.empty());
    EXPECT_EQ(text.back(), '\n');
    before = parsed_lines(out);
    ASSERT_GE(before.size(), 1u);
    ASSERT_LT(before.size(), 4u) << "the sweep finished before the signal: the test proves nothing";
  }
  const auto again = run_cli(args);
  ASSERT_EQ(again.exit_code, 0) << again.out;
  const auto all = parsed_lines(out);
  ASSERT_EQ(all.size(), 4u) << again.out;
  std::set<std::string> hashes;
  for (size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i]["status"], "ok");
    EXPECT_TRUE(validate_record(all[i]).empty()) << all[i].dump();
    EXPECT_TRUE(hashes.insert(all[i]["sweep"]["config_hash"].get<std::string>()).second) << "duplicate " << all[i].dump();
    if (i < before.size()) EXPECT_EQ(all[i], before[i]) << "a finished line changed";
  }
}

// ---- a lost MPI rank

#ifdef CNNB_MPIEXEC
// The pid of the process whose environment holds both `tag` and OMPI_COMM_WORLD_RANK=rank, or -1.
pid_t find_rank(const std::string& tag, int rank) {
  const std::string want_rank = fmt::format("OMPI_COMM_WORLD_RANK={}", rank);
  for (const auto& e : fs::directory_iterator("/proc")) {
    const std::string name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    const std::string env = slurp(e.path() / "environ");
    bool has_tag = false, has_rank = false;
    for (size_t p = 0; p < env.size();) {
      const size_t end = env.find('\0', p);
      const std::string_view var(env.data() + p, (end == std::string::npos ? env.size() : end) - p);
      has_tag |= var == tag;
      has_rank |= var == want_rank;
      p = end == std::string::npos ? env.size() : end + 1;
    }
    if (has_tag && has_rank) return pid_t(std::stoi(name));
  }
  return -1;
}

struct JobEnd {
  bool ended = false;
  double seconds = 0;  // from the signal to the end of mpirun
  int status = 0;
  std::string output;
};

constexpr double kCommTimeout = 5;

// mpirun -np 2 cnnbench train, long enough that rank 1 gets `sig` mid-training; then waits for the job.
JobEnd signal_rank1_mid_training(int sig) {
  const std::string tag = fmt::format("CNNB_FAULT_TEST={}-{}", ::getpid(), sig);
  const std::string cmd = fmt::format(
      "exec '{}' --oversubscribe -np 2 '{}' train --comm mpi --strategy allreduce --comm-timeout {} --model {} "
      "--dataset synthetic:n=20000,shape=1x10x10,classes=10,test=16 --backend cpu-gemm --threads 1 --batch 16 "
      "--epochs 2000 --warmup 0",
      CNNB_MPIEXEC, CNNB_CLI_PATH, kCommTimeout, kModel);
  Child job(cmd, [&] {
    ::putenv(const_cast<char*>(tag.c_str()));
    ::setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);  // CI runs as root
    ::setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
    ::setenv("ASAN_OPTIONS", "detect_leaks=0", 1);  // Open MPI does not free its own allocations
  });
  JobEnd end;
  // Rank 0 prints progress once training runs.
  const auto t0 = Clock::now();
  while (job.output().find("epoch 1/2000 step") == std::string::npos && Clock::now() - t0 < std::chrono::seconds(60) &&
         !job.wait_for(std::chrono::milliseconds(20))) {
  }
  const pid_t rank1 = find_rank(tag, 1);
  if (job.output().find("epoch 1/2000 step") == std::string::npos || rank1 <= 0 || ::kill(rank1, sig) != 0) {
    ADD_FAILURE() << "training did not start, or rank 1 was not found\n" << job.output();
    return end;
  }
  const auto signalled = Clock::now();
  end.ended = job.wait_for(std::chrono::duration<double>(kCommTimeout + 25));
  end.seconds = std::chrono::duration<double>(Clock::now() - signalled).count();
  end.status = job.status();
  end.output = job.output();
  return end;
}

TEST(FaultsMpi, AKilledRankEndsTheJobAtOnceNamingTheLostRank) {
  const JobEnd e = signal_rank1_mid_training(SIGKILL);
  ASSERT_TRUE(e.ended) << "still running " << e.seconds << " s after rank 1 died\n" << e.output;
  // Open MPI's mpirun notices the death itself and ends the job, naming the rank and the signal.
  EXPECT_LT(e.seconds, kCommTimeout) << e.output;
  EXPECT_FALSE(WIFEXITED(e.status) && WEXITSTATUS(e.status) == 0) << e.output;
  EXPECT_NE(e.output.find("rank 1 "), std::string::npos) << "the lost rank is not named\n" << e.output;
  std::printf("rank 1 killed; the job ended %.2f s later\n", e.seconds);
}

TEST(FaultsMpi, AStalledRankEndsTheJobAfterTheCommTimeout) {
  // SIGSTOP: alive to the launcher, gone to the collectives. --comm-timeout is what bounds this.
  const JobEnd e = signal_rank1_mid_training(SIGSTOP);
  ASSERT_TRUE(e.ended) << "still running " << e.seconds << " s after rank 1 stopped\n" << e.output;
  EXPECT_GE(e.seconds, kCommTimeout - 0.5) << e.output;
  EXPECT_LT(e.seconds, kCommTimeout + 10) << e.output;
  EXPECT_FALSE(WIFEXITED(e.status) && WEXITSTATUS(e.status) == 0) << e.output;
  EXPECT_NE(e.output.find("cnnbench: error: mpi: rank 0 of 2: "), std::string::npos) << e.output;
  EXPECT_NE(e.output.find(fmt::format("did not complete within {} s: another rank has died, stalled", kCommTimeout)),
            std::string::npos)
      << e.output;
  std::printf("rank 1 stopped; the job ended %.2f s later\n", e.seconds);
}
#endif

}  // namespace
}  // namespace cnnb
