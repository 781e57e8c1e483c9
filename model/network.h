#pragma once
// One replica's network: activations, gradients and the flat parameter buffers on its device, and the
// forward and backward passes as calls into an OpSet. The same code runs every backend; with T = double
// and the reference OpSet it is the oracle for whole-model gradient checks.
#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "core/device.h"
#include "core/model_spec.h"

namespace cnnb {

// What backward tells as it goes, so that an exchange can start on the last layers' gradients while the
// first layers' are still being computed (allreduce's gradient buckets, as PyTorch DDP). An interface, not a
// std::function: the step loop must not allocate.
class BackwardHook {
 public:
  // After layer `layer`'s parameter gradients are final (queued on the device's stream, on a GPU):
  // gradients [ready_from, param_count) of the flat buffer will not change again in this pass.
  virtual void grads_ready(size_t layer, int64_t ready_from) = 0;

 protected:
  ~BackwardHook() = default;
};

// What forward tells after each layer: how --check-numerics finds the first layer whose output is not finite.
template <class T>
class ForwardHook {
 public:
  // `y`: layer `layer`'s output of `count` elements, on the device (queued on its stream, on a GPU).
  virtual void layer_output(size_t layer, const T* y, size_t count) = 0;

 protected:
  ~ForwardHook() = default;
};

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
  // Points the passes at a batch held elsewhere on this device (a prefetch slot) instead of input() and
  // labels(); nullptrs switch back. The caller keeps it intact until the passes have synchronized.
  void bind_batch(const T* input, const int32_t* labels) {
    bound_input_ = input;
    bound_labels_ = labels;
  }
  T* params() { return params_.data(); }
  T* grads() { return grads_.data(); }
  const T* params() const { return params_.data(); }
  const T* grads() const { return grads_.data(); }

  // Layers from input to logits; with_loss also runs softmax cross-entropy against labels().
  void forward(int n, bool with_loss);
  // Gradients of the mean loss with respect to every parameter (overwritten, not accumulated).
  // `hook`, if given, hears of every layer with parameters once its gradients are final, last layer first.
  void backward(int n, BackwardHook* hook = nullptr);
  // Every later forward() reports each layer's output to `hook` (nullptr, the default: none). Not owned.
  // The device finishes each layer before its hook call, so the layer's compute is not the hook's time.
  void set_forward_hook(ForwardHook<T>* hook) { forward_hook_ = hook; }
  // Seconds the last forward() spent in the forward hook: what a caller takes out of its forward time.
  double forward_hook_seconds() const { return hook_seconds_; }

  // Device memory this network holds, in bytes, as allocated (planned once, reused every step).
  struct Memory {
    size_t parameters = 0, gradients = 0, activations = 0, batch = 0;  // batch: input, labels, per-sample losses
  };
  Memory memory() const;

  // Host copies, for the trainer and the tests.
  double mean_loss(int n) const;           // per-sample losses summed in double
  std::vector<T> logits(int n) const;      // n x classes
  void logits_into(int n, T* out) const;   // the same into caller memory: no allocation in the step loop
  std::vector<T> activation(size_t layer, int n) const;
  // Queues the copies of the per-image losses and the logits (n x classes) into host memory; they are
  // there after device().synchronize(). Asynchronous on a GPU when both are the device's host memory.
  void queue_outputs(int n, T* host_losses, T* host_logits);

  // The last op this network queued on its device, for a device error that surfaces at a later sync:
  // "conv_bwd_data/cuda/naive of layer conv2 (backward)", or the outputs' copy after it. Allocates: for
  // error messages only.
  std::string last_op() const;

 private:
  const T* layer_input(size_t i) const {
    return i > 0 ? acts_[i - 1].data() : bound_input_ ? bound_input_ : input_.data();
  }
  T* param(int index) { return index < 0 ? nullptr : params_.data() + plan_.params[size_t(index)].offset; }
  T* grad(int index) { return index < 0 ? nullptr : grads_.data() + plan_.params[size_t(index)].offset; }
  int64_t first_param_offset(const LayerPlan& l) const {
    const auto at = [&](int i) { return i < 0 ? plan_.param_count : plan_.params[size_t(i)].offset; };
    return std::min(at(l.weight), at(l.bias));
  }
  void check_batch(int n) const;
  void queued(Op op, size_t layer, bool backward) {
    last_ = backward ? Queued::backward_op : Queued::forward_op;
    last_op_ = op;
    last_layer_ = layer;
    outputs_queued_ = false;
  }
  void report_output(size_t layer, const T* y, size_t count);

  ModelPlan plan_;
  OpSet<T> ops_;
  Device& dev_;
  int max_batch_;
  Buffer<T> input_;
  Buffer<int32_t> labels_;
  Buffer<T> params_, grads_;
  std::vector<Buffer<T>> acts_;  // per layer: its output
  // The gradient of the loss with respect to the logits (the last layer's output), written by forward, so
  // that backward can run again on it. Below the last layer, the gradient of layer i's output lives in
  // douts_[i % 2]: backward reads it for layer i while it writes layer i-1's into the other one, so two
  // buffers of the largest output serve every layer.
  Buffer<T> dlogits_;
  std::array<Buffer<T>, 2> douts_;
  T* dout(size_t layer) { return layer + 1 == acts_.size() ? dlogits_.data() : douts_[layer % 2].data(); }
  Buffer<T> losses_;
  const T* bound_input_ = nullptr;
  const int32_t* bound_labels_ = nullptr;
  ForwardHook<T>* forward_hook_ = nullptr;
  double hook_seconds_ = 0;
  enum class Queued { nothing, forward_op, backward_op } last_ = Queued::nothing;
  Op last_op_ = Op::conv_fwd;
  size_t last_layer_ = 0;
  bool outputs_queued_ = false;  // queue_outputs() after the op above
  mutable std::vector<T> host_losses_;  // mean_loss's download target, allocated once
};

extern template class Network<float>;
extern template class Network<double>;

}  // namespace cnnb
