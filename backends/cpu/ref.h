#pragma once
// The reference ops: plain loops that read like a textbook, one thread, accumulation in double.
// Templates so that gradient checks can run the same loops in double; the registered cpu/ref
// variants (kernels.def) are the float instantiations.
#include "backends/ops.h"

namespace cnnb::ref {

template <class T> void conv_fwd(const ExecCtx&, const ConvFwdArgsT<T>&);
template <class T> void conv_bwd_data(const ExecCtx&, const ConvBwdDataArgsT<T>&);
template <class T> void conv_bwd_filter(const ExecCtx&, const ConvBwdFilterArgsT<T>&);
template <class T> void relu_fwd(const ExecCtx&, const ReluFwdArgsT<T>&);
template <class T> void relu_bwd(const ExecCtx&, const ReluBwdArgsT<T>&);
template <class T> void pool_fwd(const ExecCtx&, const PoolFwdArgsT<T>&);
template <class T> void pool_bwd(const ExecCtx&, const PoolBwdArgsT<T>&);
template <class T> void lrn_fwd(const ExecCtx&, const LrnFwdArgsT<T>&);
template <class T> void lrn_bwd(const ExecCtx&, const LrnBwdArgsT<T>&);
template <class T> void dense_fwd(const ExecCtx&, const DenseFwdArgsT<T>&);
template <class T> void dense_bwd(const ExecCtx&, const DenseBwdArgsT<T>&);
template <class T> void softmax_xent(const ExecCtx&, const SoftmaxXentArgsT<T>&);
template <class T> void sgd_update(const ExecCtx&, const SgdArgsT<T>&);
template <class T> void adam_update(const ExecCtx&, const AdamArgsT<T>&);

}  // namespace cnnb::ref
