#pragma once
// Ops: one plain Args struct per op (shapes + pointers), NCHW, row-major, float32 in every backend.
// Optional pointers (every variant honours them): conv/dense bias and dbias, dense_bwd's dx,
// softmax_xent's loss or dlogits, and sgd's velocity when momentum is 0. Backward ops overwrite.
// The structs are templates only so that the cpu-ref loops can also run in double for gradient checks.
// C++17: included by .cu files too.
#include <cstdint>

#include "core/exec_ctx.h"

namespace cnnb {

// ---- convolution: y[n,k,p,q] = bias[k] + sum_{c,r,s} x[n,c,p*stride-pad+r,q*stride-pad+s] * w[k,c,r,s]
struct ConvGeom {
  int n = 0, c = 0, h = 0, w = 0;  // input
  int k = 0, r = 0, s = 0;         // filters: k outputs, r x s window (PyTorch [out,in,kh,kw])
  int stride = 1, pad = 0;
  int p() const { return (h + 2 * pad - r) / stride + 1; }
  int q() const { return (w + 2 * pad - s) / stride + 1; }
  int64_t x_size() const { return int64_t(n) * c * h * w; }
  int64_t w_size() const { return int64_t(k) * c * r * s; }
  int64_t y_size() const { return int64_t(n) * k * p() * q(); }
};
template <class T> struct ConvFwdArgsT { ConvGeom g; const T* x; const T* w; const T* bias; T* y; };
template <class T> struct ConvBwdDataArgsT { ConvGeom g; const T* dy; const T* w; T* dx; };
template <class T> struct ConvBwdFilterArgsT { ConvGeom g; const T* x; const T* dy; T* dw; T* dbias; };

// ---- ReLU: backward uses y (y > 0 exactly where x > 0), so x may be freed or overwritten.
template <class T> struct ReluFwdArgsT { int64_t n; const T* x; T* y; };
template <class T> struct ReluBwdArgsT { int64_t n; const T* y; const T* dy; T* dx; };

// ---- max pooling: output size rounds down (PyTorch and cuDNN); padded cells never win.
// Ties go to the first maximum in row-major window order, in every backend.
struct PoolGeom {
  int n = 0, c = 0, h = 0, w = 0;
  int window = 2, stride = 2, pad = 0;
  int p() const { return (h + 2 * pad - window) / stride + 1; }
  int q() const { return (w + 2 * pad - window) / stride + 1; }
  int64_t x_size() const { return int64_t(n) * c * h * w; }
  int64_t y_size() const { return int64_t(n) * c * p() * q(); }
};
template <class T> struct PoolFwdArgsT { PoolGeom g; const T* x; T* y; };
template <class T> struct PoolBwdArgsT { PoolGeom g; const T* x; const T* y; const T* dy; T* dx; };

// ---- local response normalisation across channels, cuDNN's definition (alpha is divided by size):
//   s[c] = k + (alpha / size) * sum_{j = c - lb .. c + la, 0 <= j < C} x[j]^2,  lb = (size-1)/2, la = size-1-lb
//   y[c] = x[c] * s[c]^(-beta)
struct LrnGeom {
  int n = 0, c = 0, h = 0, w = 0;
  int size = 5;
  double alpha = 1e-4, beta = 0.75, k = 2.0;
  int look_behind() const { return (size - 1) / 2; }
  int look_ahead() const { return size - 1 - look_behind(); }
  int64_t x_size() const { return int64_t(n) * c * h * w; }
};
template <class T> struct LrnFwdArgsT { LrnGeom g; const T* x; T* y; };
template <class T> struct LrnBwdArgsT { LrnGeom g; const T* x; const T* y; const T* dy; T* dx; };

// ---- fully connected: y[n,o] = bias[o] + sum_i x[n,i] * w[o,i]  (PyTorch nn.Linear, w is [out,in])
struct DenseGeom { int n = 0, in = 0, out = 0; };
template <class T> struct DenseFwdArgsT { DenseGeom g; const T* x; const T* w; const T* bias; T* y; };
// dx may be null (first layer); dw and dbias are overwritten, not accumulated.
template <class T> struct DenseBwdArgsT { DenseGeom g; const T* x; const T* w; const T* dy; T* dx; T* dw; T* dbias; };

// ---- softmax cross-entropy, mean over the batch:
//   loss[i] = logsumexp(z[i,:]) - z[i,label[i]],  dz[i,j] = (softmax(z[i,:])_j - [j == label[i]]) / n
// Per-sample losses are written (the host sums them in double); labels are int32 in [0, classes).
template <class T> struct SoftmaxXentArgsT { int n; int classes; const T* logits; const int32_t* labels; T* loss; T* dlogits; };

// ---- optimizers, PyTorch semantics (torch.optim.SGD / torch.optim.Adam, weight decay as L2 in the gradient)
struct SgdHyper { double lr = 0.01, momentum = 0.0, weight_decay = 0.0; };
// g = grad + wd*p;  v = momentum*v + g (v = g on the first step is the same since v starts at 0);  p -= lr*v
template <class T> struct SgdArgsT { int64_t n; SgdHyper h; T* param; const T* grad; T* velocity; };
struct AdamHyper { double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.0; int64_t step = 1; };
// g = grad + wd*p;  m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g^2;
// p -= lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps)
template <class T> struct AdamArgsT { int64_t n; AdamHyper h; T* param; const T* grad; T* m; T* v; };

#define OP(name, Args) using Args = Args##T<float>;
#include "backends/ops.def"
#undef OP

// ---- the Op enum and a traits map from Op to its Args
enum class Op {
#define OP(name, Args) name,
#include "backends/ops.def"
#undef OP
};
constexpr int kOpCount = 0
#define OP(name, Args) +1
#include "backends/ops.def"
#undef OP
    ;

template <Op op, class T = float> struct OpTraits;
#define OP(name, Args)                                                    \
  template <class T> struct OpTraits<Op::name, T> {                       \
    using ArgsT = Args##T<T>;                                             \
    using Fn = void (*)(const ExecCtx&, const Args##T<T>&);               \
    static constexpr const char* kName = #name;                           \
  };
#include "backends/ops.def"
#undef OP

const char* op_name(Op op);

// ---- work per call, for GFLOP/s and GB/s counters (1 MAC = 2 FLOP; bytes = compulsory traffic)
double op_flops(const ConvFwdArgs& a);
double op_flops(const ConvBwdDataArgs& a);
double op_flops(const ConvBwdFilterArgs& a);
double op_flops(const ReluFwdArgs& a);
double op_flops(const ReluBwdArgs& a);
double op_flops(const PoolFwdArgs& a);
double op_flops(const PoolBwdArgs& a);
double op_flops(const LrnFwdArgs& a);
double op_flops(const LrnBwdArgs& a);
double op_flops(const DenseFwdArgs& a);
double op_flops(const DenseBwdArgs& a);
double op_flops(const SoftmaxXentArgs& a);
double op_flops(const SgdArgs& a);
double op_flops(const AdamArgs& a);

}  // namespace cnnb
