#pragma once
// The observers `cnnbench train` puts on a run (run_observer.h), one file each.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "bench/harness/run_observer.h"
#include "bench/harness/tensorboard.h"
#include "bench/harness/watchdog.h"
#include "core/clock.h"

namespace cnnb {

// The watchdog's checks after every step; TrainingDiverged, carrying the run so far, at the first
// non-finite value any process found (every process stops at the same step, none is left in an exchange).
class WatchdogObserver final : public RunObserver {
 public:
  WatchdogObserver(ReplicaSet& rs, ProcessGroup& pg, bool check_outputs) : watchdog_(rs, check_outputs), pg_(pg) {}
  void before_step() override { watchdog_.arm(); }
  void after_step(const StepEvent& e) override;

 private:
  Watchdog watchdog_;
  ProcessGroup& pg_;
};

// A checkpoint every `every` global steps into `dir` (checkpoint.h).
class CheckpointObserver final : public RunObserver {
 public:
  CheckpointObserver(std::filesystem::path dir, int64_t every, nlohmann::json fingerprint)
      : dir_(std::move(dir)), every_(every), fingerprint_(std::move(fingerprint)) {}
  void after_step(const StepEvent& e) override;
  const std::vector<std::string>& written() const { return written_; }

 private:
  std::filesystem::path dir_;
  int64_t every_;
  nlohmann::json fingerprint_;
  std::vector<std::string> written_;
};

// The step's loss after every step; each epoch's losses, accuracies, throughput and mean phase times.
class TensorBoardObserver final : public RunObserver {
 public:
  TensorBoardObserver(const std::filesystem::path& dir, const std::string& run) : writer_(dir, run) {}
  void after_step(const StepEvent& e) override;
  void after_epoch(const EpochEvent& e) override;
  const std::filesystem::path& file() const { return writer_.file(); }

 private:
  EventWriter writer_;
};

// Progress for a person: at most four times a second and at each epoch's last step, and before each
// evaluation.
class ProgressObserver final : public RunObserver {
 public:
  ProgressObserver(ProgressFn fn, int epochs, int batch) : fn_(std::move(fn)), epochs_(epochs), batch_(batch) {}
  void after_step(const StepEvent& e) override;
  void before_evaluation(int epoch) override;

 private:
  ProgressFn fn_;
  int epochs_, batch_;
  SteadyClock::time_point last_ = SteadyClock::now() - std::chrono::seconds(1);
};

}  // namespace cnnb
