#pragma once
// The numerical watchdog: after every training step, the step's loss and every local replica's
// gradients are checked for NaN and Inf; with --check-numerics every layer's forward output is checked
// too. The first non-finite value stops the run with a message naming the step, where the value was
// (parameter and layer, or layer output) and the value, and the run is recorded as "diverged".
//
// Cost: on CPU replicas the gradients are scanned in place (one pass over the flat buffer, outside the
// timed phases). GPU replicas are checked on the loss only unless --check-numerics is given, which
// downloads the gradients and every layer's output each step. The output scan runs inside forward, after
// the device has finished each layer, and is timed as the step's `numerics` phase (timing.numerics_ms),
// so that `forward` compares with and without the flag.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/harness/trainer.h"
#include "core/error.h"
#include "core/numerics.h"
#include "strategies/replica.h"

namespace cnnb {

// `cnnbench train` exits with this code when training diverged (1: another error, 2: bad input).
inline constexpr int kDivergedExitCode = 3;

// What train() throws when the watchdog stops a run. It carries the run up to that point (the epochs
// finished before the bad step) so that the caller can still write its record.
class TrainingDiverged : public Error {
 public:
  TrainingDiverged(const std::string& message, int epoch, int64_t step, int64_t global_step, TrainResult partial)
      : Error(message),
        epoch(epoch),
        step(step),
        global_step(global_step),
        partial(std::make_shared<const TrainResult>(std::move(partial))) {}
  int epoch = 0;
  int64_t step = 0;         // within the epoch, 1-based
  int64_t global_step = 0;  // 1-based, counted over epochs
  std::shared_ptr<const TrainResult> partial;  // shared: exceptions are copied
};

// The run record of a diverged run: run_record() of what finished, with "status": "diverged", "reason"
// (the message) and "diverged_at" {epoch, step, global_step}.
nlohmann::json diverged_record(const TrainingDiverged& e, const Dataset& data);

class Watchdog {
 public:
  // check_outputs: also check every layer's forward output (installs a hook on every local replica's
  // network until the watchdog is destroyed).
  Watchdog(ReplicaSet& rs, bool check_outputs);
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  // Before a step: forgets what an earlier forward pass (an evaluation) reported.
  void arm();
  // After a step: "" when everything checked is finite, else what was found first, in this order: the
  // first layer (in forward order) whose output was not finite, the loss, the first non-finite gradient
  // element (replica by replica). `step_loss` is this process's mean loss of the step.
  std::string check(double step_loss);

  // Collective (every process calls it after check): every process learns whether any process found a
  // non-finite value, and gets the message of the lowest such rank, prefixed "rank R: " when there
  // are several processes. Returns "" when none did.
  static std::string agree(ProcessGroup& pg, const std::string& mine);

 private:
  class OutputCheck;
  ReplicaSet& rs_;
  bool check_outputs_;
  std::vector<std::unique_ptr<OutputCheck>> hooks_;  // one per local replica when check_outputs
  std::vector<float> host_;                           // download buffer for GPU gradients
};

}  // namespace cnnb
