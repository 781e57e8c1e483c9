#pragma once
// One replica's network: activations, gradients and the flat parameter buffers on its device, and the
// forward and backward passes as calls into an OpSet. The same code runs every backend; with T = double
// and the reference OpSet it is the oracle for whole-model gradient checks.
#include <cstdint>
#include <vector>

#include "backends/backend.h"
#include "core/device.h"
#include "core/model_spec.h"

namespace cnnb {

template <class T>
class Network {
 public:
  Network(const ModelPlan& plan, const OpSet<T>& ops, Device& dev, int max_batch);

  const ModelPlan& plan() const { return plan_; }
  Device& device() const { return dev_; }
  int max_batch() const { return max_batch_; }
  int64_t param_count() const { return plan_.param_count; }

  // Device buffers the caller fills: the batch (n x C x H x W) and its labels.
  T* input() { return input_.data(); }
  int32_t* labels() { return labels_.data(); }
  T* params() { return params_.data(); }
  T* grads() { return grads_.data(); }
  const T* params() const { return params_.data(); }
  const T* grads() const { return grads_.data(); }

  // Layers from input to logits; with_loss also runs softmax cross-entropy against labels().
  void forward(int n, bool with_loss);
  // Gradients of the mean loss with respect to every parameter (overwritten, not accumulated).
  void backward(int n);

  // Device memory this network holds, in bytes, as allocated (planned once, reused every step).
  struct Memory {
    size_t parameters = 0, gradients = 0, activations = 0, batch = 0;  // batch: input, labels, per-sample losses
  };
  Memory memory() const;

  // Host copies, for the trainer and the tests.
  double mean_loss(int n) const;           // per-sample losses summed in double
  std::vector<T> logits(int n) const;      // n x classes
  std::vector<T> activation(size_t layer, int n) const;

 private:
  const T* layer_input(size_t i) const { return i == 0 ? input_.data() : acts_[i - 1].data(); }
  T* param(int index) { return index < 0 ? nullptr : params_.data() + plan_.params[size_t(index)].offset; }
  T* grad(int index) { return index < 0 ? nullptr : grads_.data() + plan_.params[size_t(index)].offset; }
  void check_batch(int n) const;

  ModelPlan plan_;
  OpSet<T> ops_;
  Device& dev_;
  int max_batch_;
  Buffer<T> input_;
  Buffer<int32_t> labels_;
  Buffer<T> params_, grads_;
  std::vector<Buffer<T>> acts_, dacts_;  // per layer: output and gradient of the output
  Buffer<T> losses_;
};

extern template class Network<float>;
extern template class Network<double>;

}  // namespace cnnb
