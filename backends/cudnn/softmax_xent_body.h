#pragma once
// What one thread of the cudnn softmax_xent kernels computes from logp = log_softmax(logits), the
// output of cudnnSoftmaxForward(CUDNN_SOFTMAX_LOG, CUDNN_SOFTMAX_MODE_INSTANCE) on n x classes x 1 x 1:
//   loss[i] = -logp[i, label[i]]                       (= logsumexp(z_i) - z_i[label], ops.h)
//   dz[i,j] = (exp(logp[i,j]) - [j == label[i]]) / n
// The LOG algorithm rather than ACCURATE: the loss then never takes the log of a rounded (or
// underflowed) probability. A label outside [0, classes) gives NaN, as in cuda/naive, instead of a
// read out of bounds. xent_from_logp_on decides which run; tests/test_cublas_host.cpp runs it with a
// host grid. C++17, and plain C++ when not compiled by nvcc.
#include <math.h>  // expf on host and device alike

#include <cstdint>

#include "backends/cuda/hd.h"

namespace cnnb::cudnn {

CNNB_HD inline float xent_loss_at(const float* logp, const int32_t* labels, int classes, int64_t i) {
  const int label = labels[i];
  return label >= 0 && label < classes ? -logp[i * classes + label] : NAN;
}

CNNB_HD inline float xent_dlogit_at(const float* logp, const int32_t* labels, int n, int classes, int64_t e) {
  const int64_t i = e / classes;
  const int j = int(e % classes), label = labels[i];
  if (label < 0 || label >= classes) return NAN;
  return (expf(logp[e]) - (j == label ? 1.0f : 0.0f)) / float(n);
}

struct XentLoss {
  const float* logp;
  const int32_t* labels;
  int classes;
  float* loss;
  CNNB_HD void operator()(int64_t i) const { loss[i] = xent_loss_at(logp, labels, classes, i); }
};

struct XentDlogits {
  const float* logp;
  const int32_t* labels;
  int n, classes;
  float* dlogits;
  CNNB_HD void operator()(int64_t e) const { dlogits[e] = xent_dlogit_at(logp, labels, n, classes, e); }
};

// loss[i] (one thread per sample) and dlogits (one per element) from logp (n x classes); either output
// may be null. A Grid runs f(i) for i in [0, n) as grid(n, f) (launch.cuh's DeviceGrid, host_grid.h's HostGrid).
template <class Grid>
void xent_from_logp_on(const Grid& grid, const float* logp, const int32_t* labels, int n, int classes, float* loss,
                       float* dlogits) {
  if (loss) grid(int64_t(n), XentLoss{logp, labels, classes, loss});
  if (dlogits) grid(int64_t(n) * classes, XentDlogits{logp, labels, n, classes, dlogits});
}

}  // namespace cnnb::cudnn
