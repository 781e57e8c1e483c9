#include "model/optimizer.h"

#include <fmt/format.h>

#include "core/error.h"

namespace cnnb {

std::string OptimizerConfig::str() const {
  if (kind == Kind::sgd) return fmt::format("sgd(lr={}, momentum={}, weight_decay={})", lr, momentum, weight_decay);
  return fmt::format("adam(lr={}, betas=({}, {}), eps={}, weight_decay={})", lr, beta1, beta2, eps, weight_decay);
}

OptimizerConfig::Kind parse_optimizer_kind(std::string_view name) {
  if (name == "sgd") return OptimizerConfig::Kind::sgd;
  if (name == "adam") return OptimizerConfig::Kind::adam;
  fail_input("unknown optimizer '{}'; expected one of: sgd, adam", name);
}

std::string_view optimizer_kind_name(OptimizerConfig::Kind kind) { return kind == OptimizerConfig::Kind::sgd ? "sgd" : "adam"; }

template <class T>
Optimizer<T>::Optimizer(const OptimizerConfig& cfg, Device& dev, int64_t n)
    : cfg_(cfg), dev_(dev), n_(n), s0_(dev, size_t(n)), s1_(dev, cfg.kind == OptimizerConfig::Kind::adam ? size_t(n) : 0) {
  s0_.zero();
  s1_.zero();
}

template <class T>
void Optimizer<T>::step(const OpSet<T>& ops, T* params, const T* grads) {
  ++steps_;
  const ExecCtx& ctx = dev_.ctx();
  if (cfg_.kind == OptimizerConfig::Kind::sgd) {
    ops.sgd_update(ctx, {n_, SgdHyper{cfg_.lr, cfg_.momentum, cfg_.weight_decay}, params, grads, s0_.data()});
  } else {
    ops.adam_update(ctx, {n_, AdamHyper{cfg_.lr, cfg_.beta1, cfg_.beta2, cfg_.eps, cfg_.weight_decay, steps_}, params,
                          grads, s0_.data(), s1_.data()});
  }
}

template class Optimizer<float>;
template class Optimizer<double>;

}  // namespace cnnb
