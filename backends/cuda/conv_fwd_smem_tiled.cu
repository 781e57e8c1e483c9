// conv_fwd/cuda/smem_tiled: the naive convolution with its loads staged in shared memory.
//
// Naive gives each thread one output and has it read its whole receptive field and filter slice
// from global memory: neighbouring threads re-read overlapping input and every thread of an (n,k)
// re-reads the same filter. Here a 16x16 block computes a 16x16 tile of outputs (p,q) for one
// (n,k): for a chunk of input channels at a time, the block first copies the input patch that
// tile needs ((16-1)*stride + R rows by (16-1)*stride + S columns, zeros where padding or the
// image edge is) and the k-th filter's slice into shared memory, synchronises, and then each thread
// accumulates from shared memory only. Stride and padding are handled by the patch origin
// (p0*stride - pad) and the per-thread offset (ty*stride); threads outside the output still help
// load and reach every barrier, they only skip the store. Summation order is naive's (c, r, s).
#include "backends/cuda/geometry_checks.h"
#include "backends/cuda/launch.cuh"
#include "backends/ops.h"
#include "core/error.h"

namespace cnnb::cuda {

namespace {

constexpr int kTile = 16;
constexpr int kTileThreads = kTile * kTile;
// Shared memory per block a channel chunk may take: below the 48 KiB every GPU gives without
// opting in, and small enough for several resident blocks per SM.
constexpr size_t kSmemBudget = 24 * 1024;
constexpr size_t kSmemLimit = 48 * 1024;

struct TileGeom {
  int p, q;              // output size
  int patch_h, patch_w;  // input rows/columns one output tile reads
  int chunk;             // input channels staged per round
};

__global__ void conv_fwd_tiled_kernel(ConvFwdArgs a, TileGeom t) {
  extern __shared__ float smem[];
  const ConvGeom& g = a.g;
  const int patch_size = t.patch_h * t.patch_w;
  float* patch = smem;                      // [chunk][patch_h][patch_w]
  float* filter = smem + t.chunk * patch_size;  // [chunk][r][s]

  const int tx = int(threadIdx.x), ty = int(threadIdx.y), tid = ty * kTile + tx;
  const int p0 = int(blockIdx.y) * kTile, q0 = int(blockIdx.x) * kTile;
  const int p = p0 + ty, q = q0 + tx;
  const bool inside = p < t.p && q < t.q;
  const int h0 = p0 * g.stride - g.pad, w0 = q0 * g.stride - g.pad;  // patch origin in the input
  const int64_t nk_count = int64_t(g.n) * g.k;

  // Every loop bound below depends only on the block, never on the thread: barriers are uniform.
  for (int64_t nk = blockIdx.z; nk < nk_count; nk += gridDim.z) {
    const int64_t n = nk / g.k;
    const int k = int(nk % g.k);
    float acc = 0.0f;
    for (int c0 = 0; c0 < g.c; c0 += t.chunk) {
      const int cn = g.c - c0 < t.chunk ? g.c - c0 : t.chunk;
      for (int e = tid; e < cn * patch_size; e += kTileThreads) {
        const int cl = e / patch_size, ih = h0 + e % patch_size / t.patch_w, iw = w0 + e % t.patch_w;
        patch[e] = (ih >= 0 && ih < g.h && iw >= 0 && iw < g.w)
                       ? a.x[((n * g.c + c0 + cl) * g.h + ih) * g.w + iw]
                       : 0.0f;
      }
      const float* w = a.w + (int64_t(k) * g.c + c0) * g.r * g.s;
      for (int e = tid; e < cn * g.r * g.s; e += kTileThreads) filter[e] = w[e];
      __syncthreads();
      if (inside) {
        for (int cl = 0; cl < cn; ++cl) {
          const float* in = patch + cl * patch_size + (ty * g.stride) * t.patch_w + tx * g.stride;
          const float* f = filter + cl * g.r * g.s;
          for (int r = 0; r < g.r; ++r)
            for (int s = 0; s < g.s; ++s) acc += in[r * t.patch_w + s] * f[r * g.s + s];
        }
      }
      __syncthreads();  // before the next round overwrites the tiles
    }
    if (inside) a.y[((n * g.k + k) * t.p + p) * t.q + q] = acc + a.bias[k];
  }
}

}  // namespace

void conv_fwd_smem_tiled(const ExecCtx& ctx, const ConvFwdArgs& a) {
  const ConvGeom& g = a.g;
  cudaStream_t stream = stream_of(ctx, "conv_fwd/cuda/smem_tiled");
  check_geometry(g, "conv_fwd/cuda/smem_tiled");
  TileGeom t;
  t.p = g.p();
  t.q = g.q();
  t.patch_h = (kTile - 1) * g.stride + g.r;
  t.patch_w = (kTile - 1) * g.stride + g.s;
  const size_t per_channel = (size_t(t.patch_h) * t.patch_w + size_t(g.r) * g.s) * sizeof(float);
  CNNB_CHECK(per_channel <= kSmemLimit,
             "conv_fwd/cuda/smem_tiled: a {}x{} filter at stride {} needs {} bytes of shared memory per input "
             "channel, more than the {} available; use conv_fwd/cuda/naive for this layer",
             g.r, g.s, g.stride, per_channel, kSmemLimit);
  const size_t fit = kSmemBudget / per_channel;
  t.chunk = int(fit < 1 ? 1 : (fit > size_t(g.c) ? size_t(g.c) : fit));
  const size_t smem = per_channel * size_t(t.chunk);

  const int64_t nk = int64_t(g.n) * g.k;
  const dim3 block(kTile, kTile);
  const dim3 grid(unsigned((t.q + kTile - 1) / kTile), unsigned((t.p + kTile - 1) / kTile),
                  unsigned(nk < 65535 ? nk : 65535));  // gridDim.z limit; the kernel loops over the rest
  conv_fwd_tiled_kernel<<<grid, block, smem, stream>>>(a, t);
  CNNB_CUDA_CHECK_LAUNCH();
}

}  // namespace cnnb::cuda
