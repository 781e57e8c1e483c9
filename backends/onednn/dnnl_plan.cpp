#include "backends/onednn/dnnl_plan.h"

#include <omp.h>

#include <algorithm>

namespace cnnb::onednn {

OmpThreads::OmpThreads(int threads) : saved_(omp_get_max_threads()) { omp_set_num_threads(std::max(threads, 1)); }

OmpThreads::~OmpThreads() { omp_set_num_threads(saved_); }

dnnl::primitive_attr plan_attr() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

memory scratchpad_for(const dnnl::primitive_desc_base& pd, const dnnl::engine& eng) {
  return memory(pd.scratchpad_desc(), eng);
}

Staged::Staged(const dnnl::engine& eng, const memory::desc& user, const memory::desc& wanted, Dir dir)
    : user_(user, eng, DNNL_MEMORY_NONE) {
  if (wanted == user) return;
  inner_ = memory(wanted, eng);
  reorder_ = dir == Dir::in ? dnnl::reorder(user_, inner_) : dnnl::reorder(inner_, user_);
}

const memory& Staged::in(dnnl::stream& s, const float* p) {
  bind_input(user_, p);
  if (!reorder_) return user_;
  reorder_.execute(s, user_, inner_);
  return inner_;
}

const memory& Staged::out(float* p) {
  user_.set_data_handle(p);
  return reorder_ ? inner_ : user_;
}

void Staged::finish(dnnl::stream& s) {
  if (reorder_) reorder_.execute(s, inner_, user_);
}

}  // namespace cnnb::onednn
