#pragma once
// Choosing a cuDNN convolution algorithm from the ranked list that cudnnGet*Algorithm_v7 (heuristics)
// or cudnnFind*Algorithm(Ex) (measured) return, written apart from the calls so the host tests can
// feed it made-up lists. Host code only.
//
// The rules, in order:
//   - status must be CUDNN_STATUS_SUCCESS;
//   - no Tensor Core math: an entry reporting CUDNN_TENSOR_OP_MATH(_ALLOW_CONVERSION) is refused.
//     The searches report entries of every math type whatever the descriptor says (OneFlow PR 3460
//     quotes the v7 API reference on this), and cuDNN's DEFAULT math permits TF32 from Ampere on.
//     FMA and DEFAULT entries are accepted, and the descriptor stays at CUDNN_FMA_MATH for the call:
//     the perf entry's math type is NOT copied back (as PyTorch does for TF32-off FP32), so nothing
//     runs on Tensor Cores;
//   - the workspace it reports, and the size cudnnGet*WorkspaceSize gives under CUDNN_FMA_MATH (the
//     probe), must both fit the budget, and the probe must succeed;
//   - deterministic entries first, in cuDNN's order; a nondeterministic one only when no
//     deterministic entry qualifies (it is then flagged in the run record).
#include <cudnn.h>

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

namespace cnnb::cudnn {

const char* algo_name(cudnnConvolutionFwdAlgo_t a);
const char* algo_name(cudnnConvolutionBwdDataAlgo_t a);
const char* algo_name(cudnnConvolutionBwdFilterAlgo_t a);
const char* math_name(cudnnMathType_t m);

struct AlgoChoice {
  int index = -1;          // into the perf list; -1 when nothing qualified
  size_t workspace = 0;    // bytes under CUDNN_FMA_MATH, from the probe
  bool deterministic = false;
  std::string passed_over;  // "FFT: CUDNN_STATUS_NOT_SUPPORTED; ALGO_0: nondeterministic; ..." (the entries skipped)
};

// probe(algo) -> std::optional<size_t>: the workspace cuDNN asks for that algorithm with the
// descriptor at CUDNN_FMA_MATH, or nothing when it refuses the algorithm there.
template <class Perf, class Probe>
AlgoChoice choose_algo(const Perf* perf, int count, size_t budget, Probe&& probe) {
  std::vector<std::string> skipped;
  std::vector<int> deterministic, other;  // entries that pass the status, math and memory rules
  for (int i = 0; i < count; ++i) {
    const Perf& p = perf[i];
    const char* name = algo_name(p.algo);
    if (p.status != CUDNN_STATUS_SUCCESS)
      skipped.push_back(fmt::format("{}: {}", name, cudnnGetErrorString(p.status)));
    else if (p.mathType == CUDNN_TENSOR_OP_MATH || p.mathType == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION)
      skipped.push_back(fmt::format("{}: {} (Tensor Cores)", name, math_name(p.mathType)));
    else if (p.memory > budget)
      skipped.push_back(fmt::format("{}: needs {} B of workspace, budget {} B", name, p.memory, budget));
    else
      (p.determinism == CUDNN_DETERMINISTIC ? deterministic : other).push_back(i);
  }

  AlgoChoice c;
  auto take_first = [&](const std::vector<int>& list) {
    for (int i : list) {
      const char* name = algo_name(perf[i].algo);
      const std::optional<size_t> ws = probe(perf[i].algo);
      if (!ws)
        skipped.push_back(fmt::format("{}: refused under CUDNN_FMA_MATH", name));
      else if (*ws > budget)
        skipped.push_back(fmt::format("{}: needs {} B of workspace under FMA math, budget {} B", name, *ws, budget));
      else {
        c.index = i;
        c.workspace = *ws;
        return true;
      }
    }
    return false;
  };
  if (take_first(deterministic)) {
    c.deterministic = true;
    for (int i : other)  // ranked above the choice, passed over only for being nondeterministic
      if (i < c.index) skipped.push_back(fmt::format("{}: nondeterministic", algo_name(perf[i].algo)));
  } else {
    take_first(other);
  }
  for (size_t i = 0; i < skipped.size(); ++i) c.passed_over += (i ? "; " : "") + skipped[i];
  return c;
}

}  // namespace cnnb::cudnn
