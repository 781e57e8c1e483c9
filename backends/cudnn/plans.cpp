#include "backends/cudnn/plans.h"

#include <algorithm>
#include <optional>
#include <vector>

#include <fmt/format.h>

#include "backends/cudnn/algo_choice.h"
#include "backends/cudnn/lrn_params.h"
#include "core/error.h"

namespace cnnb::cudnn {

namespace {

template <class Algo>
struct Picked {
  Algo algo{};
  size_t workspace = 0;
  bool deterministic = false;
};

// Runs one heuristic search (cudnnGet*Algorithm_v7: ranked by expected speed, no GPU time, the same
// answer on every run) and applies choose_algo. `search` and `probe` wrap the pass's own cuDNN calls.
template <class Perf, class Search, class Probe>
Picked<decltype(Perf::algo)> pick(const char* pass, const std::string& geometry, int max_count, Search&& search,
                                  Probe&& probe) {
  std::vector<Perf> perf(size_t(std::max(max_count, 1)));
  int returned = 0;
  search(int(perf.size()), &returned, perf.data());
  const AlgoChoice c = choose_algo(perf.data(), std::min(returned, int(perf.size())), kConvWorkspaceBudget, probe);
  if (c.index < 0)
    fail("no cuDNN {} algorithm qualifies for {} (FP32, FMA math, workspace <= {} B): {}", pass, geometry,
         kConvWorkspaceBudget, c.passed_over.empty() ? "cuDNN returned none" : c.passed_over);
  return {perf[size_t(c.index)].algo, c.workspace, c.deterministic};
}

template <class Algo>
std::string describe(const char* pass, const Picked<Algo>& p) {
  return fmt::format("{}={}{}", pass, algo_name(p.algo), p.deterministic ? "" : "(nondeterministic)");
}

}  // namespace

ConvPlan conv_descriptors(const ConvGeom& g, const char* kernel) {
  ConvPlan p;
  p.geometry = fmt::format("conv n{} c{}x{}x{} k{} {}x{} stride{} pad{}", g.n, g.c, g.h, g.w, g.k, g.r, g.s,
                           g.stride, g.pad);
  p.x = nchw_tensor(g.n, g.c, g.h, g.w);
  // K x C x R x S, PyTorch's [out, in, kh, kw]. Data type before format here (the reverse of tensors).
  CNNB_CUDNN_CHECK(cudnnSetFilter4dDescriptor(p.w.get(), CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, g.k, g.c, g.r, g.s));
  // CROSS_CORRELATION is what ops.h, im2col and every framework compute (CONVOLUTION flips the filter).
  CNNB_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(p.conv.get(), g.pad, g.pad, g.stride, g.stride, 1, 1,
                                                   CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
  // FP32 parity with the other backends: DEFAULT math would permit TF32 from Ampere on.
  CNNB_CUDNN_CHECK(cudnnSetConvolutionMathType(p.conv.get(), CUDNN_FMA_MATH));
  int on = 0, ok = 0, op = 0, oq = 0;
  CNNB_CUDNN_CHECK(cudnnGetConvolution2dForwardOutputDim(p.conv.get(), p.x.get(), p.w.get(), &on, &ok, &op, &oq));
  CNNB_CHECK(on == g.n && ok == g.k && op == g.p() && oq == g.q(),
             "{}: cuDNN's output for {} is {}x{}x{}x{}, ops.h's is {}x{}x{}x{}", kernel, p.geometry, on, ok, op, oq,
             g.n, g.k, g.p(), g.q());
  p.y = nchw_tensor(g.n, g.k, g.p(), g.q());
  p.bias = nchw_tensor(1, g.k, 1, 1);
  return p;
}

const ConvPlan& Plans::conv(cudnnHandle_t h, const ConvGeom& g, const char* kernel) {
  const std::array<int, 9> key{g.n, g.c, g.h, g.w, g.k, g.r, g.s, g.stride, g.pad};
  if (auto it = conv_.find(key); it != conv_.end()) return it->second;

  ConvPlan p = conv_descriptors(g, kernel);
  int max_fwd = 0, max_data = 0, max_filter = 0;
  CNNB_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithmMaxCount(h, &max_fwd));
  CNNB_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithmMaxCount(h, &max_data));
  CNNB_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(h, &max_filter));

  const auto fwd = pick<cudnnConvolutionFwdAlgoPerf_t>(
      "forward", p.geometry, max_fwd,
      [&](int requested, int* returned, cudnnConvolutionFwdAlgoPerf_t* perf) {
        CNNB_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(h, p.x.get(), p.w.get(), p.conv.get(), p.y.get(),
                                                                requested, returned, perf));
      },
      [&](cudnnConvolutionFwdAlgo_t a) -> std::optional<size_t> {
        size_t bytes = 0;
        if (cudnnGetConvolutionForwardWorkspaceSize(h, p.x.get(), p.w.get(), p.conv.get(), p.y.get(), a, &bytes) !=
            CUDNN_STATUS_SUCCESS)
          return std::nullopt;
        return bytes;
      });
  const auto data = pick<cudnnConvolutionBwdDataAlgoPerf_t>(
      "backward-data", p.geometry, max_data,
      [&](int requested, int* returned, cudnnConvolutionBwdDataAlgoPerf_t* perf) {
        CNNB_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(h, p.w.get(), p.y.get(), p.conv.get(),
                                                                     p.x.get(), requested, returned, perf));
      },
      [&](cudnnConvolutionBwdDataAlgo_t a) -> std::optional<size_t> {
        size_t bytes = 0;
        if (cudnnGetConvolutionBackwardDataWorkspaceSize(h, p.w.get(), p.y.get(), p.conv.get(), p.x.get(), a,
                                                         &bytes) != CUDNN_STATUS_SUCCESS)
          return std::nullopt;
        return bytes;
      });
  const auto filter = pick<cudnnConvolutionBwdFilterAlgoPerf_t>(
      "backward-filter", p.geometry, max_filter,
      [&](int requested, int* returned, cudnnConvolutionBwdFilterAlgoPerf_t* perf) {
        CNNB_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, p.x.get(), p.y.get(), p.conv.get(),
                                                                       p.w.get(), requested, returned, perf));
      },
      [&](cudnnConvolutionBwdFilterAlgo_t a) -> std::optional<size_t> {
        size_t bytes = 0;
        if (cudnnGetConvolutionBackwardFilterWorkspaceSize(h, p.x.get(), p.y.get(), p.conv.get(), p.w.get(), a,
                                                           &bytes) != CUDNN_STATUS_SUCCESS)
          return std::nullopt;
        return bytes;
      });

  p.fwd = fwd.algo;
  p.bwd_data = data.algo;
  p.bwd_filter = filter.algo;
  // One buffer serves all three passes of the layer.
  p.workspace = std::max({fwd.workspace, data.workspace, filter.workspace});
  p.record = fmt::format("{} {} {} math=FMA workspace={}B search=heuristics_v7", describe("fwd", fwd),
                         describe("bwd_data", data), describe("bwd_filter", filter), p.workspace);
  return conv_.emplace(key, std::move(p)).first->second;
}

PoolPlan pool_plan(const PoolGeom& g, const char* kernel) {
  PoolPlan p;
  p.x = nchw_tensor(g.n, g.c, g.h, g.w);
  // MAX_DETERMINISTIC: plain MAX's backward is nondeterministic when windows overlap (tfcifar's 3s2).
  CNNB_CUDNN_CHECK(cudnnSetPooling2dDescriptor(p.pool.get(), CUDNN_POOLING_MAX_DETERMINISTIC, CUDNN_NOT_PROPAGATE_NAN,
                                               g.window, g.window, g.pad, g.pad, g.stride, g.stride));
  int on = 0, oc = 0, op = 0, oq = 0;
  CNNB_CUDNN_CHECK(cudnnGetPooling2dForwardOutputDim(p.pool.get(), p.x.get(), &on, &oc, &op, &oq));
  CNNB_CHECK(on == g.n && oc == g.c && op == g.p() && oq == g.q(),
             "{}: cuDNN's pooling output is {}x{}x{}x{}, ops.h's is {}x{}x{}x{}", kernel, on, oc, op, oq, g.n, g.c,
             g.p(), g.q());
  p.y = nchw_tensor(g.n, g.c, g.p(), g.q());
  return p;
}

const PoolPlan& Plans::pool(const PoolGeom& g, const char* kernel) {
  const std::array<int, 7> key{g.n, g.c, g.h, g.w, g.window, g.stride, g.pad};
  if (auto it = pool_.find(key); it != pool_.end()) return it->second;
  return pool_.emplace(key, pool_plan(g, kernel)).first->second;
}

LrnPlan lrn_plan(const LrnGeom& g, const char* kernel) {
  const LrnParams lp = lrn_params(g, kernel);
  LrnPlan p;
  p.x = nchw_tensor(g.n, g.c, g.h, g.w);
  CNNB_CUDNN_CHECK(cudnnSetLRNDescriptor(p.lrn.get(), lp.n, lp.alpha, lp.beta, lp.k));
  return p;
}

const LrnPlan& Plans::lrn(const LrnGeom& g, const char* kernel) {
  const auto key = std::make_tuple(g.n, g.c, g.h, g.w, g.size, g.alpha, g.beta, g.k);
  if (auto it = lrn_.find(key); it != lrn_.end()) return it->second;
  return lrn_.emplace(key, lrn_plan(g, kernel)).first->second;
}

const SoftmaxPlan& Plans::softmax(int n, int classes) {
  const std::pair<int, int> key{n, classes};
  if (auto it = softmax_.find(key); it != softmax_.end()) return it->second;
  SoftmaxPlan p;
  p.logits = nchw_tensor(n, classes, 1, 1);
  return softmax_.emplace(key, std::move(p)).first->second;
}

std::map<std::string, std::string> Plans::algorithms() const {
  std::map<std::string, std::string> out;
  for (const auto& [key, plan] : conv_) out[plan.geometry] = plan.record;
  return out;
}

}  // namespace cnnb::cudnn
