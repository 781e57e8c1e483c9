#pragma once
// What the cudnn backend keeps per geometry, owned by the replica's CudaCtx (no globals): the
// descriptors of each layer shape it has seen and, for convolutions, the algorithms chosen for the
// forward, backward-data and backward-filter passes with the workspace they need. Built once on first
// use, reused on every later step. Host code only.
#include <cudnn.h>

#include <array>
#include <cstddef>
#include <map>
#include <string>
#include <tuple>
#include <utility>

#include "backends/cudnn/descriptors.h"
#include "backends/ops.h"

namespace cnnb::cudnn {

// Workspace a convolution algorithm may ask for. Larger requests (FFT on big layers) pass to the
// next-ranked algorithm rather than take the GPU's memory from the batch.
constexpr size_t kConvWorkspaceBudget = size_t(256) << 20;

struct ConvPlan {
  TensorDesc x, y, bias;
  FilterDesc w;
  ConvDesc conv;  // cross-correlation, FP32 compute, CUDNN_FMA_MATH
  cudnnConvolutionFwdAlgo_t fwd{};
  cudnnConvolutionBwdDataAlgo_t bwd_data{};
  cudnnConvolutionBwdFilterAlgo_t bwd_filter{};
  size_t workspace = 0;  // the maximum over the three chosen algorithms
  std::string geometry;  // "conv n64 c1x28x28 k32 3x3 stride1 pad0"
  std::string record;    // "fwd=IMPLICIT_PRECOMP_GEMM bwd_data=ALGO_1 bwd_filter=ALGO_1 math=FMA workspace=0B"
};

struct PoolPlan {
  TensorDesc x, y;
  PoolDesc pool;  // CUDNN_POOLING_MAX_DETERMINISTIC
};

struct LrnPlan {
  TensorDesc x;
  LrnDesc lrn;
};

struct SoftmaxPlan {
  TensorDesc logits;  // n x classes x 1 x 1
};

// The descriptors alone, without a handle and without choosing algorithms: host-side cuDNN calls that
// work without a GPU, so the host tests can check cuDNN's own output sizes and read the LRN settings
// back. Each checks cuDNN's output size against ops.h's and throws (naming `kernel`) on a mismatch.
ConvPlan conv_descriptors(const ConvGeom& g, const char* kernel);
PoolPlan pool_plan(const PoolGeom& g, const char* kernel);
LrnPlan lrn_plan(const LrnGeom& g, const char* kernel);

class Plans {
 public:
  // Each builds the plan on the first call for a geometry (throwing, with `kernel` in the message,
  // when cuDNN refuses it) and returns the cached one afterwards.
  const ConvPlan& conv(cudnnHandle_t h, const ConvGeom& g, const char* kernel);
  const PoolPlan& pool(const PoolGeom& g, const char* kernel);
  const LrnPlan& lrn(const LrnGeom& g, const char* kernel);
  const SoftmaxPlan& softmax(int n, int classes);

  // geometry ("conv n64 c1x28x28 k32 3x3 stride1 pad0") -> the algorithms chosen for it.
  std::map<std::string, std::string> algorithms() const;

 private:
  std::map<std::array<int, 9>, ConvPlan> conv_;
  std::map<std::array<int, 7>, PoolPlan> pool_;
  std::map<std::tuple<int, int, int, int, int, double, double, double>, LrnPlan> lrn_;
  std::map<std::pair<int, int>, SoftmaxPlan> softmax_;
};

}  // namespace cnnb::cudnn
