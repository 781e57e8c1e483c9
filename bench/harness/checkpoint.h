#pragma once
// Checkpoints: everything a run needs to continue bit-exactly (every local replica's parameters and
// optimizer state, the position in the data order, the epoch's running sums, the finished epochs) in one
// safetensors file, so the usual tools can open it. The state is JSON in the metadata; a CRC32C over that
// JSON and the tensor data catches truncation and corruption the structural checks miss.
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/harness/trainer.h"
#include "core/model_spec.h"

namespace cnnb {

struct ReplicaState {
  std::vector<float> params, state0, state1;  // optimizer state buffers (sgd: velocity; adam: m, v)
  int64_t optimizer_steps = 0;
};

struct CheckpointState {
  // Position: `steps_done` steps of `epoch` (1-based) are done; `global_step` over the whole run.
  int epoch = 1;
  int64_t steps_done = 0;
  int64_t global_step = 0;
  // The running sums of the unfinished epoch, so its statistics come out as without the interruption.
  double loss_sum = 0, epoch_seconds = 0;
  int64_t correct = 0, images = 0;
  double train_seconds = 0;  // of the finished epochs
  std::vector<EpochStats> finished;
  std::vector<ReplicaState> replicas;
};

// What must match for a checkpoint to continue this run: model, input, optimizer and its settings, batch,
// steps per epoch, seed (data order and initialisation), dataset size, strategy and replicas.
nlohmann::json checkpoint_fingerprint(const TrainConfig& cfg, const ModelPlan& plan, const Dataset& data,
                                      int64_t steps_per_epoch, int world);

std::string encode_checkpoint(const CheckpointState& s, const nlohmann::json& fingerprint);
// Throws InputError naming `where` when the file is damaged (structure or checksum) or was written by a
// run with another fingerprint (listing each key that differs).
CheckpointState decode_checkpoint(std::string_view bytes, std::string_view where, const nlohmann::json& fingerprint);

// The checkpoints of a directory, named ckpt-<global step>.safetensors, newest last.
std::vector<std::filesystem::path> list_checkpoints(const std::filesystem::path& dir);

// Writes DIR/ckpt-<step>.safetensors atomically, then removes all but the newest two, so the previous good
// checkpoint survives a crash during the next write. Returns the file written.
std::filesystem::path write_checkpoint(const std::filesystem::path& dir, const CheckpointState& s,
                                       const nlohmann::json& fingerprint);

// `resume` is a checkpoint file or a directory (its newest checkpoint). A damaged newest checkpoint is
// refused with a message naming it and the previous one, if that one is intact.
CheckpointState read_checkpoint(const std::filesystem::path& resume, const nlohmann::json& fingerprint,
                                std::filesystem::path* used = nullptr);

}  // namespace cnnb
