// cpu-ref ops on small cases whose answers are worked out by hand in the comments. Outputs of
// backward ops start as garbage (99) so that accumulating instead of overwriting fails.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "backends/cpu/ref.h"
#include "backends/registry.h"
#include "core/error.h"

namespace cnnb {
namespace {

using Vec = std::vector<float>;

const ExecCtx kCpu{};

void expect_near(const Vec& actual, const std::vector<double>& expected, double tol = 1e-6) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i) EXPECT_NEAR(actual[i], expected[i], tol) << "at index " << i;
}

TEST(RefOps, EveryOpHasARefVariant) {
  for (int i = 0; i < kOpCount; ++i) {
    const Op op = static_cast<Op>(i);
    const KernelInfo* k = find_kernel(op, "cpu", "ref");
    ASSERT_NE(k, nullptr) << op_name(op);
    EXPECT_EQ(k->device, DeviceKind::cpu);
    EXPECT_NE(k->fn, nullptr);
  }
}

// ---- convolution
// x = 1 2 3   w = 1 2   stride 1, pad 0: y[p,q] = x[p,q] + 2x[p,q+1] + 3x[p+1,q] + 4x[p+1,q+1] + bias
//     4 5 6       3 4   y[0,0] = 1 + 4 + 12 + 20 = 37,  y[0,1] = 2 + 6 + 15 + 24 = 47,
//     7 8 9             y[1,0] = 4 + 10 + 21 + 32 = 67, y[1,1] = 5 + 12 + 24 + 36 = 77
const Vec kX3x3 = {1, 2, 3, 4, 5, 6, 7, 8, 9};
const Vec kW2x2 = {1, 2, 3, 4};
const ConvGeom kConv3x3{.n = 1, .c = 1, .h = 3, .w = 3, .k = 1, .r = 2, .s = 2, .stride = 1, .pad = 0};
const ConvGeom kConv3x3s2p1{.n = 1, .c = 1, .h = 3, .w = 3, .k = 1, .r = 2, .s = 2, .stride = 2, .pad = 1};

TEST(RefOpsConv, Forward3x3Filter2x2) {
  const Vec bias = {0.5f};
  Vec y(4, 99.f);
  ref::conv_fwd<float>(kCpu, {kConv3x3, kX3x3.data(), kW2x2.data(), bias.data(), y.data()});
  EXPECT_EQ(y, (Vec{37.5f, 47.5f, 67.5f, 77.5f}));
}

// dy = 1 -1   dx[i,j] = sum_{p,q} dy[p,q] w[i-p, j-q]:
//      2  0   dx[0,:] = 1,       2 - 1,      -2            = 1  1 -2
//             dx[1,:] = 3 + 2,   4 - 3 + 4,  -4            = 5  5 -4
//             dx[2,:] = 2*3,     2*4,        0             = 6  8  0   (sum 20 = sum(dy) * sum(w))
TEST(RefOpsConv, BackwardData3x3Filter2x2) {
  const Vec dy = {1, -1, 2, 0};
  Vec dx(9, 99.f);
  ref::conv_bwd_data<float>(kCpu, {kConv3x3, dy.data(), kW2x2.data(), dx.data()});
  EXPECT_EQ(dx, (Vec{1, 1, -2, 5, 5, -4, 6, 8, 0}));
}

// dw[r,s] = sum_{p,q} dy[p,q] x[p+r, q+s] = x[r,s] - x[r,s+1] + 2 x[r+1,s]:
//   dw[0,0] = 1 - 2 + 8 = 7, dw[0,1] = 2 - 3 + 10 = 9, dw[1,0] = 4 - 5 + 14 = 13, dw[1,1] = 5 - 6 + 16 = 15
//   dbias = 1 - 1 + 2 + 0 = 2
TEST(RefOpsConv, BackwardFilter3x3Filter2x2) {
  const Vec dy = {1, -1, 2, 0};
  Vec dw(4, 99.f), dbias(1, 99.f);
  ref::conv_bwd_filter<float>(kCpu, {kConv3x3, kX3x3.data(), dy.data(), dw.data(), dbias.data()});
  EXPECT_EQ(dw, (Vec{7, 9, 13, 15}));
  EXPECT_EQ(dbias, (Vec{2}));
}

// Stride 2, pad 1: P = Q = (3 + 2 - 2) / 2 + 1 = 2; window (p,q) covers rows 2p-1, 2p and cols 2q-1, 2q.
//   y[0,0] = x[0,0] w[1,1]                                  = 4
//   y[0,1] = x[0,1] w[1,0] + x[0,2] w[1,1]                  = 6 + 12  = 18
//   y[1,0] = x[1,0] w[0,1] + x[2,0] w[1,1]                  = 8 + 28  = 36
//   y[1,1] = x[1,1] w[0,0] + x[1,2] w[0,1] + x[2,1] w[1,0] + x[2,2] w[1,1] = 5 + 12 + 24 + 36 = 77
// No bias (null).
TEST(RefOpsConv, ForwardStride2Pad1) {
  Vec y(4, 99.f);
  ref::conv_fwd<float>(kCpu, {kConv3x3s2p1, kX3x3.data(), kW2x2.data(), nullptr, y.data()});
  EXPECT_EQ(y, (Vec{4, 18, 36, 77}));
}

// Each input cell lies in exactly one window: row i is read by p = (i+1)/2 through filter row (i+1)%2.
// dy = 1 2 -> dx[0,:] = dy00 w11, dy01 w10, dy01 w11 = 4  6  8
//      3 4    dx[1,:] = dy10 w01, dy11 w00, dy11 w01 = 6  4  8
//             dx[2,:] = dy10 w11, dy11 w10, dy11 w11 = 12 12 16
TEST(RefOpsConv, BackwardDataStride2Pad1) {
  const Vec dy = {1, 2, 3, 4};
  Vec dx(9, 99.f);
  ref::conv_bwd_data<float>(kCpu, {kConv3x3s2p1, dy.data(), kW2x2.data(), dx.data()});
  EXPECT_EQ(dx, (Vec{4, 6, 8, 6, 4, 8, 12, 12, 16}));
}

// dw[r,s] = sum_{p,q} dy[p,q] x[2p-1+r, 2q-1+s] (x outside the image is 0):
//   dw[0,0] = dy11 x[1,1]                                   = 20
//   dw[0,1] = dy10 x[1,0] + dy11 x[1,2]                     = 12 + 24 = 36
//   dw[1,0] = dy01 x[0,1] + dy11 x[2,1]                     = 4 + 32  = 36
//   dw[1,1] = dy00 x[0,0] + dy01 x[0,2] + dy10 x[2,0] + dy11 x[2,2] = 1 + 6 + 21 + 36 = 64
TEST(RefOpsConv, BackwardFilterStride2Pad1) {
  const Vec dy = {1, 2, 3, 4};
  Vec dw(4, 99.f), dbias(1, 99.f);
  ref::conv_bwd_filter<float>(kCpu, {kConv3x3s2p1, kX3x3.data(), dy.data(), dw.data(), dbias.data()});
  EXPECT_EQ(dw, (Vec{20, 36, 36, 64}));
  EXPECT_EQ(dbias, (Vec{10}));
}

// Layout check with N = 2, C = 2, K = 3 and 1x1 filters: y[n,k] = sum_c w[k,c] x[n,c] (+ bias[k]).
//   x = [[1, 2], [3, 4]], w = [[1, 10], [100, 1000], [-1, 0]], bias = [0, 0, 0.5]
//   y[0] = [1 + 20, 100 + 2000, -1 + 0.5] = [21, 2100, -0.5];  y[1] = [3 + 40, 300 + 4000, -3 + 0.5] = [43, 4300, -2.5]
// dy = [[1, 0, 0], [0, 0, 1]]: dx[n,c] = sum_k dy[n,k] w[k,c] -> dx[0] = w[0] = [1, 10], dx[1] = w[2] = [-1, 0]
//   dw[k,c] = sum_n dy[n,k] x[n,c] -> [[1, 2], [0, 0], [3, 4]];  dbias = [1, 0, 1]
TEST(RefOpsConv, ChannelsFiltersAndBatchLayout) {
  const ConvGeom g{.n = 2, .c = 2, .h = 1, .w = 1, .k = 3, .r = 1, .s = 1};
  const Vec x = {1, 2, 3, 4}, w = {1, 10, 100, 1000, -1, 0}, bias = {0, 0, 0.5f}, dy = {1, 0, 0, 0, 0, 1};
  Vec y(6, 99.f), dx(4, 99.f), dw(6, 99.f), dbias(3, 99.f);
  ref::conv_fwd<float>(kCpu, {g, x.data(), w.data(), bias.data(), y.data()});
  EXPECT_EQ(y, (Vec{21, 2100, -0.5f, 43, 4300, -2.5f}));
  ref::conv_bwd_data<float>(kCpu, {g, dy.data(), w.data(), dx.data()});
  EXPECT_EQ(dx, (Vec{1, 10, -1, 0}));
  ref::conv_bwd_filter<float>(kCpu, {g, x.data(), dy.data(), dw.data(), dbias.data()});
  EXPECT_EQ(dw, (Vec{1, 2, 0, 0, 3, 4}));
  EXPECT_EQ(dbias, (Vec{1, 0, 1}));
}

// A 1x2 filter (r = 1, s = 2) on a 2x3 image: y[p,q] = x[p,q] + 10 x[p,q+1] -> [21, 32; 54, 65].
TEST(RefOpsConv, NonSquareFilter) {
  const ConvGeom g{.n = 1, .c = 1, .h = 2, .w = 3, .k = 1, .r = 1, .s = 2};
  const Vec x = {1, 2, 3, 4, 5, 6}, w = {1, 10};
  Vec y(4, 99.f);
  ref::conv_fwd<float>(kCpu, {g, x.data(), w.data(), nullptr, y.data()});
  EXPECT_EQ(y, (Vec{21, 32, 54, 65}));
}

TEST(RefOpsConv, RejectsAFilterLargerThanThePaddedInput) {
  const ConvGeom g{.n = 1, .c = 1, .h = 2, .w = 2, .k = 1, .r = 3, .s = 3};
  const Vec x(4), w(9);
  Vec y(1);
  EXPECT_THROW(ref::conv_fwd<float>(kCpu, {g, x.data(), w.data(), nullptr, y.data()}), Error);
}

// ---- ReLU: the subgradient at 0 (and -0) is 0.
TEST(RefOpsRelu, ForwardAndBackward) {
  const Vec x = {-2, -0.f, 0, 0.5f, 3};
  Vec y(5, 99.f);
  ref::relu_fwd<float>(kCpu, {5, x.data(), y.data()});
  EXPECT_EQ(y, (Vec{0, 0, 0, 0.5f, 3}));
  const Vec dy = {1, 2, 3, 4, 5};
  Vec dx(5, 99.f);
  ref::relu_bwd<float>(kCpu, {5, y.data(), dy.data(), dx.data()});
  EXPECT_EQ(dx, (Vec{0, 0, 0, 4, 5}));
}

// ---- max pooling
// Window 2, stride 2, pad 1 on an all-negative 3x3 image: P = (3 + 2 - 2) / 2 + 1 = 2. If padded cells
// counted as 0 every output would be 0; they never win, so
//   y[0,0] = max(x00) = -1,  y[0,1] = max(x01, x02) = -2,  y[1,0] = max(x10, x20) = -4,  y[1,1] = max(-5,-6,-8,-9) = -5
// and backward sends dy to x00, x01, x10, x11.
TEST(RefOpsPool, PaddingNeverWins) {
  const PoolGeom g{.n = 1, .c = 1, .h = 3, .w = 3, .window = 2, .stride = 2, .pad = 1};
  const Vec x = {-1, -2, -3, -4, -5, -6, -7, -8, -9};
  Vec y(4, 99.f);
  ref::pool_fwd<float>(kCpu, {g, x.data(), y.data()});
  EXPECT_EQ(y, (Vec{-1, -2, -4, -5}));
  const Vec dy = {1, 2, 3, 4};
  Vec dx(9, 99.f);
  ref::pool_bwd<float>(kCpu, {g, x.data(), y.data(), dy.data(), dx.data()});
  EXPECT_EQ(dx, (Vec{1, 2, 0, 3, 4, 0, 0, 0, 0}));
}

// Window 2, stride 2 on  5 5 1 2 : the left window holds three 5s, the first in row-major order (0,0)
//                        5 0 2 2   wins; the right window holds three 2s, and (0,3) comes first.
TEST(RefOpsPool, TiesGoToTheFirstMaximum) {
  const PoolGeom g{.n = 1, .c = 1, .h = 2, .w = 4, .window = 2, .stride = 2, .pad = 0};
  const Vec x = {5, 5, 1, 2, 5, 0, 2, 2};
  Vec y(2, 99.f);
  ref::pool_fwd<float>(kCpu, {g, x.data(), y.data()});
  EXPECT_EQ(y, (Vec{5, 2}));
  const Vec dy = {10, 20};
  Vec dx(8, 99.f);
  ref::pool_bwd<float>(kCpu, {g, x.data(), y.data(), dy.data(), dx.data()});
  EXPECT_EQ(dx, (Vec{10, 0, 0, 20, 0, 0, 0, 0}));
}

// Window 3, stride 2, pad 1 on two 3x3 channels: P = (3 + 2 - 3) / 2 + 1 = 2; window (p,q) covers rows
// and cols 2p-1 .. 2p+1, so neighbouring windows share a row/column and one cell may win twice.
// Channel 0:  1 9 2   (0,0): {1,9,3,4} -> 9 at (0,1);  (0,1): {9,2,4,5} -> 9 at (0,1)
//             3 4 5   (1,0): {3,4,6,7} -> 7 at (2,1);  (1,1): {4,5,7,8} -> 8 at (2,2)
//             6 7 8   dy = [1 2; 3 4] -> dx(0,1) = 1 + 2 = 3, dx(2,1) = 3, dx(2,2) = 4
// Channel 1:  0  0 0  every window ties at 0 except where -1 is; first maxima: (0,0), (0,1), (1,0),
//             0 -1 0  and for window (1,1) = {-1, 0, 0, 0} the cell (1,2).
//             0  0 0  dy = [5 6; 7 8] -> dx(0,0) = 5, dx(0,1) = 6, dx(1,0) = 7, dx(1,2) = 8
TEST(RefOpsPool, OverlappingWindowsAccumulateAcrossChannels) {
  const PoolGeom g{.n = 1, .c = 2, .h = 3, .w = 3, .window = 3, .stride = 2, .pad = 1};
  const Vec x = {1, 9, 2, 3, 4, 5, 6, 7, 8, /**/ 0, 0, 0, 0, -1, 0, 0, 0, 0};
  Vec y(8, 99.f);
  ref::pool_fwd<float>(kCpu, {g, x.data(), y.data()});
  EXPECT_EQ(y, (Vec{9, 9, 7, 8, 0, 0, 0, 0}));
  const Vec dy = {1, 2, 3, 4, 5, 6, 7, 8};
  Vec dx(18, 99.f);
  ref::pool_bwd<float>(kCpu, {g, x.data(), y.data(), dy.data(), dx.data()});
  EXPECT_EQ(dx, (Vec{0, 3, 0, 0, 0, 0, 0, 3, 4, /**/ 5, 6, 0, 7, 0, 8, 0, 0, 0}));
}

TEST(RefOpsPool, RejectsPaddingAsWideAsTheWindow) {
  const PoolGeom g{.n = 1, .c = 1, .h = 4, .w = 4, .window = 2, .stride = 2, .pad = 2};
  const Vec x(16);
  Vec y(16);
  EXPECT_THROW(ref::pool_fwd<float>(kCpu, {g, x.data(), y.data()}), Error);
}

// ---- LRN, size 3 on 4 channels (lb = la = 1), alpha = 3 (so alpha/size = 1), beta = 0.75, k = 1.
// Pixel 0: x = [1, 2, -1, 0.5]
//   s0 = 1 + (1 + 4)          = 6
//   s1 = 1 + (1 + 4 + 1)      = 7
//   s2 = 1 + (4 + 1 + 0.25)   = 6.25
//   s3 = 1 + (1 + 0.25)       = 2.25
//   y = [1 * 6^-0.75, 2 * 7^-0.75, -1 * 6.25^-0.75, 0.5 * 2.25^-0.75] ~ [0.260847, 0.464736, -0.252982, 0.272166]
// Pixel 1: x = [0, 3, 0, 0] -> s = [1 + 9, 1 + 9, 1 + 9, 1] = [10, 10, 10, 1], y = [0, 3 * 10^-0.75, 0, 0]
// Backward, 2*alpha*beta/size = 1.5, t_j = dy_j y_j / s_j, and channel c collects t over j = c-1 .. c+1:
//   dx_c = dy_c s_c^-0.75 - 1.5 x_c (t_{c-1} + t_c + t_{c+1})
// Pixel 0 with dy = [1, -1, 2, 0.5]: dx ~ [0.295222, 0.079244, 0.375668, 0.287520].
// Pixel 1 with dy = [1, 1, 1, 1]: t = [0, 3 * 10^-1.75, 0, 0]; x is 0 except x1, so
//   dx = [10^-0.75, 10^-0.75 - 1.5 * 3 * t1, 10^-0.75, 1].
TEST(RefOpsLrn, Size3OnFourChannels) {
  const LrnGeom g{.n = 1, .c = 4, .h = 1, .w = 2, .size = 3, .alpha = 3.0, .beta = 0.75, .k = 1.0};
  // NCHW with H*W = 2: channel c of pixel p is at 2c + p.
  const Vec x = {1, 0, 2, 3, -1, 0, 0.5f, 0};
  Vec y(8, 99.f);
  ref::lrn_fwd<float>(kCpu, {g, x.data(), y.data()});
  const double y1 = 3 * std::pow(10.0, -0.75);
  expect_near(y, {1 * std::pow(6.0, -0.75), 0, 2 * std::pow(7.0, -0.75), y1, -1 * std::pow(6.25, -0.75), 0,
                  0.5 * std::pow(2.25, -0.75), 0});
  expect_near(y, {0.260847, 0, 0.464736, y1, -0.252982, 0, 0.272166, 0}, 1e-6);

  const Vec dy = {1, 1, -1, 1, 2, 1, 0.5f, 1};
  Vec dx(8, 99.f);
  ref::lrn_bwd<float>(kCpu, {g, x.data(), y.data(), dy.data(), dx.data()});
  const double s[] = {6, 7, 6.25, 2.25}, x0[] = {1, 2, -1, 0.5}, dy0[] = {1, -1, 2, 0.5};
  double t[4];
  for (int j = 0; j < 4; ++j) t[j] = dy0[j] * x0[j] * std::pow(s[j], -0.75) / s[j];
  const double dx0[] = {dy0[0] * std::pow(s[0], -0.75) - 1.5 * x0[0] * (t[0] + t[1]),
                        dy0[1] * std::pow(s[1], -0.75) - 1.5 * x0[1] * (t[0] + t[1] + t[2]),
                        dy0[2] * std::pow(s[2], -0.75) - 1.5 * x0[2] * (t[1] + t[2] + t[3]),
                        dy0[3] * std::pow(s[3], -0.75) - 1.5 * x0[3] * (t[2] + t[3])};
  const double d10 = std::pow(10.0, -0.75), t1 = 3 * std::pow(10.0, -1.75);
  expect_near(dx, {dx0[0], d10, dx0[1], d10 - 1.5 * 3 * t1, dx0[2], d10, dx0[3], 1});
  expect_near(dx, {0.295222, d10, 0.079244, d10 - 4.5 * t1, 0.375668, d10, 0.287520, 1}, 1e-6);
}

// ---- dense, in = 3, out = 2, n = 2
// x = [[1, 2, 3], [4, 5, 6]], w = [[1, 0, -1], [2, 1, 0]], bias = [0.5, -1]
//   y[0] = [1 - 3 + 0.5, 2 + 2 - 1] = [-1.5, 3];   y[1] = [4 - 6 + 0.5, 8 + 5 - 1] = [-1.5, 12]
// dy = [[1, 2], [-1, 0.5]]
//   dx[0] = 1 w[0] + 2 w[1]    = [5, 2, -1];        dx[1] = -w[0] + 0.5 w[1] = [0, 0.5, 1]
//   dw[0] = 1 x[0] - 1 x[1]    = [-3, -3, -3];      dw[1] = 2 x[0] + 0.5 x[1] = [4, 6.5, 9]
//   dbias = [1 - 1, 2 + 0.5]   = [0, 2.5]
const DenseGeom kDense{.n = 2, .in = 3, .out = 2};
const Vec kDenseX = {1, 2, 3, 4, 5, 6}, kDenseW = {1, 0, -1, 2, 1, 0}, kDenseDy = {1, 2, -1, 0.5f};

TEST(RefOpsDense, Forward) {
  const Vec bias = {0.5f, -1};
  Vec y(4, 99.f);
  ref::dense_fwd<float>(kCpu, {kDense, kDenseX.data(), kDenseW.data(), bias.data(), y.data()});
  EXPECT_EQ(y, (Vec{-1.5f, 3, -1.5f, 12}));
}

TEST(RefOpsDense, Backward) {
  Vec dx(6, 99.f), dw(6, 99.f), dbias(2, 99.f);
  ref::dense_bwd<float>(kCpu,
                        {kDense, kDenseX.data(), kDenseW.data(), kDenseDy.data(), dx.data(), dw.data(), dbias.data()});
  EXPECT_EQ(dx, (Vec{5, 2, -1, 0, 0.5f, 1}));
  EXPECT_EQ(dw, (Vec{-3, -3, -3, 4, 6.5f, 9}));
  EXPECT_EQ(dbias, (Vec{0, 2.5f}));
}

TEST(RefOpsDense, BackwardWithoutDx) {
  Vec dw(6, 99.f), dbias(2, 99.f);
  ref::dense_bwd<float>(kCpu,
                        {kDense, kDenseX.data(), kDenseW.data(), kDenseDy.data(), nullptr, dw.data(), dbias.data()});
  EXPECT_EQ(dw, (Vec{-3, -3, -3, 4, 6.5f, 9}));
  EXPECT_EQ(dbias, (Vec{0, 2.5f}));
}

// ---- softmax cross-entropy
// Row 0: z = [1, 2, 3], label 0: loss = log(e^1 + e^2 + e^3) - 1; dz = (softmax(z) - [1, 0, 0]) / 2.
// Row 1: z = [1000, 0, -1000], label 1: a naive exp(1000) overflows; with the max subtracted
//   logsumexp = 1000 + log(1 + e^-1000 + e^-2000) = 1000 (in any precision), loss = 1000 - 0 = 1000,
//   softmax = [1, e^-1000, e^-2000] = [1, 0, 0], dz = ([1, 0, 0] - [0, 1, 0]) / 2 = [0.5, -0.5, 0].
TEST(RefOpsSoftmaxXent, KnownLogits) {
  const Vec z = {1, 2, 3, 1000, 0, -1000};
  const std::vector<int32_t> labels = {0, 1};
  Vec loss(2, 99.f), dz(6, 99.f);
  ref::softmax_xent<float>(kCpu, {2, 3, z.data(), labels.data(), loss.data(), dz.data()});
  const double sum_exp = std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  expect_near(loss, {std::log(sum_exp) - 1.0, 1000.0});
  EXPECT_EQ(loss[1], 1000.f);
  expect_near(dz, {(std::exp(1.0) / sum_exp - 1) / 2, std::exp(2.0) / sum_exp / 2, std::exp(3.0) / sum_exp / 2,
                   0.5, -0.5, 0});
  EXPECT_EQ(dz[3], 0.5f);
  EXPECT_EQ(dz[4], -0.5f);
}

// The bad label is in the second sample; the first sample's outputs must not have been written either.
TEST(RefOpsSoftmaxXent, RejectsLabelsOutsideTheClasses) {
  const Vec z(6);
  for (int32_t bad : {3, -1}) {
    const std::vector<int32_t> labels = {0, bad};
    Vec loss(2, 99.f), dz(6, 99.f);
    EXPECT_THROW(ref::softmax_xent<float>(kCpu, {2, 3, z.data(), labels.data(), loss.data(), dz.data()}), Error)
        << "label " << bad;
    EXPECT_EQ(loss, Vec(2, 99.f));
    EXPECT_EQ(dz, Vec(6, 99.f));
  }
}

// ---- SGD, lr = 0.1, momentum = 0.9, weight_decay = 0.01, two steps:
// p = 1, grads 0.5 then -0.2:
//   step 1: g = 0.5 + 0.01 * 1 = 0.51;          v = 0.51;                          p = 1 - 0.051 = 0.949
//   step 2: g = -0.2 + 0.01 * 0.949 = -0.19051; v = 0.9 * 0.51 - 0.19051 = 0.26849; p = 0.949 - 0.026849 = 0.922151
// p = -2, grads 1 then 1:
//   step 1: g = 1 - 0.02 = 0.98;                v = 0.98;                          p = -2 - 0.098 = -2.098
//   step 2: g = 1 + 0.01 * -2.098 = 0.97902;    v = 0.882 + 0.97902 = 1.86102;     p = -2.098 - 0.186102 = -2.284102
TEST(RefOpsSgd, TwoStepsWithMomentumAndWeightDecay) {
  const SgdHyper h{.lr = 0.1, .momentum = 0.9, .weight_decay = 0.01};
  Vec p = {1, -2}, v = {0, 0};
  const Vec g1 = {0.5f, 1}, g2 = {-0.2f, 1};
  ref::sgd_update<float>(kCpu, {2, h, p.data(), g1.data(), v.data()});
  expect_near(v, {0.51, 0.98});
  expect_near(p, {0.949, -2.098});
  ref::sgd_update<float>(kCpu, {2, h, p.data(), g2.data(), v.data()});
  expect_near(v, {0.26849, 1.86102});
  expect_near(p, {0.922151, -2.284102});
}

// Momentum 0 needs no velocity buffer: p = 1 - 0.5 * 0.5 = 0.75 (exact).
TEST(RefOpsSgd, PlainStepWithoutVelocity) {
  Vec p = {1};
  const Vec g = {0.5f};
  ref::sgd_update<float>(kCpu, {1, SgdHyper{.lr = 0.5}, p.data(), g.data(), nullptr});
  EXPECT_EQ(p, (Vec{0.75f}));
  EXPECT_THROW(ref::sgd_update<float>(kCpu, {1, SgdHyper{.lr = 0.5, .momentum = 0.9}, p.data(), g.data(), nullptr}),
               Error);
}

// ---- Adam, lr = 0.1, betas (0.9, 0.999), eps = 1e-8; element 0 without weight decay by hand, element 1
// with weight decay 0.1 against the formulas written out again below.
// Element 0: p = 1, grads 0.5 then -0.25:
//   step 1: m = 0.1 * 0.5 = 0.05, v = 0.001 * 0.25 = 0.00025, m^ = 0.05 / 0.1 = 0.5, v^ = 0.00025 / 0.001 = 0.25
//           p = 1 - 0.1 * 0.5 / (0.5 + 1e-8) ~ 0.9
//   step 2: m = 0.045 - 0.025 = 0.02, v = 0.999 * 0.00025 + 0.001 * 0.0625 = 0.00031225
//           m^ = 0.02 / (1 - 0.81) = 0.105263, v^ = 0.00031225 / (1 - 0.998001) = 0.156203
//           p = 0.9 - 0.1 * 0.105263 / (sqrt(0.156203) + 1e-8) ~ 0.873366
TEST(RefOpsAdam, TwoStepsAgainstTheFormulas) {
  AdamHyper h{.lr = 0.1, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_decay = 0.0, .step = 1};
  Vec p = {1}, m = {0}, v = {0};
  ref::adam_update<float>(kCpu, {1, h, p.data(), Vec{0.5f}.data(), m.data(), v.data()});
  expect_near(m, {0.05});
  expect_near(v, {0.00025});
  expect_near(p, {1 - 0.1 * 0.5 / (0.5 + 1e-8)});
  h.step = 2;
  ref::adam_update<float>(kCpu, {1, h, p.data(), Vec{-0.25f}.data(), m.data(), v.data()});
  expect_near(m, {0.02});
  expect_near(v, {0.00031225}, 1e-9);
  expect_near(p, {0.873366});

  // Weight decay 0.1, p = -1, grad 0.2 twice.
  h = {.lr = 0.1, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_decay = 0.1, .step = 1};
  Vec pw = {-1}, mw = {0}, vw = {0};
  double pe = -1, me = 0, ve = 0;
  for (int t = 1; t <= 2; ++t) {
    h.step = t;
    ref::adam_update<float>(kCpu, {1, h, pw.data(), Vec{0.2f}.data(), mw.data(), vw.data()});
    const double g = double(0.2f) + 0.1 * pe;
    me = 0.9 * me + 0.1 * g;
    ve = 0.999 * ve + 0.001 * g * g;
    pe -= 0.1 * (me / (1 - std::pow(0.9, t))) / (std::sqrt(ve / (1 - std::pow(0.999, t))) + 1e-8);
    expect_near(mw, {me});
    expect_near(vw, {ve}, 1e-9);
    expect_near(pw, {pe});
  }
}

TEST(RefOpsAdam, RejectsStepZero) {
  Vec p = {1}, m = {0}, v = {0};
  const Vec g = {1};
  AdamHyper h;
  h.step = 0;
  EXPECT_THROW(ref::adam_update<float>(kCpu, {1, h, p.data(), g.data(), m.data(), v.data()}), Error);
}

// ---- FLOP counts (conventions in backends/op_flops.cpp)
TEST(RefOpsFlops, CountsFollowTheConventions) {
  // N=2, C=3, 8x8, K=4, 3x3, pad 1: P = Q = 8; 2 * 2*4*8*8*3*3*3 = 27648.
  const ConvGeom cg{.n = 2, .c = 3, .h = 8, .w = 8, .k = 4, .r = 3, .s = 3, .stride = 1, .pad = 1};
  EXPECT_EQ(op_flops(ConvFwdArgs{cg, nullptr, nullptr, nullptr, nullptr}), 27648.0);
  EXPECT_EQ(op_flops(ConvBwdDataArgs{cg, nullptr, nullptr, nullptr}), 27648.0);
  EXPECT_EQ(op_flops(ConvBwdFilterArgs{cg, nullptr, nullptr, nullptr, nullptr}), 27648.0);
  // Dense 4 x 10 -> 5: fwd 2*4*10*5 = 400; bwd 400 (dw) + 400 (dx) + 20 (dbias).
  const DenseGeom dg{.n = 4, .in = 10, .out = 5};
  float dummy = 0;
  EXPECT_EQ(op_flops(DenseFwdArgs{dg, nullptr, nullptr, nullptr, nullptr}), 400.0);
  EXPECT_EQ(op_flops(DenseBwdArgs{dg, nullptr, nullptr, nullptr, &dummy, &dummy, &dummy}), 820.0);
  EXPECT_EQ(op_flops(DenseBwdArgs{dg, nullptr, nullptr, nullptr, nullptr, &dummy, &dummy}), 420.0);
  EXPECT_EQ(op_flops(ReluFwdArgs{100, nullptr, nullptr}), 100.0);
  // Pool 2x2 stride 2 on 1x1x4x4: 4 outputs x 4 cells.
  const PoolGeom pg{.n = 1, .c = 1, .h = 4, .w = 4, .window = 2, .stride = 2, .pad = 0};
  EXPECT_EQ(op_flops(PoolFwdArgs{pg, nullptr, nullptr}), 16.0);
  const LrnGeom lg{.n = 1, .c = 4, .h = 2, .w = 2, .size = 5};
  EXPECT_EQ(op_flops(LrnFwdArgs{lg, nullptr, nullptr}), 16.0 * 10);
  EXPECT_EQ(op_flops(SgdArgs{1000, {}, nullptr, nullptr, nullptr}), 4000.0);
  EXPECT_EQ(op_flops(AdamArgs{1000, {}, nullptr, nullptr, nullptr, nullptr}), 12000.0);
}

}  // namespace
}  // namespace cnnb
