#pragma once
// The mapping from ops.h's LrnGeom to cudnnSetLRNDescriptor's arguments, and cuDNN's limits on them,
// apart from the calls so the host tests can check it. ops.h already uses cuDNN's definition, so the
// mapping is the identity: in particular alpha is passed as it is, NOT divided by the window size,
// because cuDNN divides it by lrnN itself (API reference, cudnnSetLRNDescriptor). Host code only;
// needs no cuDNN header.
#include "backends/ops.h"

namespace cnnb::cudnn {

// cudnn_ops.h: CUDNN_LRN_MIN_N, CUDNN_LRN_MAX_N, CUDNN_LRN_MIN_K, CUDNN_LRN_MIN_BETA (checked against
// the header in lrn_params.cpp).
constexpr unsigned kLrnMinN = 1, kLrnMaxN = 16;
constexpr double kLrnMinK = 1e-5, kLrnMinBeta = 0.01;

struct LrnParams {
  unsigned n = 0;  // lrnN, the window width
  double alpha = 0.0, beta = 0.0, k = 0.0;
  // cuDNN's window around channel c is [c - look_behind, c + look_ahead] (cudnn_ops.h, above
  // cudnnSetLRNDescriptor): lookBehind = floor((lrnN - 1) / 2), lookAhead = lrnN - lookBehind - 1.
  int look_behind() const { return int((n - 1) / 2); }
  int look_ahead() const { return int(n) - look_behind() - 1; }
};

// Throws InputError naming the limit and the cuda/naive alternative when cuDNN cannot take g.
LrnParams lrn_params(const LrnGeom& g, const char* kernel);

}  // namespace cnnb::cudnn
