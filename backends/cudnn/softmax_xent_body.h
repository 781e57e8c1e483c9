#pragma once
// What one thread of the cudnn softmax_xent kernels computes from logp = log_softmax(logits), the
// output of cudnnSoftmaxForward(CUDNN_SOFTMAX_LOG, CUDNN_SOFTMAX_MODE_INSTANCE) on n x classes x 1 x 1:
//   loss[i] = -logp[i, label[i]]                       (= logsumexp(z_i) - z_i[label], ops.h)
//   dz[i,j] = (exp(logp[i,j]) - [j == label[i]]) / n
// The LOG algorithm rather than ACCURATE: the loss then never takes the log of a rounded (or
// underflowed) probability. A label outside [0, classes) gives NaN, as in cuda/naive, instead of a
// read out of bounds. tests/test_cublas_host.cpp runs these on the host. C++17.
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

}  // namespace cnnb::cudnn
