#pragma once
// The loss and gradient kernels behind softmax_xent/cudnn/cudnn (softmax_xent_kernels.cu); bodies in
// softmax_xent_body.h. Plain C++ header.
#include <cstdint>

#include "core/exec_ctx.h"

namespace cnnb::cudnn {

// loss[i] and dlogits[i, :] from logp (n x classes) on the replica's stream; either output may be null.
void xent_from_logp(const ExecCtx& ctx, const float* logp, const int32_t* labels, int n, int classes, float* loss,
                    float* dlogits);

}  // namespace cnnb::cudnn
