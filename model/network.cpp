#include "model/network.h"

#include <fmt/format.h>

#include "core/clock.h"
#include "core/error.h"
#include "core/stream_fault.h"

namespace cnnb {

template <class T>
Network<T>::Network(const ModelPlan& plan, const OpSet<T>& ops, Device& dev, int max_batch)
    : plan_(plan),
      ops_(ops),
      dev_(dev),
      max_batch_(max_batch),
      input_(dev, size_t(max_batch) * size_t(plan.input.size())),
      labels_(dev, size_t(max_batch)),
      params_(dev, size_t(plan.param_count)),
      grads_(dev, size_t(plan.param_count)),
      losses_(dev, size_t(max_batch)),
      host_losses_(size_t(max_batch)) {
  CNNB_CHECK(max_batch >= 1, "network batch must be at least 1, got {}", max_batch);
  CNNB_CHECK(!plan_.layers.empty(), "a network needs at least one layer");
  size_t largest = 0;  // of the outputs below the last layer
  for (const auto& l : plan_.layers) {
    acts_.emplace_back(dev, size_t(max_batch) * size_t(l.out.size()));
    if (acts_.size() < plan_.layers.size()) largest = std::max(largest, acts_.back().size());
  }
  dlogits_ = Buffer<T>(dev, acts_.back().size());
  douts_ = {Buffer<T>(dev, largest), Buffer<T>(dev, largest)};
  grads_.zero();
}

template <class T>
void Network<T>::check_batch(int n) const {
  CNNB_CHECK(n >= 1 && n <= max_batch_, "batch of {} does not fit a network built for at most {}", n, max_batch_);
}

template <class T>
void Network<T>::forward(int n, bool with_loss) {
  check_batch(n);
  hook_seconds_ = 0;
  const ExecCtx& ctx = dev_.ctx();
  for (size_t i = 0; i < plan_.layers.size(); ++i) {
    const LayerPlan& l = plan_.layers[i];
    const T* x = layer_input(i);
    T* y = acts_[i].data();
    switch (l.spec.kind) {
      case LayerKind::conv: {
        const ConvGeom g{n, l.in.c, l.in.h, l.in.w, l.spec.filters, l.spec.kernel_h, l.spec.kernel_w, l.spec.stride, l.spec.pad};
        queued(Op::conv_fwd, i, false);
        ops_.conv_fwd(ctx, {g, x, param(l.weight), param(l.bias), y});
        break;
      }
      case LayerKind::relu:
        queued(Op::relu_fwd, i, false);
        ops_.relu_fwd(ctx, {int64_t(n) * l.out.size(), x, y});
        break;
      case LayerKind::maxpool: {
        const PoolGeom g{n, l.in.c, l.in.h, l.in.w, l.spec.window, l.spec.stride, l.spec.pad};
        queued(Op::pool_fwd, i, false);
        ops_.pool_fwd(ctx, {g, x, y});
        break;
      }
      case LayerKind::lrn: {
        const LrnGeom g{n, l.in.c, l.in.h, l.in.w, l.spec.lrn_size, l.spec.lrn_alpha, l.spec.lrn_beta, l.spec.lrn_k};
        queued(Op::lrn_fwd, i, false);
        ops_.lrn_fwd(ctx, {g, x, y});
        break;
      }
      case LayerKind::fc: {
        const DenseGeom g{n, int(l.in.size()), l.spec.units};
        queued(Op::dense_fwd, i, false);
        ops_.dense_fwd(ctx, {g, x, param(l.weight), param(l.bias), y});
        break;
      }
    }
    report_output(i, y, size_t(n) * size_t(l.out.size()));
  }
  if (with_loss) {
    const int32_t* labels = bound_labels_ ? bound_labels_ : labels_.data();
    queued(Op::softmax_xent, plan_.layers.size() - 1, false);
    ops_.softmax_xent(ctx, {n, plan_.classes, acts_.back().data(), labels, losses_.data(), dout(plan_.layers.size() - 1)});
  }
}

template <class T>
void Network<T>::backward(int n, BackwardHook* hook) {
  check_batch(n);
  const ExecCtx& ctx = dev_.ctx();
  for (size_t i = plan_.layers.size(); i-- > 0;) {
    const LayerPlan& l = plan_.layers[i];
    const T* x = layer_input(i);
    const T* y = acts_[i].data();
    const T* dy = dout(i);
    T* dx = i == 0 ? nullptr : dout(i - 1);  // nobody needs the gradient of the images
    switch (l.spec.kind) {
      case LayerKind::conv: {
        const ConvGeom g{n, l.in.c, l.in.h, l.in.w, l.spec.filters, l.spec.kernel_h, l.spec.kernel_w, l.spec.stride, l.spec.pad};
        queued(Op::conv_bwd_filter, i, true);
        ops_.conv_bwd_filter(ctx, {g, x, dy, grad(l.weight), grad(l.bias)});
        if (dx) {
          queued(Op::conv_bwd_data, i, true);
          ops_.conv_bwd_data(ctx, {g, dy, param(l.weight), dx});
        }
        break;
      }
      case LayerKind::relu:
        if (dx) {
          queued(Op::relu_bwd, i, true);
          ops_.relu_bwd(ctx, {int64_t(n) * l.out.size(), y, dy, dx});
        }
        break;
      case LayerKind::maxpool: {
        const PoolGeom g{n, l.in.c, l.in.h, l.in.w, l.spec.window, l.spec.stride, l.spec.pad};
        if (dx) {
          queued(Op::pool_bwd, i, true);
          ops_.pool_bwd(ctx, {g, x, y, dy, dx});
        }
        break;
      }
      case LayerKind::lrn: {
        const LrnGeom g{n, l.in.c, l.in.h, l.in.w, l.spec.lrn_size, l.spec.lrn_alpha, l.spec.lrn_beta, l.spec.lrn_k};
        if (dx) {
          queued(Op::lrn_bwd, i, true);
          ops_.lrn_bwd(ctx, {g, x, y, dy, dx});
        }
        break;
      }
      case LayerKind::fc: {
        const DenseGeom g{n, int(l.in.size()), l.spec.units};
        queued(Op::dense_bwd, i, true);
        ops_.dense_bwd(ctx, {g, x, param(l.weight), dy, dx, grad(l.weight), grad(l.bias)});
        break;
      }
    }
    if (hook && (l.weight >= 0 || l.bias >= 0)) hook->grads_ready(i, first_param_offset(l));
  }
}

template <class T>
void Network<T>::report_output(size_t layer, const T* y, size_t count) {
  if (!forward_hook_) return;
  synchronize_phases(dev_, StepPhase::forward, StepPhase::forward, [this] { return last_op(); });
  const auto t0 = SteadyClock::now();
  forward_hook_->layer_output(layer, y, count);
  hook_seconds_ += seconds_since(t0);
}

template <class T>
void Network<T>::queue_outputs(int n, T* host_losses, T* host_logits) {
  check_batch(n);
  outputs_queued_ = true;
  dev_.download_async(host_losses, losses_.data(), size_t(n) * sizeof(T));
  dev_.download_async(host_logits, acts_.back().data(), size_t(n) * size_t(plan_.classes) * sizeof(T));
}

template <class T>
std::string Network<T>::last_op() const {
  if (last_ == Queued::nothing)
    return outputs_queued_ ? "the copy of the losses and logits to the host" : "none (this network had queued no op)";
  const bool loss = last_op_ == Op::softmax_xent;
  const std::string& variant = ops_.chosen[size_t(last_op_)];
  const std::string op = fmt::format(
      "{} of {} ({})", variant.empty() ? std::string(op_name(last_op_)) : variant,
      loss ? std::string("the loss") : fmt::format("layer {}", plan_.layers[last_layer_].name),
      last_ == Queued::backward_op ? "backward" : "forward");
  return outputs_queued_ ? "the copy of the losses and logits to the host, after " + op : op;
}

template <class T>
double Network<T>::mean_loss(int n) const {
  check_batch(n);
  losses_.download(host_losses_.data(), size_t(n));
  double sum = 0;
  for (int i = 0; i < n; ++i) sum += double(host_losses_[size_t(i)]);
  return sum / n;
}

template <class T>
std::vector<T> Network<T>::logits(int n) const {
  return activation(plan_.layers.size() - 1, n);
}

template <class T>
void Network<T>::logits_into(int n, T* out) const {
  check_batch(n);
  acts_.back().download(out, size_t(n) * size_t(plan_.classes));
}

template <class T>
std::vector<T> Network<T>::activation(size_t layer, int n) const {
  check_batch(n);
  CNNB_CHECK(layer < acts_.size(), "layer {} out of range (the network has {})", layer, acts_.size());
  std::vector<T> out(size_t(n) * size_t(plan_.layers[layer].out.size()));
  acts_[layer].download(out.data(), out.size());
  return out;
}

template <class T>
typename Network<T>::Memory Network<T>::memory() const {
  Memory m;
  m.parameters = params_.bytes();
  m.gradients = grads_.bytes();
  for (const auto& a : acts_) m.activations += a.bytes();
  m.activations += dlogits_.bytes();
  for (const auto& a : douts_) m.activations += a.bytes();
  m.batch = input_.bytes() + labels_.bytes() + losses_.bytes();
  return m;
}

template class Network<float>;
template class Network<double>;

}  // namespace cnnb
