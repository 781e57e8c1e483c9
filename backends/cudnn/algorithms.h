#pragma once
// The cuDNN convolution algorithms a replica has chosen so far, for the run record:
//   "conv n64 c1x28x28 k32 3x3 stride1 pad0" -> "fwd=IMPLICIT_PRECOMP_GEMM bwd_data=ALGO_1 bwd_filter=ALGO_1
//                                               math=FMA workspace=0B search=heuristics_v7"
// Empty for a CPU ExecCtx and before the first cuDNN convolution. The program reads it through
// conv_algorithms() (backends/gpu_backends.h).
#include <map>
#include <string>

#include "core/exec_ctx.h"

namespace cnnb::cudnn {

std::map<std::string, std::string> chosen_algorithms(const ExecCtx& ctx);

}  // namespace cnnb::cudnn
