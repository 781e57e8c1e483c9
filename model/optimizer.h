#pragma once
// Optimizer state (velocity, or Adam's moments) in flat buffers beside the parameters, and one op call
// over the whole flat buffer per step.
#include <cstdint>
#include <string>
#include <string_view>

#include "backends/backend.h"
#include "core/device.h"

namespace cnnb {

struct OptimizerConfig {
  enum class Kind { sgd, adam } kind = Kind::adam;
  double lr = 1e-3;
  double momentum = 0.0;      // sgd
  double weight_decay = 0.0;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;  // adam
  std::string str() const;
};

// "sgd" or "adam"; throws InputError otherwise.
OptimizerConfig::Kind parse_optimizer_kind(std::string_view name);
std::string_view optimizer_kind_name(OptimizerConfig::Kind kind);  // "sgd" or "adam"

template <class T>
class Optimizer {
 public:
  Optimizer(const OptimizerConfig& cfg, Device& dev, int64_t n);
  void step(const OpSet<T>& ops, T* params, const T* grads);
  int64_t steps() const { return steps_; }
  // For resuming from a checkpoint: Adam's bias correction depends on the step count.
  void restore_steps(int64_t steps) { steps_ = steps; }
  const OptimizerConfig& config() const { return cfg_; }
  Buffer<T>& state(int i) { return i == 0 ? s0_ : s1_; }
  size_t state_bytes() const { return s0_.bytes() + s1_.bytes(); }

 private:
  OptimizerConfig cfg_;
  Device& dev_;
  int64_t n_;
  int64_t steps_ = 0;
  Buffer<T> s0_, s1_;  // sgd: velocity; adam: m, v
};

extern template class Optimizer<float>;
extern template class Optimizer<double>;

}  // namespace cnnb
