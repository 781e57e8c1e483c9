#pragma once
// cuda-gemm's own kernels (lowering_kernels.cu), launched on the replica's stream with its device
// current, and checked; what their threads do is lowering_bodies.h's functors. Plain C++ header: the
// .cpp files that issue the cuBLAS calls include it.
#include <cstdint>

#include "backends/cublas/lowering_bodies.h"
#include "core/exec_ctx.h"

namespace cnnb::cublas {

// f(e) for every e in [0, n), one thread per element.
void launch_grid(const ExecCtx& ctx, int64_t n, const Im2colChunk& f);
void launch_grid(const ExecCtx& ctx, int64_t n, const Col2imChunk& f);
void launch_grid(const ExecCtx& ctx, int64_t n, const AddBias& f);

// One block of BiasGrad::kLanes threads per channel for channels [0, count).
void launch_blocks(const ExecCtx& ctx, int count, const BiasGrad& f);

}  // namespace cnnb::cublas
