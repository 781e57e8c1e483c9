// The GEMM lowering (backends/lowering.h) on the host: every GemmCall run through a column-major GEMM
// written from the BLAS definition, im2col/col2im against direct loops and hand-computed matrices.
// This is what the cuBLAS backend's transposes and leading dimensions rest on, with no GPU needed.
#include <gtest/gtest.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "backends/cpu/blas.h"
#include "backends/lowering.h"
#include "core/rng.h"

namespace cnnb {
namespace {

using lowering::ConvIdx;
using lowering::GemmCall;

// C = alpha op(A) op(B) + beta C, column-major, straight from the BLAS definition, in double. It refuses
// what cuBLAS refuses (a leading dimension below the stored row count) and any read or write outside
// the given arrays, so a wrong lda or a wrong transpose cannot pass by luck.
void naive_gemm(const GemmCall& g, const std::vector<float>& a, const std::vector<float>& b, std::vector<float>& c,
                size_t c_offset = 0) {
  const int a_rows = g.trans_a ? g.k : g.m, a_cols = g.trans_a ? g.m : g.k;
  const int b_rows = g.trans_b ? g.n : g.k, b_cols = g.trans_b ? g.k : g.n;
  if (g.m <= 0 || g.n <= 0 || g.k <= 0) throw std::logic_error("non-positive GEMM dimension");
  if (g.lda < a_rows || g.ldb < b_rows || g.ldc < g.m) throw std::logic_error("leading dimension too small");
  if (size_t(a_cols - 1) * g.lda + a_rows > a.size()) throw std::logic_error("A read out of bounds");
  if (size_t(b_cols - 1) * g.ldb + b_rows > b.size()) throw std::logic_error("B read out of bounds");
  if (c_offset + size_t(g.n - 1) * g.ldc + g.m > c.size()) throw std::logic_error("C write out of bounds");
  for (int j = 0; j < g.n; ++j)
    for (int i = 0; i < g.m; ++i) {
      double sum = 0.0;
      for (int l = 0; l < g.k; ++l) {
        const double av = g.trans_a ? a[l + size_t(i) * g.lda] : a[i + size_t(l) * g.lda];
        const double bv = g.trans_b ? b[j + size_t(l) * g.ldb] : b[l + size_t(j) * g.ldb];
        sum += av * bv;
      }
      float& out = c[c_offset + i + size_t(j) * g.ldc];
      out = float(g.alpha * sum + (g.beta == 0.0f ? 0.0 : g.beta * double(out)));
    }
}

std::vector<float> small_ints(size_t n, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> v(n);
  for (float& e : v) e = float(int(rng.below(9)) - 4);
  return v;
}

std::vector<float> slice(const std::vector<float>& v, int64_t offset, int64_t n) {
  return {v.begin() + offset, v.begin() + offset + n};
}

// ---- convolution from the definition (NCHW, KCRS), in double
int64_t at(int a, int b, int c, int d, int B, int C, int D) { return ((int64_t(a) * B + b) * C + c) * D + d; }

std::vector<float> direct_conv_fwd(const ConvGeom& g, const std::vector<float>& x, const std::vector<float>& w) {
  std::vector<double> y(size_t(g.y_size()), 0.0);
  for (int n = 0; n < g.n; ++n)
    for (int k = 0; k < g.k; ++k)
      for (int p = 0; p < g.p(); ++p)
        for (int q = 0; q < g.q(); ++q)
          for (int c = 0; c < g.c; ++c)
            for (int r = 0; r < g.r; ++r)
              for (int s = 0; s < g.s; ++s) {
                const int ih = p * g.stride - g.pad + r, iw = q * g.stride - g.pad + s;
                if (ih >= 0 && ih < g.h && iw >= 0 && iw < g.w)
                  y[at(n, k, p, q, g.k, g.p(), g.q())] +=
                      double(x[at(n, c, ih, iw, g.c, g.h, g.w)]) * w[at(k, c, r, s, g.c, g.r, g.s)];
              }
  return {y.begin(), y.end()};
}

// Scatter form: every (output, filter tap) pair sends dy*w to the input cell it read.
std::vector<float> direct_conv_bwd_data(const ConvGeom& g, const std::vector<float>& dy, const std::vector<float>& w) {
  std::vector<double> dx(size_t(g.x_size()), 0.0);
  for (int n = 0; n < g.n; ++n)
    for (int k = 0; k < g.k; ++k)
      for (int p = 0; p < g.p(); ++p)
        for (int q = 0; q < g.q(); ++q)
          for (int c = 0; c < g.c; ++c)
            for (int r = 0; r < g.r; ++r)
              for (int s = 0; s < g.s; ++s) {
                const int ih = p * g.stride - g.pad + r, iw = q * g.stride - g.pad + s;
                if (ih >= 0 && ih < g.h && iw >= 0 && iw < g.w)
                  dx[at(n, c, ih, iw, g.c, g.h, g.w)] +=
                      double(dy[at(n, k, p, q, g.k, g.p(), g.q())]) * w[at(k, c, r, s, g.c, g.r, g.s)];
              }
  return {dx.begin(), dx.end()};
}

std::vector<float> direct_conv_bwd_filter(const ConvGeom& g, const std::vector<float>& x, const std::vector<float>& dy) {
  std::vector<double> dw(size_t(g.w_size()), 0.0);
  for (int n = 0; n < g.n; ++n)
    for (int k = 0; k < g.k; ++k)
      for (int p = 0; p < g.p(); ++p)
        for (int q = 0; q < g.q(); ++q)
          for (int c = 0; c < g.c; ++c)
            for (int r = 0; r < g.r; ++r)
              for (int s = 0; s < g.s; ++s) {
                const int ih = p * g.stride - g.pad + r, iw = q * g.stride - g.pad + s;
                if (ih >= 0 && ih < g.h && iw >= 0 && iw < g.w)
                  dw[at(k, c, r, s, g.c, g.r, g.s)] +=
                      double(dy[at(n, k, p, q, g.k, g.p(), g.q())]) * x[at(n, c, ih, iw, g.c, g.h, g.w)];
              }
  return {dw.begin(), dw.end()};
}

std::string str(const ConvGeom& g) {
  return fmt::format("n{} c{} {}x{} k{} {}x{} stride{} pad{}", g.n, g.c, g.h, g.w, g.k, g.r, g.s, g.stride, g.pad);
}

// Hand-picked edge cases plus seeded random geometries (every one with a non-empty output).
std::vector<ConvGeom> geometries() {
  std::vector<ConvGeom> gs = {
      {1, 1, 3, 3, 1, 2, 2, 1, 0},   {2, 3, 7, 5, 4, 3, 3, 1, 1},  {2, 2, 9, 8, 3, 3, 3, 2, 1},
      {1, 2, 6, 11, 3, 2, 4, 1, 0},  {1, 2, 10, 10, 2, 4, 4, 3, 2}, {2, 2, 4, 4, 2, 3, 3, 1, 2},
      {2, 5, 5, 5, 3, 1, 1, 1, 0},   {2, 3, 6, 7, 2, 1, 1, 2, 0},  {1, 3, 5, 5, 2, 5, 5, 1, 0},
      {1, 1, 1, 1, 1, 1, 1, 1, 0},   {1, 2, 1, 9, 2, 1, 3, 1, 0},  {1, 1, 2, 2, 2, 3, 3, 1, 1},
      {1, 3, 32, 32, 4, 5, 5, 1, 2},
  };
  Rng rng(20240601);
  while (gs.size() < 60) {
    ConvGeom g;
    g.n = 1 + int(rng.below(3));
    g.c = 1 + int(rng.below(4));
    g.h = 1 + int(rng.below(9));
    g.w = 1 + int(rng.below(9));
    g.k = 1 + int(rng.below(4));
    g.r = 1 + int(rng.below(5));
    g.s = 1 + int(rng.below(5));
    g.stride = 1 + int(rng.below(3));
    g.pad = int(rng.below(3));
    if (g.h + 2 * g.pad >= g.r && g.w + 2 * g.pad >= g.s) gs.push_back(g);
  }
  return gs;
}

TEST(Lowering, GemmCallsMatchHandComputedArguments) {
  const ConvGeom g{2, 3, 5, 5, 4, 3, 3, 1, 0};  // PQ = 9, CRS = 27, K = 4
  auto expect = [](const GemmCall& got, GemmCall want, const char* what) {
    SCOPED_TRACE(what);
    EXPECT_EQ(got.trans_a, want.trans_a);
    EXPECT_EQ(got.trans_b, want.trans_b);
    EXPECT_EQ(got.m, want.m);
    EXPECT_EQ(got.n, want.n);
    EXPECT_EQ(got.k, want.k);
    EXPECT_EQ(got.lda, want.lda);
    EXPECT_EQ(got.ldb, want.ldb);
    EXPECT_EQ(got.ldc, want.ldc);
    EXPECT_EQ(got.alpha, want.alpha);
    EXPECT_EQ(got.beta, want.beta);
  };
  expect(lowering::conv_fwd(g), {false, false, 9, 4, 27, 9, 27, 9, 1.0f, 0.0f}, "conv_fwd");
  expect(lowering::conv_bwd_data(g), {false, true, 9, 27, 4, 9, 27, 9, 1.0f, 0.0f}, "conv_bwd_data");
  expect(lowering::conv_bwd_filter(g, false), {true, false, 27, 4, 9, 9, 9, 27, 1.0f, 0.0f}, "conv_bwd_filter");
  expect(lowering::conv_bwd_filter(g, true), {true, false, 27, 4, 9, 9, 9, 27, 1.0f, 1.0f}, "conv_bwd_filter acc");
  const DenseGeom d{5, 7, 3};
  expect(lowering::dense_fwd(d), {true, false, 3, 5, 7, 7, 7, 3, 1.0f, 0.0f}, "dense_fwd");
  expect(lowering::dense_bwd_data(d), {false, false, 7, 5, 3, 7, 3, 7, 1.0f, 0.0f}, "dense_bwd_data");
  expect(lowering::dense_bwd_weights(d), {false, true, 7, 3, 5, 7, 3, 7, 1.0f, 0.0f}, "dense_bwd_weights");
}

TEST(Lowering, Im2colHandExamples) {
  {  // 3x3 image 1..9, 2x2 filter: each row is one filter tap seen from the 4 output positions
    const ConvIdx ix = lowering::conv_idx({1, 1, 3, 3, 1, 2, 2, 1, 0});
    const std::vector<float> x = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    const std::vector<float> want = {1, 2, 4, 5, 2, 3, 5, 6, 4, 5, 7, 8, 5, 6, 8, 9};
    std::vector<float> cols(16, -1.0f);
    lowering::im2col(ix, x.data(), cols.data());
    EXPECT_EQ(cols, want);
    for (int64_t i = 0; i < 16; ++i) EXPECT_EQ(lowering::im2col_at(ix, x.data(), i / 4, i % 4), want[i]) << i;
  }
  {  // 2x2 image, 3x3 filter, pad 1: the corner taps see one real cell, the centre tap sees all four
    const ConvIdx ix = lowering::conv_idx({1, 1, 2, 2, 1, 3, 3, 1, 1});
    ASSERT_EQ(ix.p, 2);
    ASSERT_EQ(ix.q, 2);
    const std::vector<float> x = {1, 2, 3, 4};
    std::vector<float> cols(36, -1.0f);
    lowering::im2col(ix, x.data(), cols.data());
    EXPECT_EQ(slice(cols, 0 * 4, 4), (std::vector<float>{0, 0, 0, 1}));  // tap (0,0)
    EXPECT_EQ(slice(cols, 4 * 4, 4), (std::vector<float>{1, 2, 3, 4}));  // tap (1,1)
    EXPECT_EQ(slice(cols, 8 * 4, 4), (std::vector<float>{4, 0, 0, 0}));  // tap (2,2)
    EXPECT_EQ(slice(cols, 2 * 4, 4), (std::vector<float>{0, 0, 2, 0}));  // tap (0,2): reads (oh-1, ow+1)
  }
  {  // 4x4 image 0..15, 2x2 filter, stride 2: the windows do not overlap
    const ConvIdx ix = lowering::conv_idx({1, 1, 4, 4, 1, 2, 2, 2, 0});
    std::vector<float> x(16);
    for (int i = 0; i < 16; ++i) x[i] = float(i);
    std::vector<float> cols(16, -1.0f);
    lowering::im2col(ix, x.data(), cols.data());
    EXPECT_EQ(slice(cols, 0, 4), (std::vector<float>{0, 2, 8, 10}));
    EXPECT_EQ(slice(cols, 12, 4), (std::vector<float>{5, 7, 13, 15}));
  }
}

TEST(Lowering, Col2imHandExample) {
  // All-ones columns of a 3x3 image under a 2x2 filter: each cell receives one per window covering it.
  const ConvIdx ix = lowering::conv_idx({1, 1, 3, 3, 1, 2, 2, 1, 0});
  const std::vector<float> cols(16, 1.0f);
  const std::vector<float> want = {1, 2, 1, 2, 4, 2, 1, 2, 1};
  std::vector<float> dx(9, -7.0f);  // col2im overwrites
  lowering::col2im(ix, cols.data(), dx.data());
  EXPECT_EQ(dx, want);
  for (int i = 0; i < 9; ++i) EXPECT_EQ(lowering::col2im_at(ix, cols.data(), 0, i / 3, i % 3), want[i]) << i;
}

TEST(Lowering, HostLoopsMatchPerElementFunctions) {
  for (const ConvGeom& g : geometries()) {
    SCOPED_TRACE(str(g));
    const ConvIdx ix = lowering::conv_idx(g);
    const auto x = small_ints(size_t(ix.image()), 1);
    std::vector<float> cols(size_t(ix.rows() * ix.cols()), 99.0f);
    lowering::im2col(ix, x.data(), cols.data());
    for (int64_t row = 0; row < ix.rows(); ++row)
      for (int64_t col = 0; col < ix.cols(); ++col)
        ASSERT_EQ(cols[row * ix.cols() + col], lowering::im2col_at(ix, x.data(), row, col)) << row << "," << col;

    const auto dcols = small_ints(cols.size(), 2);
    std::vector<float> dx(size_t(ix.image()), 99.0f);
    lowering::col2im(ix, dcols.data(), dx.data());
    for (int c = 0; c < g.c; ++c)
      for (int ih = 0; ih < g.h; ++ih)
        for (int iw = 0; iw < g.w; ++iw)
          ASSERT_EQ(dx[at(0, c, ih, iw, g.c, g.h, g.w)], lowering::col2im_at(ix, dcols.data(), c, ih, iw))
              << c << "," << ih << "," << iw;

    // col2im is the adjoint of im2col: <im2col(x), d> == <x, col2im(d)>.
    double lhs = 0.0, rhs = 0.0;
    for (size_t i = 0; i < cols.size(); ++i) lhs += double(cols[i]) * dcols[i];
    for (size_t i = 0; i < x.size(); ++i) rhs += double(x[i]) * dx[i];
    EXPECT_EQ(lhs, rhs);
  }
}

TEST(Lowering, ConvGemmCallsMatchDirectLoops) {
  for (const ConvGeom& g : geometries()) {
    SCOPED_TRACE(str(g));
    const ConvIdx ix = lowering::conv_idx(g);
    const int64_t pq = ix.cols(), crs = ix.rows(), y_image = int64_t(g.k) * pq;
    const auto x = small_ints(size_t(g.x_size()), 3), w = small_ints(size_t(g.w_size()), 4),
               dy = small_ints(size_t(g.y_size()), 5);
    std::vector<float> cols(size_t(crs * pq));

    std::vector<float> y(size_t(g.y_size()), 99.0f);
    for (int n = 0; n < g.n; ++n) {
      lowering::im2col(ix, x.data() + n * ix.image(), cols.data());
      naive_gemm(lowering::conv_fwd(g), cols, w, y, size_t(n * y_image));
    }
    EXPECT_EQ(y, direct_conv_fwd(g, x, w));

    std::vector<float> dx(size_t(g.x_size()), 99.0f);
    for (int n = 0; n < g.n; ++n) {
      naive_gemm(lowering::conv_bwd_data(g), slice(dy, n * y_image, y_image), w, cols);
      lowering::col2im(ix, cols.data(), dx.data() + n * ix.image());
    }
    EXPECT_EQ(dx, direct_conv_bwd_data(g, dy, w));

    std::vector<float> dw(size_t(g.w_size()), 99.0f);  // beta = 0 on the first image ignores this
    for (int n = 0; n < g.n; ++n) {
      lowering::im2col(ix, x.data() + n * ix.image(), cols.data());
      naive_gemm(lowering::conv_bwd_filter(g, n > 0), cols, slice(dy, n * y_image, y_image), dw);
    }
    EXPECT_EQ(dw, direct_conv_bwd_filter(g, x, dy));
  }
}

TEST(Lowering, DenseGemmCallsMatchDirectLoops) {
  for (const DenseGeom& d : {DenseGeom{1, 1, 1}, DenseGeom{5, 7, 3}, DenseGeom{4, 1600, 128}, DenseGeom{3, 2, 9}}) {
    SCOPED_TRACE(fmt::format("n{} in{} out{}", d.n, d.in, d.out));
    const auto x = small_ints(size_t(d.n) * d.in, 6), w = small_ints(size_t(d.out) * d.in, 7),
               dy = small_ints(size_t(d.n) * d.out, 8);
    std::vector<float> y_want(size_t(d.n) * d.out), dx_want(size_t(d.n) * d.in), dw_want(size_t(d.out) * d.in);
    for (int n = 0; n < d.n; ++n)
      for (int o = 0; o < d.out; ++o)
        for (int i = 0; i < d.in; ++i) {
          y_want[size_t(n) * d.out + o] += x[size_t(n) * d.in + i] * w[size_t(o) * d.in + i];
          dx_want[size_t(n) * d.in + i] += dy[size_t(n) * d.out + o] * w[size_t(o) * d.in + i];
          dw_want[size_t(o) * d.in + i] += dy[size_t(n) * d.out + o] * x[size_t(n) * d.in + i];
        }
    std::vector<float> y(y_want.size(), 99.0f), dx(dx_want.size(), 99.0f), dw(dw_want.size(), 99.0f);
    naive_gemm(lowering::dense_fwd(d), w, x, y);
    naive_gemm(lowering::dense_bwd_data(d), w, dy, dx);
    naive_gemm(lowering::dense_bwd_weights(d), x, dy, dw);
    EXPECT_EQ(y, y_want);
    EXPECT_EQ(dx, dx_want);
    EXPECT_EQ(dw, dw_want);
  }
}

TEST(Lowering, OpenBlasRunsGemmCallsLikeTheDefinition) {
  // cpu::sgemm hands a GemmCall to cblas_sgemm(CblasColMajor, ...), cpu::sgemm_parallel cuts it into blocks;
  // both must agree with the definition.
  // Sizes past the 16-wide blocks of sgemm_parallel, in both the row- and the column-split direction.
  const ConvGeom g{1, 3, 13, 12, 40, 3, 2, 1, 1};
  const DenseGeom d{50, 37, 70};
  for (const GemmCall& call : {lowering::conv_fwd(g), lowering::conv_bwd_data(g), lowering::conv_bwd_filter(g, true),
                               lowering::dense_fwd(d), lowering::dense_bwd_data(d), lowering::dense_bwd_weights(d)}) {
    SCOPED_TRACE(fmt::format("ta{} tb{} m{} n{} k{}", call.trans_a, call.trans_b, call.m, call.n, call.k));
    const auto a = small_ints(size_t(call.lda) * (call.trans_a ? call.m : call.k), 9);
    const auto b = small_ints(size_t(call.ldb) * (call.trans_b ? call.k : call.n), 10);
    auto want = small_ints(size_t(call.ldc) * call.n, 11);
    auto got = want;
    naive_gemm(call, a, b, want);
    cpu::use_single_threaded_blas();
    cpu::sgemm(call, a.data(), b.data(), got.data());
    EXPECT_EQ(got, want);
    // Cut into blocks of rows or columns over threads: every block's pointer offsets must be right.
    for (int threads : {2, 3, 7}) {
      auto split = small_ints(want.size(), 11);
      cpu::sgemm_parallel(call, a.data(), b.data(), split.data(), threads);
      EXPECT_EQ(split, want) << threads << " threads";
    }
  }
}

}  // namespace
}  // namespace cnnb
