#pragma once
// cuda-gemm's own kernels (lowering_kernels.cu), launched on the replica's stream and checked; their
// per-thread bodies are in lowering_bodies.h. Plain C++ header: the .cpp files that issue the cuBLAS
// calls include it.
#include <cstdint>

#include "backends/lowering.h"
#include "core/exec_ctx.h"

namespace cnnb::cublas {

// cols = the column matrices of images x[0 .. images) (each [c x h x w]), one after another.
void im2col_images(const ExecCtx& ctx, const lowering::ConvIdx& g, const float* x, int images, float* cols);

// dx[0 .. images) = col2im of the images' column gradients, overwriting.
void col2im_images(const ExecCtx& ctx, const lowering::ConvIdx& g, const float* cols, int images, float* dx);

// y [n x k x pq] += bias[k] per channel.
void add_bias(const ExecCtx& ctx, float* y, const float* bias, int n, int k, int64_t pq);

// dbias[k] = sum of dy [n x k x pq] over n and pq, overwriting; deterministic (fixed-order block reduction).
void bias_grad(const ExecCtx& ctx, const float* dy, float* dbias, int n, int k, int64_t pq);

}  // namespace cnnb::cublas
