#pragma once
// conv_fwd/cuda/smem_tiled, apart from its launch: the tiling plan (host), what each thread of a block
// does between barriers (CNNB_HD), and a host runner that executes those bodies for every block and
// thread in the kernel's order, so the CPU suite runs the variant's arithmetic, its tiling and its
// optional bias against cpu-ref. conv_fwd_smem_tiled.cu launches the same bodies.
//
// Naive gives each thread one output and has it read its whole receptive field and filter slice from
// global memory: neighbouring threads re-read overlapping input and every thread of an (n,k) re-reads
// the same filter. Here a 16x16 block computes a 16x16 tile of outputs (p,q) for one (n,k): for a
// chunk of input channels at a time, the block first copies the input patch that tile needs
// ((16-1)*stride + R rows by (16-1)*stride + S columns, zeros where padding or the image edge is) and
// the k-th filter's slice into shared memory (tile_load), synchronises, and then each thread
// accumulates from shared memory only (tile_accumulate). Stride and padding are handled by the patch
// origin (p0*stride - pad) and the per-thread offset (ty*stride); threads outside the output still
// help load and reach every barrier, they only skip the store (tile_store). Summation order is
// naive's (c, r, s). C++17, and plain C++ when not compiled by nvcc.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "backends/cuda/geometry_checks.h"
#include "backends/cuda/hd.h"
#include "backends/ops.h"
#include "core/error.h"

namespace cnnb::cuda {

constexpr int kTile = 16;
constexpr int kTileThreads = kTile * kTile;
// Shared memory per block a channel chunk may take: below the 48 KiB every GPU gives without opting
// in, and small enough for several resident blocks per SM.
constexpr size_t kTileSmemBudget = 24 * 1024;
constexpr size_t kTileSmemLimit = 48 * 1024;
// gridDim.z limit: blocks loop over the (n, k) pairs beyond it.
constexpr int64_t kTileMaxGridZ = 65535;

struct TileGeom {
  int p, q;              // output size
  int patch_h, patch_w;  // input rows/columns one output tile reads
  int chunk;             // input channels staged per round
};

struct TilePlan {
  TileGeom t;
  size_t smem;                       // bytes of dynamic shared memory per block
  unsigned blocks_x, blocks_y;       // output tiles across q and p
  int64_t nk;                        // (n, k) pairs
};

// Throws for a geometry cpu-ref refuses and for a filter whose patch does not fit shared memory.
inline TilePlan plan_tiles(const ConvGeom& g, const char* kernel) {
  check_geometry(g, kernel);
  TilePlan pl{};
  pl.t.p = g.p();
  pl.t.q = g.q();
  pl.t.patch_h = (kTile - 1) * g.stride + g.r;
  pl.t.patch_w = (kTile - 1) * g.stride + g.s;
  const size_t per_channel = (size_t(pl.t.patch_h) * pl.t.patch_w + size_t(g.r) * g.s) * sizeof(float);
  CNNB_CHECK(per_channel <= kTileSmemLimit,
             "{}: a {}x{} filter at stride {} needs {} bytes of shared memory per input channel, more than the {} "
             "available; use conv_fwd/cuda/naive for this layer",
             kernel, g.r, g.s, g.stride, per_channel, kTileSmemLimit);
  const size_t fit = kTileSmemBudget / per_channel;
  pl.t.chunk = int(fit < 1 ? 1 : (fit > size_t(g.c) ? size_t(g.c) : fit));
  pl.smem = per_channel * size_t(pl.t.chunk);
  pl.blocks_x = unsigned((pl.t.q + kTile - 1) / kTile);
  pl.blocks_y = unsigned((pl.t.p + kTile - 1) / kTile);
  pl.nk = int64_t(g.n) * g.k;
  return pl;
}

// Where one block's tile sits: (bx, by) the tile across q and p, nk the (n, k) pair.
struct TileAt {
  int bx, by;
  int64_t nk;
};

// Shared memory: [chunk][patch_h][patch_w] input patch, then [chunk][r][s] filter slice.
CNNB_HD inline float* tile_filter(const TileGeom& t, float* smem) { return smem + t.chunk * t.patch_h * t.patch_w; }

// Thread tid's share of staging channels [c0, c0 + chunk) of the block's patch and filter slice.
CNNB_HD inline void tile_load(const ConvFwdArgs& a, const TileGeom& t, TileAt at, int c0, int tid, float* smem) {
  const ConvGeom& g = a.g;
  const int patch_size = t.patch_h * t.patch_w;
  const int64_t n = at.nk / g.k;
  const int k = int(at.nk % g.k);
  const int cn = g.c - c0 < t.chunk ? g.c - c0 : t.chunk;
  const int h0 = at.by * kTile * g.stride - g.pad, w0 = at.bx * kTile * g.stride - g.pad;  // patch origin
  for (int e = tid; e < cn * patch_size; e += kTileThreads) {
    const int cl = e / patch_size, ih = h0 + e % patch_size / t.patch_w, iw = w0 + e % t.patch_w;
    smem[e] = (ih >= 0 && ih < g.h && iw >= 0 && iw < g.w) ? a.x[((n * g.c + c0 + cl) * g.h + ih) * g.w + iw] : 0.0f;
  }
  const float* w = a.w + (int64_t(k) * g.c + c0) * g.r * g.s;
  float* filter = tile_filter(t, smem);
  for (int e = tid; e < cn * g.r * g.s; e += kTileThreads) filter[e] = w[e];
}

CNNB_HD inline bool tile_inside(const TileGeom& t, TileAt at, int tx, int ty) {
  return at.by * kTile + ty < t.p && at.bx * kTile + tx < t.q;
}

// Thread (tx, ty)'s sum over the staged channels, added to acc in naive's (c, r, s) order.
CNNB_HD inline float tile_accumulate(const ConvFwdArgs& a, const TileGeom& t, TileAt at, int c0, int tx, int ty,
                                     float* smem, float acc) {
  const ConvGeom& g = a.g;
  if (!tile_inside(t, at, tx, ty)) return acc;
  const int patch_size = t.patch_h * t.patch_w;
  const int cn = g.c - c0 < t.chunk ? g.c - c0 : t.chunk;
  const float* filter = tile_filter(t, smem);
  for (int cl = 0; cl < cn; ++cl) {
    const float* in = smem + cl * patch_size + (ty * g.stride) * t.patch_w + tx * g.stride;
    const float* f = filter + cl * g.r * g.s;
    for (int r = 0; r < g.r; ++r)
      for (int s = 0; s < g.s; ++s) acc += in[r * t.patch_w + s] * f[r * g.s + s];
  }
  return acc;
}

// The bias is optional (ops.h): without one the output is the sum alone.
CNNB_HD inline void tile_store(const ConvFwdArgs& a, const TileGeom& t, TileAt at, int tx, int ty, float acc) {
  if (!tile_inside(t, at, tx, ty)) return;
  const int64_t n = at.nk / a.g.k;
  const int k = int(at.nk % a.g.k);
  const int p = at.by * kTile + ty, q = at.bx * kTile + tx;
  a.y[((n * a.g.k + k) * t.p + p) * t.q + q] = a.bias ? acc + a.bias[k] : acc;
}

// Every block and thread of the launch, on the host: each phase (load, accumulate) runs for all threads
// of the block before the next, which is what the kernel's barriers guarantee.
inline void conv_fwd_smem_tiled_on_host(const ConvFwdArgs& a, const char* kernel) {
  const TilePlan pl = plan_tiles(a.g, kernel);
  std::vector<float> smem(pl.smem / sizeof(float));
  std::vector<float> acc(kTileThreads);
  for (int64_t nk = 0; nk < pl.nk; ++nk)
    for (unsigned by = 0; by < pl.blocks_y; ++by)
      for (unsigned bx = 0; bx < pl.blocks_x; ++bx) {
        const TileAt at{int(bx), int(by), nk};
        for (float& v : acc) v = 0.0f;
        for (int c0 = 0; c0 < a.g.c; c0 += pl.t.chunk) {
          for (int tid = 0; tid < kTileThreads; ++tid) tile_load(a, pl.t, at, c0, tid, smem.data());
          for (int tid = 0; tid < kTileThreads; ++tid)
            acc[size_t(tid)] = tile_accumulate(a, pl.t, at, c0, tid % kTile, tid / kTile, smem.data(), acc[size_t(tid)]);
        }
        for (int tid = 0; tid < kTileThreads; ++tid) tile_store(a, pl.t, at, tid % kTile, tid / kTile, acc[size_t(tid)]);
      }
}

}  // namespace cnnb::cuda
