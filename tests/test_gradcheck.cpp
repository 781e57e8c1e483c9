// Every cpu-ref backward op against central differences of its forward op, run in double (the ref
// templates instantiated with T = double), so a relative error below 1e-6 is a tight bound.
// Ops whose output is a tensor are reduced to the scalar L = sum(y * R) with a fixed random R; then
// dL/dy = R, which is the dy handed to the backward op.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "backends/cpu/ref.h"
#include "core/rng.h"
#include "tests/gradcheck.h"

namespace cnnb {
namespace {

using test::compare_gradients;
using test::GradComparison;
using test::numeric_gradient;
using test::ScalarFn;
using DVec = std::vector<double>;

const ExecCtx kCpu{};
constexpr double kTolerance = 1e-6;
// Round-off in f(x +- h) grows like 1/h. For ops that are linear (conv, dense) or piecewise linear
// with no kink within h (relu, pool) in the checked input, the central difference has no truncation
// error, so a large step only removes round-off; for curved ones (LRN, softmax) the truncation error
// grows like h^2, and 1e-5 balances the two.
constexpr double kLinearStep = 1e-3;
constexpr double kCurvedStep = 1e-5;

DVec uniform(Rng& rng, int64_t n, double lo = -1.0, double hi = 1.0) {
  DVec v(static_cast<size_t>(n));
  for (double& e : v) e = rng.uniform(lo, hi);
  return v;
}

double dot(const DVec& a, const DVec& b) { return std::inner_product(a.begin(), a.end(), b.begin(), 0.0); }

double max_abs(const DVec& v) {
  double m = 0.0;
  for (double e : v) m = std::max(m, std::abs(e));
  return m;
}

// The analytic gradient must match the numeric one, and must not be ~0 (a check of two zero
// gradients would pass whatever the op does).
void expect_gradient(const std::string& what, const DVec& analytic, const ScalarFn& f, const DVec& at, double h) {
  const GradComparison c = compare_gradients(analytic, numeric_gradient(f, at, h));
  EXPECT_LT(c.worst_rel_error, kTolerance) << what << ": " << c.str();
  EXPECT_GT(max_abs(analytic), 1e-3) << what << ": the analytic gradient is all (nearly) zero";
}

// ---- the helper itself
TEST(GradcheckHelper, CentralDifferenceOfAKnownFunction) {
  // f = x0^3 + x0 x1 + sin(x2): grad = [3 x0^2 + x1, x0, cos(x2)]
  const ScalarFn f = [](const DVec& x) { return x[0] * x[0] * x[0] + x[0] * x[1] + std::sin(x[2]); };
  const DVec x = {0.7, -1.3, 0.4};
  const DVec exact = {3 * 0.49 - 1.3, 0.7, std::cos(0.4)};
  const DVec numeric = numeric_gradient(f, x);
  for (size_t i = 0; i < 3; ++i) EXPECT_NEAR(numeric[i], exact[i], 1e-8) << i;
  EXPECT_LT(compare_gradients(exact, numeric).worst_rel_error, 1e-8);
}

TEST(GradcheckHelper, ReportsTheWorstRelativeError) {
  const DVec analytic = {1.0, 0.0, 2.0, -3.0}, numeric = {1.0, 0.0, 2.2, -3.0};
  const GradComparison c = compare_gradients(analytic, numeric);
  EXPECT_EQ(c.worst_index, 2u);
  EXPECT_NEAR(c.worst_rel_error, 0.2 / 4.2, 1e-15);
  EXPECT_EQ(c.analytic, 2.0);
  EXPECT_EQ(c.numeric, 2.2);
  // Both zero is no error (the 1e-8 floor); a NaN is an infinite one; sizes must agree.
  EXPECT_EQ(compare_gradients(DVec{0.0}, DVec{0.0}).worst_rel_error, 0.0);
  EXPECT_EQ(compare_gradients(DVec{1.0, NAN}, DVec{1.0, 1.0}).worst_rel_error,
            std::numeric_limits<double>::infinity());
  EXPECT_THROW(compare_gradients(DVec{1.0}, DVec{1.0, 2.0}), Error);
}

// ---- convolution
std::string describe(const ConvGeom& g) {
  return fmt::format("n{} c{} {}x{} k{} {}x{} stride {} pad {}", g.n, g.c, g.h, g.w, g.k, g.r, g.s, g.stride, g.pad);
}

const ConvGeom kConvGeoms[] = {
    {.n = 1, .c = 1, .h = 5, .w = 5, .k = 1, .r = 3, .s = 3, .stride = 1, .pad = 0},
    {.n = 2, .c = 3, .h = 6, .w = 7, .k = 4, .r = 3, .s = 3, .stride = 1, .pad = 1},
    {.n = 2, .c = 2, .h = 7, .w = 5, .k = 3, .r = 3, .s = 2, .stride = 2, .pad = 0},
    {.n = 3, .c = 2, .h = 6, .w = 5, .k = 2, .r = 2, .s = 2, .stride = 2, .pad = 1},
    {.n = 2, .c = 2, .h = 8, .w = 6, .k = 3, .r = 5, .s = 5, .stride = 1, .pad = 2},
};

DVec conv_forward(const ConvGeom& g, const DVec& x, const DVec& w, const DVec& bias) {
  DVec y(size_t(g.y_size()));
  ref::conv_fwd<double>(kCpu, {g, x.data(), w.data(), bias.data(), y.data()});
  return y;
}

TEST(GradcheckConv, BackwardData) {
  Rng rng(101);
  for (const ConvGeom& g : kConvGeoms) {
    const DVec x = uniform(rng, g.x_size()), w = uniform(rng, g.w_size()), bias = uniform(rng, g.k),
               R = uniform(rng, g.y_size());
    DVec dx(x.size(), 99.0);
    ref::conv_bwd_data<double>(kCpu, {g, R.data(), w.data(), dx.data()});
    const auto loss = [&](const DVec& xv) { return dot(conv_forward(g, xv, w, bias), R); };
    expect_gradient("dx " + describe(g), dx, loss, x, kLinearStep);
  }
}

TEST(GradcheckConv, BackwardFilterWeightsAndBias) {
  Rng rng(102);
  for (const ConvGeom& g : kConvGeoms) {
    const DVec x = uniform(rng, g.x_size()), w = uniform(rng, g.w_size()), bias = uniform(rng, g.k),
               R = uniform(rng, g.y_size());
    DVec dw(w.size(), 99.0), dbias(bias.size(), 99.0);
    ref::conv_bwd_filter<double>(kCpu, {g, x.data(), R.data(), dw.data(), dbias.data()});
    const auto loss_of_w = [&](const DVec& wv) { return dot(conv_forward(g, x, wv, bias), R); };
    const auto loss_of_bias = [&](const DVec& bv) { return dot(conv_forward(g, x, w, bv), R); };
    expect_gradient("dw " + describe(g), dw, loss_of_w, w, kLinearStep);
    expect_gradient("dbias " + describe(g), dbias, loss_of_bias, bias, kLinearStep);
  }
}

// ---- ReLU: inputs at least 0.1 away from the kink at 0.
TEST(GradcheckRelu, Backward) {
  Rng rng(103);
  const int64_t n = 200;
  DVec x = uniform(rng, n, 0.1, 1.0);
  for (double& e : x)
    if (rng.uniform() < 0.5) e = -e;
  const DVec R = uniform(rng, n);
  const auto forward = [&](const DVec& xv) {
    DVec y(xv.size());
    ref::relu_fwd<double>(kCpu, {n, xv.data(), y.data()});
    return y;
  };
  const DVec y = forward(x);
  DVec dx(x.size(), 99.0);
  ref::relu_bwd<double>(kCpu, {n, y.data(), R.data(), dx.data()});
  expect_gradient("relu dx", dx, [&](const DVec& xv) { return dot(forward(xv), R); }, x, kLinearStep);
}

// ---- max pooling: distinct inputs at least ~0.009 apart (a shuffled ladder plus a little noise),
// so a step of h never changes which cell wins.
DVec distinct_values(Rng& rng, int64_t n) {
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  for (int64_t i = n - 1; i > 0; --i) std::swap(order[size_t(i)], order[rng.below(uint64_t(i + 1))]);
  DVec v(static_cast<size_t>(n));
  for (size_t i = 0; i < v.size(); ++i) v[i] = 0.01 * double(order[i] - n / 2) + 0.001 * rng.uniform();
  return v;
}

TEST(GradcheckPool, Backward) {
  const PoolGeom geoms[] = {
      {.n = 2, .c = 2, .h = 6, .w = 8, .window = 2, .stride = 2, .pad = 0},
      {.n = 1, .c = 3, .h = 7, .w = 5, .window = 2, .stride = 2, .pad = 0},  // odd sizes: the last row/col is dropped
      {.n = 2, .c = 3, .h = 7, .w = 6, .window = 3, .stride = 2, .pad = 1},
      {.n = 1, .c = 2, .h = 8, .w = 9, .window = 3, .stride = 2, .pad = 1},
  };
  Rng rng(104);
  for (const PoolGeom& g : geoms) {
    const std::string what = fmt::format("pool n{} c{} {}x{} window {} stride {} pad {}", g.n, g.c, g.h, g.w,
                                         g.window, g.stride, g.pad);
    const DVec x = distinct_values(rng, g.x_size()), R = uniform(rng, g.y_size());
    const auto forward = [&](const DVec& xv) {
      DVec y(size_t(g.y_size()));
      ref::pool_fwd<double>(kCpu, {g, xv.data(), y.data()});
      return y;
    };
    const DVec y = forward(x);
    DVec dx(x.size(), 99.0);
    ref::pool_bwd<double>(kCpu, {g, x.data(), y.data(), R.data(), dx.data()});
    expect_gradient(what, dx, [&](const DVec& xv) { return dot(forward(xv), R); }, x, kLinearStep);
  }
}

// ---- LRN: window sizes 3, 5, TF cifar10's 9 and an even 4 (asymmetric window), with fewer and more
// channels than the window.
// alpha is large enough that the cross-channel term is a sizeable part of every gradient.
TEST(GradcheckLrn, Backward) {
  const LrnGeom geoms[] = {
      {.n = 2, .c = 2, .h = 2, .w = 3, .size = 3, .alpha = 0.9, .beta = 0.75, .k = 1.0},
      {.n = 2, .c = 7, .h = 3, .w = 2, .size = 3, .alpha = 0.9, .beta = 0.75, .k = 1.0},
      {.n = 1, .c = 3, .h = 2, .w = 2, .size = 5, .alpha = 2.0, .beta = 0.6, .k = 2.0},
      {.n = 2, .c = 8, .h = 2, .w = 3, .size = 5, .alpha = 2.0, .beta = 0.75, .k = 2.0},
      {.n = 1, .c = 12, .h = 2, .w = 2, .size = 9, .alpha = 1.5, .beta = 0.75, .k = 1.0},
      {.n = 2, .c = 6, .h = 2, .w = 2, .size = 4, .alpha = 1.5, .beta = 0.75, .k = 1.0},  // lb 1 != la 2
  };
  Rng rng(105);
  for (const LrnGeom& g : geoms) {
    const std::string what = fmt::format("lrn n{} c{} {}x{} size {} alpha {} beta {} k {}", g.n, g.c, g.h, g.w,
                                         g.size, g.alpha, g.beta, g.k);
    const DVec x = uniform(rng, g.x_size(), -2.0, 2.0), R = uniform(rng, g.x_size());
    const auto forward = [&](const DVec& xv) {
      DVec y(xv.size());
      ref::lrn_fwd<double>(kCpu, {g, xv.data(), y.data()});
      return y;
    };
    const DVec y = forward(x);
    DVec dx(x.size(), 99.0);
    ref::lrn_bwd<double>(kCpu, {g, x.data(), y.data(), R.data(), dx.data()});
    expect_gradient(what, dx, [&](const DVec& xv) { return dot(forward(xv), R); }, x, kCurvedStep);
  }
}

// ---- dense
TEST(GradcheckDense, BackwardWithAndWithoutDx) {
  const DenseGeom g{.n = 3, .in = 5, .out = 4};
  Rng rng(106);
  const DVec x = uniform(rng, g.n * g.in), w = uniform(rng, g.out * g.in), bias = uniform(rng, g.out),
             R = uniform(rng, g.n * g.out);
  const auto forward = [&](const DVec& xv, const DVec& wv, const DVec& bv) {
    DVec y(size_t(g.n * g.out));
    ref::dense_fwd<double>(kCpu, {g, xv.data(), wv.data(), bv.data(), y.data()});
    return y;
  };
  DVec dx(x.size(), 99.0), dw(w.size(), 99.0), dbias(bias.size(), 99.0);
  ref::dense_bwd<double>(kCpu, {g, x.data(), w.data(), R.data(), dx.data(), dw.data(), dbias.data()});
  const auto loss_of_x = [&](const DVec& xv) { return dot(forward(xv, w, bias), R); };
  const auto loss_of_w = [&](const DVec& wv) { return dot(forward(x, wv, bias), R); };
  const auto loss_of_bias = [&](const DVec& bv) { return dot(forward(x, w, bv), R); };
  expect_gradient("dense dx", dx, loss_of_x, x, kLinearStep);
  expect_gradient("dense dw", dw, loss_of_w, w, kLinearStep);
  expect_gradient("dense dbias", dbias, loss_of_bias, bias, kLinearStep);

  DVec dw2(w.size(), 99.0), dbias2(bias.size(), 99.0);
  ref::dense_bwd<double>(kCpu, {g, x.data(), w.data(), R.data(), nullptr, dw2.data(), dbias2.data()});
  EXPECT_EQ(dw2, dw);
  EXPECT_EQ(dbias2, dbias);
}

// ---- softmax cross-entropy: dlogits is the gradient of the batch mean of the per-sample losses.
TEST(GradcheckSoftmaxXent, MeanLossOverLogits) {
  const int n = 4, classes = 5;
  Rng rng(107);
  const DVec z = uniform(rng, n * classes, -3.0, 3.0);
  std::vector<int32_t> labels(n);
  for (int32_t& l : labels) l = int32_t(rng.below(classes));
  const auto mean_loss = [&](const DVec& zv) {
    DVec loss(n);
    ref::softmax_xent<double>(kCpu, {n, classes, zv.data(), labels.data(), loss.data(), nullptr});
    return std::accumulate(loss.begin(), loss.end(), 0.0) / n;
  };
  DVec loss(n), dz(z.size(), 99.0);
  ref::softmax_xent<double>(kCpu, {n, classes, z.data(), labels.data(), loss.data(), dz.data()});
  expect_gradient("softmax_xent dlogits", dz, mean_loss, z, kCurvedStep);
}

}  // namespace
}  // namespace cnnb
