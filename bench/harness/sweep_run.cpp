// run_sweep: the plan's runs one after another, each line appended to the results file as it finishes.
// The steps are named below: decide what to run, load the data, then per run skip, repeat, and write.
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <numeric>
#include <set>

#include <fmt/format.h>

#include "bench/harness/run_record.h"
#include "bench/harness/stats.h"
#include "bench/harness/sweep.h"
#include "bench/harness/watchdog.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/files.h"
#include "core/model_spec.h"
#include "strategies/comm/process_group.h"

namespace cnnb {

namespace fs = std::filesystem;

namespace {

// Two sweeps appending to one file would run the same configurations twice: the second one is refused.
// flock is released by the kernel when the process dies, so a crash never leaves the file locked.
class ResultsLock {
 public:
  explicit ResultsLock(const fs::path& file) {
    fd_ = ::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd_ < 0) fail_input("cannot open {} for appending: {}", file.string(), std::strerror(errno));
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      ::close(fd_);
      fail_input("{}: another cnnbench sweep is appending to this file; wait for it to finish or give another --out",
                 file.string());
    }
  }
  ResultsLock(const ResultsLock&) = delete;
  ResultsLock& operator=(const ResultsLock&) = delete;
  ~ResultsLock() { ::close(fd_); }

 private:
  int fd_ = -1;
};

std::vector<int> run_gpus(const ParallelPlan& parallel) {
  return parallel.devices.kind == DeviceKind::cuda ? parallel.devices.ids : std::vector<int>{};
}

std::string context_lost_message(const SweepRun& r, int number, const std::string& error) {
  return fmt::format(
      "CUDA context lost in run {} ({}, {} on {}): {}; the rest of the sweep was not run; run the same command "
      "again to resume in a fresh process",
      number, r.label(), r.cfg.model, r.cfg.dataset, error);
}

// Every dataset the pending runs need, loaded before the first run. A model that does not fit a dataset
// (too small an image for its layers) skips those runs; a model that fits none of them is a bad model.
struct SweepData {
  std::map<std::pair<std::string, uint64_t>, Dataset> datasets;     // (dataset, seed)
  std::map<std::pair<std::string, std::string>, std::string> misfit;  // (model, dataset) -> why

  SweepData(const SweepPlan& plan, const std::vector<RunAction>& actions) {
    std::map<std::string, bool> fits_some;
    std::set<std::pair<std::string, std::string>> checked;
    for (size_t i = 0; i < plan.runs.size(); ++i) {
      const SweepRun& r = plan.runs[i];
      if (actions[i] != RunAction::run || !r.skip_reason.empty()) continue;
      const auto key = std::make_pair(r.cfg.dataset, r.cfg.seed);
      if (!datasets.count(key)) datasets.emplace(key, load_dataset(r.cfg.dataset, r.cfg.seed));
      const Dataset& d = datasets.at(key);
      if (!checked.insert({r.cfg.model, r.cfg.dataset}).second) continue;
      try {
        plan_model(parse_model(r.cfg.model), d.shape, d.classes);
        fits_some[r.cfg.model] = true;
      } catch (const InputError& e) {
        misfit[{r.cfg.model, r.cfg.dataset}] =
            fmt::format("model {} does not fit dataset {}: {}", r.cfg.model, r.cfg.dataset, e.what());
      }
    }
    for (const auto& [md, why] : misfit)
      if (!fits_some[md.first]) fail_input("{}", why);
  }
};

// The repetitions of one run: their records, or how the first failing one ended.
struct Repetitions {
  RepetitionStats stats;
  std::vector<nlohmann::json> records;
  std::string error;
  nlohmann::json diverged;  // the record of a repetition the watchdog stopped

  // The record kept, moved out: the repetition with the median throughput (the lower middle for an even
  // count), and its 1-based number.
  std::pair<nlohmann::json, size_t> take_median_record() {
    std::vector<size_t> order(records.size());
    std::iota(order.begin(), order.end(), size_t(0));
    std::sort(order.begin(), order.end(),
              [&](size_t a, size_t b) { return stats.images_per_second[a] < stats.images_per_second[b]; });
    const size_t kept = order[(order.size() - 1) / 2];
    return {std::move(records[kept]), kept + 1};
  }
};

class SweepExecution {
 public:
  SweepExecution(const SweepPlan& plan, const SweepSpec& spec, const SweepOptions& opt, const SweepEventFn& on_event)
      : plan_(plan), spec_(spec), opt_(opt), on_event_(on_event), t0_(SteadyClock::now()),
        index_(read_results_index(opt.out)) {
    sum_.total = int(plan.runs.size());
    for (const auto& r : plan.runs) {
      actions_.push_back(decide(r, index_, opt.retry_failed));
      if (actions_.back() == RunAction::run && r.skip_reason.empty()) ++to_run_;
    }
  }

  SweepSummary run() {
    announce_plan();
    if (opt_.dry_run) {
      announce_dry_run();
      return sum_;
    }
    if (const auto w = repair_results_tail(opt_.out)) emit(plan_event("warning: " + *w));
    const SweepData data(plan_, actions_);
    const ResultsLock lock(opt_.out);
    // What plan_parallel checks each run's devices against.
    const auto single = make_single_process_group();
    for (size_t i = 0; i < plan_.runs.size(); ++i)
      if (!run_one(i, data, *single)) break;
    return sum_;
  }

 private:
  void emit(const SweepEvent& e) const {
    if (on_event_) on_event_(e);
  }
  void write(const nlohmann::json& line) const { append_line_durable(opt_.out, line.dump()); }

  SweepEvent plan_event(std::string detail) const {
    SweepEvent e;
    e.kind = SweepEvent::Kind::plan;
    e.total = to_run_;
    e.detail = std::move(detail);
    return e;
  }

  void announce_plan() const {
    SweepEvent e = plan_event(fmt::format("{} runs in the grid, {} to run, {} already in {}", plan_.runs.size(), to_run_,
                                          std::count(actions_.begin(), actions_.end(), RunAction::done),
                                          opt_.out.string()));
    for (const auto& w : index_.warnings) e.detail += "\nwarning: " + w;
    emit(e);
  }

  void announce_dry_run() const {
    for (size_t i = 0; i < plan_.runs.size(); ++i) {
      SweepEvent e;
      e.kind = SweepEvent::Kind::finish;
      e.run = &plan_.runs[i];
      e.status = actions_[i] == RunAction::done ? "done" : !plan_.runs[i].skip_reason.empty() ? "skip" : "would run";
      e.detail = plan_.runs[i].skip_reason;
      emit(e);
    }
  }

  // Seconds left, from the time the executed runs took; -1 before anything has run.
  double eta(double work_done) const {
    return work_done > 0 ? run_seconds_ / work_done * (to_run_ - work_done) : -1;
  }

  // An event about run number `number` of the runs to execute, stamped with the time so far.
  SweepEvent run_event(SweepEvent::Kind kind, const SweepRun& r, int number) const {
    SweepEvent e;
    e.kind = kind;
    e.index = number;
    e.total = to_run_;
    e.run = &r;
    e.elapsed = seconds_since(t0_);
    e.eta = eta(done_runs_);
    return e;
  }

  void finish(const SweepRun& r, const std::string& status, const std::string& detail, int number) const {
    SweepEvent e = run_event(SweepEvent::Kind::finish, r, number);
    e.status = status;
    e.detail = detail;
    emit(e);
  }

  // A skip already recorded with the same reason is not written again.
  void skip(const SweepRun& r, const std::string& reason) {
    const auto it = index_.by_hash.find(r.hash);
    const bool recorded = it != index_.by_hash.end() && it->second.status == "skipped" && it->second.reason == reason;
    if (!recorded) write(not_run_line(r, spec_.name, "skipped", reason, 0));
    ++sum_.skipped;
    --to_run_;
    finish(r, "skipped", reason, 0);
  }

  // Runs plan_.runs[i] unless it is done, skipped or cannot run here; false when the sweep must stop.
  bool run_one(size_t i, const SweepData& data, const ProcessGroup& single) {
    const SweepRun& r = plan_.runs[i];
    if (actions_[i] == RunAction::done) return ++sum_.already_done, true;
    if (actions_[i] == RunAction::skip) return ++sum_.skipped, true;
    if (!r.skip_reason.empty()) {
      write(not_run_line(r, spec_.name, "skipped", r.skip_reason, 0));
      ++sum_.skipped;
      finish(r, "skipped", r.skip_reason, 0);
      return true;
    }
    if (const auto m = data.misfit.find({r.cfg.model, r.cfg.dataset}); m != data.misfit.end()) {
      skip(r, m->second);
      return true;
    }
    const Dataset& d = data.datasets.at({r.cfg.dataset, r.cfg.seed});
    // What plan_parallel refuses (devices, batch split, communicator) cannot run here: skipped, not failed.
    ParallelPlan parallel;
    try {
      parallel = plan_parallel(r.cfg, single);
      if (d.train.count() < r.cfg.batch)
        fail_input("batch {} is larger than the training set of {} ({} images)", r.cfg.batch, d.name, d.train.count());
    } catch (const InputError& e) {
      skip(r, e.what());
      return true;
    }
    const int number = done_runs_ + 1;
    const auto run_t0 = SteadyClock::now();
    Repetitions reps = repeat(r, d, number, run_t0);
    const double seconds = seconds_since(run_t0);
    run_seconds_ += seconds;
    ++done_runs_;
    if (!reps.diverged.is_null()) return write_diverged(r, std::move(reps), seconds, number), true;
    if (!reps.error.empty()) return write_failed(r, std::move(reps), seconds, number, parallel, i);
    write_ok(r, std::move(reps), seconds, number);
    return true;
  }

  Repetitions repeat(const SweepRun& r, const Dataset& d, int number, SteadyClock::time_point run_t0) const {
    Repetitions out;
    for (int rep = 1; rep <= spec_.repetitions && out.error.empty(); ++rep) {
      SweepEvent start = run_event(SweepEvent::Kind::start, r, number);
      start.repetition = rep;
      start.repetitions = spec_.repetitions;
      emit(start);
      const auto progress = [&](const Progress& p) {
        SweepEvent e = start;
        e.kind = SweepEvent::Kind::step;
        e.progress = &p;
        e.elapsed = seconds_since(t0_);
        if (done_runs_ > 0 || seconds_since(run_t0) > 0) {
          const double within =
              p.epochs > 0 && p.steps > 0 ? ((p.epoch - 1) + double(p.step) / double(p.steps)) / p.epochs : 0;
          const double work = done_runs_ + ((rep - 1) + within) / spec_.repetitions;
          const double spent = run_seconds_ + seconds_since(run_t0);
          e.eta = work > 0.02 ? spent / work * (to_run_ - work) : -1;
        }
        emit(e);
      };
      try {
        const TrainResult result = train(r.cfg, d, progress);
        nlohmann::json rec = run_record(result, d);
        out.stats.images_per_second.push_back(rec["timing"].value("images_per_second", 0.0));
        const auto& step = rec["timing"]["step_ms"];
        out.stats.step_ms_median.push_back(step.is_object() ? step.value("median", 0.0) : 0.0);
        out.records.push_back(std::move(rec));
      } catch (const TrainingDiverged& e) {
        out.error = e.what();
        out.diverged = diverged_record(e, d);
      } catch (const std::exception& e) {
        out.error = e.what();
      }
    }
    return out;
  }

  void write_diverged(const SweepRun& r, Repetitions reps, double seconds, int number) {
    nlohmann::json& line = reps.diverged;
    line["sweep"] = sweep_fields(r, spec_.name, nullptr, seconds);
    line["sweep"]["completed_repetitions"] = reps.records.size();
    write(line);
    ++sum_.diverged;
    finish(r, "diverged", reps.error, number);
  }

  // False when the run lost its CUDA context: every later CUDA call in this process would fail, so the
  // remaining runs wait for a fresh process.
  bool write_failed(const SweepRun& r, Repetitions reps, double seconds, int number, const ParallelPlan& parallel,
                    size_t i) {
    const ContextHealth health = opt_.context_health(run_gpus(parallel));
    std::string error = std::move(reps.error);
    if (health.lost) error = fmt::format("CUDA context lost: {} (the run failed with: {})", health.error, error);
    nlohmann::json line = not_run_line(r, spec_.name, "failed", error, seconds);
    if (!reps.records.empty()) line["sweep"]["completed_repetitions"] = reps.records.size();
    write(line);
    ++sum_.failed;
    finish(r, "failed", error, number);
    if (!health.lost) return true;
    sum_.stopped = context_lost_message(r, number, health.error);
    sum_.not_run = int(std::count(actions_.begin() + std::ptrdiff_t(i) + 1, actions_.end(), RunAction::run));
    return false;
  }

  void write_ok(const SweepRun& r, Repetitions reps, double seconds, int number) {
    auto [line, kept] = reps.take_median_record();
    const std::vector<double>& ips = reps.stats.images_per_second;
    line["reason"] = nullptr;
    line["sweep"] = sweep_fields(r, spec_.name, &reps.stats, seconds);
    line["sweep"]["kept_repetition"] = kept;
    write(line);
    ++sum_.ok;
    finish(r, "ok",
           fmt::format("{:.1f} img/s{}, {:.1f}s", median(ips),
                       ips.size() > 1 ? fmt::format(" (cv {:.1f}% over {})", cv_percent(ips), ips.size()) : "", seconds),
           number);
  }

  const SweepPlan& plan_;
  const SweepSpec& spec_;
  const SweepOptions& opt_;
  const SweepEventFn& on_event_;
  const SteadyClock::time_point t0_;
  const ResultsIndex index_;
  std::vector<RunAction> actions_;
  int to_run_ = 0;
  int done_runs_ = 0;
  double run_seconds_ = 0;  // time spent in executed runs: the rate behind the estimate
  SweepSummary sum_;
};

}  // namespace

SweepSummary run_sweep(const SweepPlan& plan, const SweepSpec& spec, const SweepOptions& opt,
                       const SweepEventFn& on_event) {
  return SweepExecution(plan, spec, opt, on_event).run();
}

}  // namespace cnnb
