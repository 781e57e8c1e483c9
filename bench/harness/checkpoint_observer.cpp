#include "bench/harness/checkpoint.h"
#include "bench/harness/observers.h"

namespace cnnb {

namespace {

// Every local replica's parameters and optimizer state.
std::vector<ReplicaState> snapshot(ReplicaSet& rs) {
  std::vector<ReplicaState> out(size_t(rs.size()));
  rs.run_all([&](Replica& rep) {
    ReplicaState& st = out[size_t(rep.local_index())];
    st.params = rep.params();
    st.state0 = rep.optimizer().state(0).to_host();
    st.state1 = rep.optimizer().state(1).to_host();
    st.optimizer_steps = rep.optimizer().steps();
  });
  return out;
}

}  // namespace

void CheckpointObserver::after_step(const StepEvent& e) {
  if (e.global_step % every_ != 0) return;
  CheckpointState c;
  c.epoch = e.epoch;
  c.steps_done = e.step;
  c.global_step = e.global_step;
  c.loss_sum = e.tally.loss_sum;
  c.epoch_seconds = e.tally.seconds;
  c.correct = e.tally.correct;
  c.images = e.tally.images;
  c.train_seconds = e.result.train_seconds;
  c.finished = e.result.epochs;
  c.replicas = snapshot(e.replicas);
  written_.push_back(write_checkpoint(dir_, c, fingerprint_).string());
}

}  // namespace cnnb
