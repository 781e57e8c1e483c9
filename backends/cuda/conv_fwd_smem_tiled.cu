// conv_fwd/cuda/smem_tiled: the naive convolution with its loads staged in shared memory. The plan and
// the per-thread bodies are in conv_tiles.h (with their host runner); this file only launches them.
#include "backends/cuda/check.h"
#include "backends/cuda/conv_tiles.h"
#include "backends/cuda/cuda_ctx.h"
#include "backends/ops.h"

namespace cnnb::cuda {

namespace {

__global__ void conv_fwd_tiled_kernel(ConvFwdArgs a, TileGeom t, int64_t nk_count) {
  extern __shared__ float smem[];
  const int tx = int(threadIdx.x), ty = int(threadIdx.y), tid = ty * kTile + tx;
  // Every loop bound below depends only on the block, never on the thread: barriers are uniform.
  for (int64_t nk = blockIdx.z; nk < nk_count; nk += gridDim.z) {
    const TileAt at{int(blockIdx.x), int(blockIdx.y), nk};
    float acc = 0.0f;
    for (int c0 = 0; c0 < a.g.c; c0 += t.chunk) {
      tile_load(a, t, at, c0, tid, smem);
      __syncthreads();
      acc = tile_accumulate(a, t, at, c0, tx, ty, smem, acc);
      __syncthreads();  // before the next round overwrites the tiles
    }
    tile_store(a, t, at, tx, ty, acc);
  }
}

}  // namespace

void conv_fwd_smem_tiled(const ExecCtx& ctx, const ConvFwdArgs& a) {
  const char* kernel = "conv_fwd/cuda/smem_tiled";
  CudaCtx& cu = cuda_of(ctx, kernel);
  const TilePlan pl = plan_tiles(a.g, kernel);
  const dim3 block(kTile, kTile);
  const dim3 grid(pl.blocks_x, pl.blocks_y, unsigned(pl.nk < kTileMaxGridZ ? pl.nk : kTileMaxGridZ));
  const ScopedDevice on(cu.device);
  conv_fwd_tiled_kernel<<<grid, block, pl.smem, cu.stream>>>(a, pl.t, pl.nk);
  CNNB_CUDA_CHECK_LAUNCH();
}

}  // namespace cnnb::cuda
