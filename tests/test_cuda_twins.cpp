// Host twins of the cuda/naive kernels: every per-thread body of backends/cuda/naive_bodies.h runs
// over its whole output grid on the host and must agree with cpu-ref; then the launchers themselves
// (naive_launchers.h, with a host grid) and the shared-memory variant's bodies (conv_tiles.h, block by
// block) run every op case of backends/op_cases.h, each null optional pointer included, through the
// same check as `cnnbench verify`. The index math, the gather formulations of the backward ops, the
// tie and padding rules and which grids run for which pointers are thereby tested on any machine;
// what only a GPU can show (launch configuration, the kernels themselves) is in tests/gpu/.
// Integer-valued inputs make conv, dense, pool, ReLU and SGD exact, so those compare with ==;
// LRN, softmax and Adam use real values and a relative tolerance. Outputs start as NaN, so an
// element a body fails to write cannot pass.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <limits>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "backends/cpu/ref.h"
#include "backends/cuda/conv_tiles.h"
#include "backends/cuda/host_grid.h"
#include "backends/cuda/naive_bodies.h"
#include "backends/cuda/naive_launchers.h"
#include "backends/op_cases.h"
#include "backends/registry.h"
#include "backends/verify.h"
#include "core/device.h"
#include "core/error.h"
#include "core/rng.h"

#if CNNB_HAVE_CUDA
#include <nlohmann/json.hpp>

#include "backends/cuda/cuda_ctx.h"
#include "backends/cuda/device_query.h"
#endif

namespace cnnb {
namespace {

const float kNaN = std::numeric_limits<float>::quiet_NaN();

std::vector<float> integers(int64_t n, int lo, int hi, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = float(lo + int64_t(rng.below(uint64_t(hi - lo + 1))));
  return v;
}

std::vector<float> reals(int64_t n, double lo, double hi, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = float(rng.uniform(lo, hi));
  return v;
}

// out[i] = body(i) for every i of the grid, the way the kernel's grid-stride loop writes it.
template <class Body>
std::vector<float> run_grid(int64_t n, Body body) {
  std::vector<float> out(static_cast<size_t>(n), kNaN);
  for (int64_t i = 0; i < n; ++i) out[size_t(i)] = body(i);
  return out;
}

void expect_exact(const std::vector<float>& got, const std::vector<float>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  size_t bad = 0, first = 0;
  for (size_t i = 0; i < got.size(); ++i)
    if (!(got[i] == want[i]) && bad++ == 0) first = i;
  EXPECT_EQ(bad, 0u) << what << ": " << bad << " of " << got.size() << " differ; first at " << first << ": got "
                     << (bad ? got[first] : 0.0f) << ", cpu-ref " << (bad ? want[first] : 0.0f);
}

// |got - want| <= rtol * max(|want|, 1e-3 * max|want|): relative, with a floor for elements that
// are small only because of cancellation.
void expect_close(const std::vector<float>& got, const std::vector<float>& want, double rtol,
                  const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  double scale = 0.0;
  for (float w : want) scale = std::max(scale, double(std::fabs(w)));
  ASSERT_GT(scale, 0.0) << what << ": cpu-ref gave all zeros, the case tests nothing";
  size_t bad = 0, first = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double tol = rtol * std::max(double(std::fabs(want[i])), 1e-3 * scale);
    if (!(std::fabs(double(got[i]) - double(want[i])) <= tol) && bad++ == 0) first = i;
  }
  EXPECT_EQ(bad, 0u) << what << ": " << bad << " of " << got.size() << " outside rtol " << rtol << "; first at "
                     << first << ": got " << (bad ? got[first] : 0.0f) << ", cpu-ref " << (bad ? want[first] : 0.0f);
}

const ExecCtx kCpu{};

// ---- convolution

struct ConvCase {
  ConvGeom g;
  bool bias;
};

std::vector<ConvCase> conv_cases() {
  auto geom = [](int n, int c, int h, int w, int k, int r, int s, int stride, int pad) {
    ConvGeom g;
    g.n = n, g.c = c, g.h = h, g.w = w, g.k = k, g.r = r, g.s = s, g.stride = stride, g.pad = pad;
    return g;
  };
  return {
      {geom(2, 3, 7, 5, 4, 3, 3, 1, 1), true},   // odd sizes, padding 1
      {geom(2, 3, 9, 8, 5, 3, 3, 2, 1), true},   // stride 2, padding 1, output rounds down
      {geom(1, 1, 6, 7, 2, 5, 5, 1, 2), true},   // 5x5 with padding 2 on a small image
      {geom(3, 2, 8, 9, 3, 2, 3, 2, 0), false},  // non-square filter, stride 2, no bias
      {geom(1, 4, 7, 7, 2, 3, 3, 3, 2), true},   // stride 3: some inputs reach no output
      {geom(2, 5, 5, 5, 6, 1, 1, 1, 0), true},   // 1x1
  };
}

std::string name(const ConvGeom& g) {
  return fmt::format("n{} c{} {}x{} k{} {}x{} stride {} pad {}", g.n, g.c, g.h, g.w, g.k, g.r, g.s, g.stride, g.pad);
}

TEST(CudaTwin, ConvFwd) {
  for (const auto& [g, with_bias] : conv_cases()) {
    const auto x = integers(g.x_size(), -3, 3, 1), w = integers(g.w_size(), -2, 2, 2), b = integers(g.k, -4, 4, 3);
    std::vector<float> want(size_t(g.y_size()), kNaN);
    ref::conv_fwd<float>(kCpu, ConvFwdArgs{g, x.data(), w.data(), with_bias ? b.data() : nullptr, want.data()});
    const ConvFwdArgs a{g, x.data(), w.data(), with_bias ? b.data() : nullptr, nullptr};
    expect_exact(run_grid(g.y_size(), [&](int64_t i) { return cuda::conv_fwd_at(a, i); }), want, name(g));
  }
}

TEST(CudaTwin, ConvBwdData) {
  for (const ConvCase& c : conv_cases()) {
    const ConvGeom& g = c.g;
    const auto dy = integers(g.y_size(), -3, 3, 4), w = integers(g.w_size(), -2, 2, 5);
    std::vector<float> want(size_t(g.x_size()), kNaN);
    ref::conv_bwd_data<float>(kCpu, ConvBwdDataArgs{g, dy.data(), w.data(), want.data()});
    const ConvBwdDataArgs a{g, dy.data(), w.data(), nullptr};
    expect_exact(run_grid(g.x_size(), [&](int64_t i) { return cuda::conv_bwd_data_at(a, i); }), want, name(g));
  }
}

TEST(CudaTwin, ConvBwdFilter) {
  for (const auto& [g, with_bias] : conv_cases()) {
    const auto x = integers(g.x_size(), -3, 3, 6), dy = integers(g.y_size(), -3, 3, 7);
    std::vector<float> want_dw(size_t(g.w_size()), kNaN), want_db(size_t(g.k), kNaN);
    ref::conv_bwd_filter<float>(kCpu, ConvBwdFilterArgs{g, x.data(), dy.data(), want_dw.data(), want_db.data()});
    const ConvBwdFilterArgs a{g, x.data(), dy.data(), nullptr, nullptr};
    expect_exact(run_grid(g.w_size(), [&](int64_t i) { return cuda::conv_bwd_filter_at(a, i); }), want_dw,
                 "dw " + name(g));
    expect_exact(run_grid(g.k, [&](int64_t k) { return cuda::conv_bwd_bias_at(a, int(k)); }), want_db,
                 "dbias " + name(g));
  }
}

// ---- ReLU: zeros included, where forward and backward must both give 0.

TEST(CudaTwin, Relu) {
  const int64_t n = 37;
  const auto x = integers(n, -3, 3, 8), dy = integers(n, -5, 5, 9);
  std::vector<float> y(size_t(n), kNaN), dx(size_t(n), kNaN);
  ref::relu_fwd<float>(kCpu, ReluFwdArgs{n, x.data(), y.data()});
  ref::relu_bwd<float>(kCpu, ReluBwdArgs{n, y.data(), dy.data(), dx.data()});
  const ReluFwdArgs f{n, x.data(), nullptr};
  const ReluBwdArgs b{n, y.data(), dy.data(), nullptr};
  expect_exact(run_grid(n, [&](int64_t i) { return cuda::relu_fwd_at(f, i); }), y, "relu_fwd");
  expect_exact(run_grid(n, [&](int64_t i) { return cuda::relu_bwd_at(b, i); }), dx, "relu_bwd");
}

// ---- max pooling: inputs in [-2, 2] give many ties, so the first-maximum rule is exercised.

std::vector<PoolGeom> pool_cases() {
  auto geom = [](int n, int c, int h, int w, int window, int stride, int pad) {
    PoolGeom g;
    g.n = n, g.c = c, g.h = h, g.w = w, g.window = window, g.stride = stride, g.pad = pad;
    return g;
  };
  return {
      geom(2, 3, 7, 9, 2, 2, 0),  // odd sizes: the last row and column are dropped
      geom(2, 2, 9, 8, 3, 2, 1),  // window 3 stride 2 pad 1 (AlexNet / TF cifar10 style, with padding)
      geom(1, 3, 7, 7, 3, 2, 0),  // window 3 stride 2, overlapping windows
      geom(1, 2, 6, 5, 3, 1, 1),  // stride 1: every cell is in up to 9 windows
      geom(1, 1, 8, 8, 2, 3, 1),  // stride > window: some cells are in no window
  };
}

std::string name(const PoolGeom& g) {
  return fmt::format("n{} c{} {}x{} window {} stride {} pad {}", g.n, g.c, g.h, g.w, g.window, g.stride, g.pad);
}

TEST(CudaTwin, PoolFwd) {
  for (const auto& g : pool_cases()) {
    const auto x = integers(g.x_size(), -2, 2, 10);
    std::vector<float> want(size_t(g.y_size()), kNaN);
    ref::pool_fwd<float>(kCpu, PoolFwdArgs{g, x.data(), want.data()});
    const PoolFwdArgs a{g, x.data(), nullptr};
    expect_exact(run_grid(g.y_size(), [&](int64_t i) { return cuda::pool_fwd_at(a, i); }), want, name(g));
  }
}

TEST(CudaTwin, PoolBwd) {
  for (const auto& g : pool_cases()) {
    // dy values are distinct powers of two, so a gradient routed to a wrong cell changes the sums.
    const auto x = integers(g.x_size(), -2, 2, 11);
    std::vector<float> y(size_t(g.y_size()), kNaN), dy(size_t(g.y_size()));
    for (size_t i = 0; i < dy.size(); ++i) dy[i] = std::ldexp(1.0f, int(i % 20));
    ref::pool_fwd<float>(kCpu, PoolFwdArgs{g, x.data(), y.data()});
    std::vector<float> want(size_t(g.x_size()), kNaN);
    ref::pool_bwd<float>(kCpu, PoolBwdArgs{g, x.data(), y.data(), dy.data(), want.data()});
    const PoolBwdArgs a{g, x.data(), y.data(), dy.data(), nullptr};
    expect_exact(run_grid(g.x_size(), [&](int64_t i) { return cuda::pool_bwd_at(a, i); }), want, name(g));
  }
}

// The first-maximum rule on a hand-made window: all four cells tie, so the top-left one wins and
// takes the whole gradient.
TEST(CudaTwin, PoolTiesGoToFirstMaximum) {
  PoolGeom g;
  g.n = 1, g.c = 1, g.h = 2, g.w = 2, g.window = 2, g.stride = 2, g.pad = 0;
  const std::vector<float> x{5, 5, 5, 5}, y{5}, dy{3};
  const PoolBwdArgs a{g, x.data(), y.data(), dy.data(), nullptr};
  EXPECT_EQ(run_grid(4, [&](int64_t i) { return cuda::pool_bwd_at(a, i); }), (std::vector<float>{3, 0, 0, 0}));
}

// ---- LRN: alpha large enough that the normalisation changes the values substantially.

std::vector<LrnGeom> lrn_cases() {
  auto geom = [](int n, int c, int h, int w, int size, double alpha, double beta, double k) {
    LrnGeom g;
    g.n = n, g.c = c, g.h = h, g.w = w, g.size = size, g.alpha = alpha, g.beta = beta, g.k = k;
    return g;
  };
  return {
      geom(2, 3, 3, 5, 5, 0.5, 0.75, 2.0),   // window wider than C on both sides
      geom(2, 7, 4, 3, 5, 0.5, 0.75, 2.0),   // window clipped at both ends, full in the middle
      geom(1, 7, 3, 3, 4, 0.8, 0.75, 1.0),   // even size: look behind 1, look ahead 2
      geom(1, 7, 2, 3, 9, 0.9, 0.75, 1.0),   // TF cifar10's depth_radius 4
      geom(1, 8, 3, 2, 1, 0.3, 0.5, 1.5),    // size 1: each channel normalised by itself only
  };
}

std::string name(const LrnGeom& g) {
  return fmt::format("n{} c{} {}x{} size {} alpha {} beta {} k {}", g.n, g.c, g.h, g.w, g.size, g.alpha, g.beta, g.k);
}

TEST(CudaTwin, LrnFwd) {
  for (const auto& g : lrn_cases()) {
    const auto x = reals(g.x_size(), -2.0, 2.0, 12);
    std::vector<float> want(size_t(g.x_size()), kNaN);
    ref::lrn_fwd<float>(kCpu, LrnFwdArgs{g, x.data(), want.data()});
    const LrnFwdArgs a{g, x.data(), nullptr};
    expect_close(run_grid(g.x_size(), [&](int64_t i) { return cuda::lrn_fwd_at(a, i); }), want, 1e-5, name(g));
  }
}

TEST(CudaTwin, LrnBwd) {
  for (const auto& g : lrn_cases()) {
    const auto x = reals(g.x_size(), -2.0, 2.0, 13), dy = reals(g.x_size(), -1.0, 1.0, 14);
    std::vector<float> y(size_t(g.x_size()), kNaN), want(size_t(g.x_size()), kNaN);
    ref::lrn_fwd<float>(kCpu, LrnFwdArgs{g, x.data(), y.data()});
    ref::lrn_bwd<float>(kCpu, LrnBwdArgs{g, x.data(), y.data(), dy.data(), want.data()});
    const LrnBwdArgs a{g, x.data(), y.data(), dy.data(), nullptr};
    expect_close(run_grid(g.x_size(), [&](int64_t i) { return cuda::lrn_bwd_at(a, i); }), want, 1e-5, name(g));
  }
}

// ---- fully connected

TEST(CudaTwin, Dense) {
  for (const DenseGeom g : {DenseGeom{3, 7, 5}, DenseGeom{1, 1, 1}, DenseGeom{4, 9, 10}}) {
    const std::string what = fmt::format("n{} in{} out{}", g.n, g.in, g.out);
    const int64_t nx = int64_t(g.n) * g.in, ny = int64_t(g.n) * g.out, nw = int64_t(g.out) * g.in;
    const auto x = integers(nx, -3, 3, 15), w = integers(nw, -2, 2, 16), b = integers(g.out, -4, 4, 17),
               dy = integers(ny, -3, 3, 18);
    for (const bool with_bias : {true, false}) {
      std::vector<float> y(size_t(ny), kNaN);
      ref::dense_fwd<float>(kCpu, DenseFwdArgs{g, x.data(), w.data(), with_bias ? b.data() : nullptr, y.data()});
      const DenseFwdArgs f{g, x.data(), w.data(), with_bias ? b.data() : nullptr, nullptr};
      expect_exact(run_grid(ny, [&](int64_t i) { return cuda::dense_fwd_at(f, i); }), y,
                   "dense_fwd " + what + (with_bias ? "" : " no bias"));
    }
    std::vector<float> dx(size_t(nx), kNaN), dw(size_t(nw), kNaN), db(size_t(g.out), kNaN);
    ref::dense_bwd<float>(kCpu, DenseBwdArgs{g, x.data(), w.data(), dy.data(), dx.data(), dw.data(), db.data()});
    const DenseBwdArgs a{g, x.data(), w.data(), dy.data(), nullptr, nullptr, nullptr};
    expect_exact(run_grid(nx, [&](int64_t i) { return cuda::dense_bwd_data_at(a, i); }), dx, "dx " + what);
    expect_exact(run_grid(nw, [&](int64_t i) { return cuda::dense_bwd_filter_at(a, i); }), dw, "dw " + what);
    expect_exact(run_grid(g.out, [&](int64_t o) { return cuda::dense_bwd_bias_at(a, int(o)); }), db, "dbias " + what);
  }
}

// ---- softmax cross-entropy: one body call per row writes the loss and the row of dlogits.

TEST(CudaTwin, SoftmaxXent) {
  struct Case { int n, classes; double lo, hi; };
  for (const auto& c : {Case{5, 10, -4.0, 4.0}, Case{3, 2, -1.0, 1.0}, Case{4, 7, 80.0, 90.0}}) {
    const std::string what = fmt::format("n{} classes {} logits in [{}, {}]", c.n, c.classes, c.lo, c.hi);
    const auto z = reals(int64_t(c.n) * c.classes, c.lo, c.hi, 19);
    std::vector<int32_t> labels(size_t(c.n));
    for (int i = 0; i < c.n; ++i) labels[size_t(i)] = (3 * i + 1) % c.classes;
    const size_t nz = z.size();
    std::vector<float> want_loss(size_t(c.n), kNaN), want_dz(nz, kNaN);
    ref::softmax_xent<float>(kCpu, SoftmaxXentArgs{c.n, c.classes, z.data(), labels.data(), want_loss.data(),
                                                   want_dz.data()});
    std::vector<float> loss(size_t(c.n), kNaN), dz(nz, kNaN);
    const SoftmaxXentArgs a{c.n, c.classes, z.data(), labels.data(), loss.data(), dz.data()};
    for (int i = 0; i < c.n; ++i) cuda::softmax_xent_row(a, i);
    expect_close(loss, want_loss, 1e-5, "loss " + what);
    expect_close(dz, want_dz, 1e-5, "dlogits " + what);

    // Either output may be absent.
    std::vector<float> dz_only(nz, kNaN);
    const SoftmaxXentArgs b{c.n, c.classes, z.data(), labels.data(), nullptr, dz_only.data()};
    for (int i = 0; i < c.n; ++i) cuda::softmax_xent_row(b, i);
    expect_exact(dz_only, dz, "dlogits without loss " + what);
  }
}

TEST(CudaTwin, SoftmaxXentBadLabelGivesNaN) {
  const std::vector<float> z{1, 2, 3, 4, 5, 6};
  const std::vector<int32_t> labels{1, 3};  // 3 is outside [0, 3)
  std::vector<float> loss(2, 0.0f), dz(6, 0.0f);
  const SoftmaxXentArgs a{2, 3, z.data(), labels.data(), loss.data(), dz.data()};
  for (int i = 0; i < 2; ++i) cuda::softmax_xent_row(a, i);
  EXPECT_FALSE(std::isnan(loss[0]));
  EXPECT_TRUE(std::isnan(loss[1]));
  EXPECT_TRUE(std::isnan(dz[3]) && std::isnan(dz[4]) && std::isnan(dz[5]));
}

// ---- optimizers, in place: run cpu-ref on one copy of the state and the body on another.

TEST(CudaTwin, Sgd) {
  // Multiples of 1/8 with power-of-two hyperparameters: every step is exact in float.
  const int64_t n = 29;
  auto eighths = [&](uint64_t seed) {
    auto v = integers(n, -16, 16, seed);
    for (auto& x : v) x /= 8.0f;
    return v;
  };
  const auto p0 = eighths(20), g0 = eighths(21), v0 = eighths(22);
  for (const SgdHyper h : {SgdHyper{0.5, 0.5, 0.25}, SgdHyper{0.125, 0.0, 0.0}}) {
    const bool with_velocity = h.momentum != 0.0;
    const std::string what = fmt::format("lr {} momentum {} wd {}", h.lr, h.momentum, h.weight_decay);
    auto p_ref = p0, v_ref = v0, p = p0, v = v0;
    ref::sgd_update<float>(kCpu, SgdArgs{n, h, p_ref.data(), g0.data(), with_velocity ? v_ref.data() : nullptr});
    const SgdArgs a{n, h, p.data(), g0.data(), with_velocity ? v.data() : nullptr};
    for (int64_t i = 0; i < n; ++i) cuda::sgd_update_at(a, i);
    expect_exact(p, p_ref, "param " + what);
    expect_exact(v, v_ref, "velocity " + what);
    if (!with_velocity) {
      EXPECT_EQ(v, v0) << "a null velocity must leave the buffer alone";
    }
  }
}

TEST(CudaTwin, Adam) {
  const int64_t n = 31;
  const auto p0 = reals(n, -1.0, 1.0, 23), g0 = reals(n, -0.5, 0.5, 24), m0 = reals(n, -0.1, 0.1, 25),
             v0 = reals(n, 0.0, 0.05, 26);
  for (const int64_t step : {int64_t(1), int64_t(7)}) {
    AdamHyper h;
    h.lr = 1e-2, h.weight_decay = 0.1, h.step = step;
    auto p_ref = p0, m_ref = m0, v_ref = v0, p = p0, m = m0, v = v0;
    ref::adam_update<float>(kCpu, AdamArgs{n, h, p_ref.data(), g0.data(), m_ref.data(), v_ref.data()});
    const AdamArgs a{n, h, p.data(), g0.data(), m.data(), v.data()};
    const cuda::AdamCoef k = cuda::adam_coef(h);
    for (int64_t i = 0; i < n; ++i) cuda::adam_update_at(a, k, i);
    const std::string what = fmt::format("step {}", step);
    expect_close(p, p_ref, 1e-5, "param " + what);
    expect_close(m, m_ref, 1e-5, "m " + what);
    expect_close(v, v_ref, 1e-5, "v " + what);
  }
}

// windows_covering is the inverse of the pooling window map: brute force over every case above.
TEST(CudaTwin, WindowsCoveringMatchesBruteForce) {
  for (int window = 1; window <= 4; ++window)
    for (int stride = 1; stride <= 3; ++stride)
      for (int pad = 0; pad < window; ++pad)
        for (int size = window; size <= 9; ++size) {
          const int out = (size + 2 * pad - window) / stride + 1;
          for (int i = 0; i < size; ++i) {
            int lo = out, hi = -1;
            for (int o = 0; o < out; ++o)
              if (o * stride - pad <= i && i < o * stride - pad + window) lo = std::min(lo, o), hi = std::max(hi, o);
            const cuda::IndexRange r = cuda::windows_covering(i, window, stride, pad, out);
            if (hi < 0)
              EXPECT_GT(r.lo, r.hi) << fmt::format("i {} window {} stride {} pad {} size {}", i, window, stride, pad, size);
            else
              EXPECT_TRUE(r.lo == lo && r.hi == hi)
                  << fmt::format("i {} window {} stride {} pad {} size {}: got [{}, {}], want [{}, {}]", i, window,
                                 stride, pad, size, r.lo, r.hi, lo, hi);
          }
        }
}

// ---- the launchers and the tiled variant, as the GPU runs them, on every op case against cpu-ref

template <Op op>
using ArgsOf = typename OpTraits<op>::ArgsT;

// A cuda/naive launcher run with a host grid, as a CPU kernel that verify_kernel can check.
template <Op op, void (*Launcher)(const cuda::HostGrid&, const ArgsOf<op>&)>
void naive_on_host(const ExecCtx&, const ArgsOf<op>& a) {
  Launcher(cuda::HostGrid{"cuda/naive host twin"}, a);
}

void smem_tiled_on_host(const ExecCtx&, const ConvFwdArgs& a) {
  cuda::conv_fwd_smem_tiled_on_host(a, "conv_fwd/cuda/smem_tiled host twin");
}

// Family "cuda" so that the tolerances are the GPU variants' (exact on integer cases).
template <Op op>
KernelInfo twin(const char* variant, typename OpTraits<op>::Fn fn) {
  return {op, "cuda", variant, DeviceKind::cpu, reinterpret_cast<AnyKernelFn>(fn)};
}

std::vector<KernelInfo> twin_kernels() {
  using namespace cuda;
  using G = HostGrid;
  return {
      twin<Op::conv_fwd>("naive", &naive_on_host<Op::conv_fwd, &conv_fwd_naive_on<G>>),
      twin<Op::conv_bwd_data>("naive", &naive_on_host<Op::conv_bwd_data, &conv_bwd_data_naive_on<G>>),
      twin<Op::conv_bwd_filter>("naive", &naive_on_host<Op::conv_bwd_filter, &conv_bwd_filter_naive_on<G>>),
      twin<Op::relu_fwd>("naive", &naive_on_host<Op::relu_fwd, &relu_fwd_naive_on<G>>),
      twin<Op::relu_bwd>("naive", &naive_on_host<Op::relu_bwd, &relu_bwd_naive_on<G>>),
      twin<Op::pool_fwd>("naive", &naive_on_host<Op::pool_fwd, &pool_fwd_naive_on<G>>),
      twin<Op::pool_bwd>("naive", &naive_on_host<Op::pool_bwd, &pool_bwd_naive_on<G>>),
      twin<Op::lrn_fwd>("naive", &naive_on_host<Op::lrn_fwd, &lrn_fwd_naive_on<G>>),
      twin<Op::lrn_bwd>("naive", &naive_on_host<Op::lrn_bwd, &lrn_bwd_naive_on<G>>),
      twin<Op::dense_fwd>("naive", &naive_on_host<Op::dense_fwd, &dense_fwd_naive_on<G>>),
      twin<Op::dense_bwd>("naive", &naive_on_host<Op::dense_bwd, &dense_bwd_naive_on<G>>),
      twin<Op::softmax_xent>("naive", &naive_on_host<Op::softmax_xent, &softmax_xent_naive_on<G>>),
      twin<Op::sgd_update>("naive", &naive_on_host<Op::sgd_update, &sgd_update_naive_on<G>>),
      twin<Op::adam_update>("naive", &naive_on_host<Op::adam_update, &adam_update_naive_on<G>>),
      twin<Op::conv_fwd>("smem_tiled", &smem_tiled_on_host),
  };
}

struct TwinCase {
  KernelInfo kernel;
  OpCase c;
};

void PrintTo(const TwinCase& t, std::ostream* os) { *os << t.kernel.full_name() << " on " << t.c.name; }

std::vector<TwinCase> twin_cases() {
  std::vector<TwinCase> out;
  for (const KernelInfo& k : twin_kernels())
    for (OpCase& c : op_cases(k.op, CaseSet::test)) out.push_back({k, std::move(c)});
  return out;
}

std::string twin_name(const ::testing::TestParamInfo<TwinCase>& info) {
  std::string s = info.param.kernel.full_name() + "__" + info.param.c.name;
  for (char& ch : s)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return s;
}

class CudaTwinLaunchers : public ::testing::TestWithParam<TwinCase> {};

TEST_P(CudaTwinLaunchers, MatchRef) {
  const auto& [k, c] = GetParam();
  auto cpu = make_cpu_device(0, 1);
  const VerifyResult r = verify_kernel(k, c, *cpu);
  EXPECT_TRUE(r.pass) << r.kernel << " on " << r.case_name << " (" << r.geometry << "): " << r.reason
                      << " [tolerance " << r.tol.str() << "]";
}

INSTANTIATE_TEST_SUITE_P(, CudaTwinLaunchers, ::testing::ValuesIn(twin_cases()), twin_name);

// Every variant the twins stand for is a real kernels.def line (a renamed variant cannot leave its twin behind).
TEST(CudaTwinLaunchersList, EveryTwinIsACudaVariant) {
  std::set<std::string> names;
  for (const KernelInfo& k : twin_kernels()) {
    EXPECT_TRUE(names.insert(k.full_name()).second) << "twice: " << k.full_name();
#if CNNB_HAVE_CUDA
    const KernelInfo* real = find_kernel(k.op, k.family, k.variant);
    ASSERT_NE(real, nullptr) << k.full_name();
    EXPECT_EQ(real->device, DeviceKind::cuda) << k.full_name();
#endif
  }
  EXPECT_EQ(names.size(), size_t(kOpCount) + 1);  // every op's naive variant and the tiled conv_fwd
}

// Grids that only record what a launcher asks for.
struct CountingGrid {
  const char* kernel;
  int* grids;
  template <class F>
  void operator()(int64_t, const F&) const {
    ++*grids;
  }
};
struct SizeGrid {
  const char* kernel;
  std::vector<int64_t>* sizes;
  template <class F>
  void operator()(int64_t n, const F&) const {
    sizes->push_back(n);
  }
};

// The launchers' host-side refusals run before any grid: a call that would read out of bounds on a GPU
// ends in one message naming the variant.
TEST(CudaTwinLaunchersList, RefusalsComeBeforeAnyGrid) {
  int grids = 0;
  const CountingGrid grid{"sgd_update/cuda/naive", &grids};
  std::vector<float> p(4), g(4);
  try {
    cuda::sgd_update_naive_on(grid, SgdArgs{4, SgdHyper{0.1, 0.9, 0.0}, p.data(), g.data(), nullptr});
    FAIL() << "momentum without a velocity buffer was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("sgd_update/cuda/naive: momentum 0.9 needs a velocity buffer"),
              std::string::npos)
        << e.what();
  }
  ConvGeom bad;
  bad.n = 1, bad.c = 1, bad.h = 2, bad.w = 2, bad.k = 1, bad.r = 3, bad.s = 3;  // a 3x3 filter on a 2x2 image
  EXPECT_THROW(cuda::conv_fwd_naive_on(CountingGrid{"conv_fwd/cuda/naive", &grids},
                                       ConvFwdArgs{bad, p.data(), p.data(), nullptr, p.data()}),
               Error);
  EXPECT_THROW(cuda::conv_fwd_smem_tiled_on_host(ConvFwdArgs{bad, p.data(), p.data(), nullptr, p.data()}, "tiled"),
               Error);
  EXPECT_EQ(grids, 0);
}

// Which grids run for which pointers: dense_bwd skips dx and dbias when they are null, and only then.
TEST(CudaTwinLaunchersList, DenseBackwardRunsOneGridPerPresentOutput) {
  std::vector<int64_t> sizes;
  const SizeGrid grid{"dense_bwd/cuda/naive", &sizes};
  float buf[1] = {0};
  const DenseGeom g{3, 5, 7};
  cuda::dense_bwd_naive_on(grid, DenseBwdArgs{g, buf, buf, buf, buf, buf, buf});
  EXPECT_EQ(sizes, (std::vector<int64_t>{15, 35, 7}));
  sizes.clear();
  cuda::dense_bwd_naive_on(grid, DenseBwdArgs{g, buf, buf, buf, nullptr, buf, nullptr});
  EXPECT_EQ(sizes, (std::vector<int64_t>{35}));
}

// The tiled plan: chunks of channels within the shared-memory budget, and a clear refusal past the limit.
TEST(CudaTwinLaunchersList, TilePlanFitsSharedMemory) {
  ConvGeom g;
  g.n = 4, g.c = 64, g.h = 16, g.w = 16, g.k = 64, g.r = 5, g.s = 5, g.stride = 1, g.pad = 2;  // tfcifar conv2
  const cuda::TilePlan pl = cuda::plan_tiles(g, "tiled");
  // A 20x20 patch and a 5x5 filter per channel: (400 + 25) * 4 = 1700 B; 24 KiB holds 14 channels.
  EXPECT_EQ(pl.t.patch_h, 20);
  EXPECT_EQ(pl.t.chunk, 14);
  EXPECT_EQ(pl.smem, 14u * 1700u);
  EXPECT_EQ(pl.blocks_x, 1u);
  EXPECT_EQ(pl.nk, 256);
  g.h = g.w = 64, g.r = g.s = 11, g.stride = 8, g.pad = 0;  // a 131x131 patch: (17161 + 121) * 4 = 69,128 B
  try {
    (void)cuda::plan_tiles(g, "conv_fwd/cuda/smem_tiled");
    FAIL() << "a patch beyond 48 KiB was planned";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("use conv_fwd/cuda/naive for this layer"), std::string::npos) << e.what();
  }
}

#if CNNB_HAVE_CUDA
// ---- the host side of the CUDA runtime, which must work on machines without a driver or a GPU
// (like this development machine: there these tests see zero GPUs and the driver's error).

TEST(CudaRuntime, DeviceQueryAgreesWithItself) {
  const cuda::CudaEnv env = cuda::cuda_environment();
  EXPECT_EQ(cuda_device_count(), int(env.gpus.size()));
  EXPECT_EQ(env.error.empty(), !env.gpus.empty()) << env.error;
  EXPECT_GE(env.runtime_version, 12000) << "the CUDA runtime linked into cnnbench reports no version";
  const nlohmann::json j = env;
  EXPECT_EQ(j.at("gpus").size(), env.gpus.size());
  EXPECT_EQ(j.at("runtime_version"), cuda::cuda_version_string(env.runtime_version));
  EXPECT_EQ(cuda_environment_json(), j);
  EXPECT_NE(cuda::summary(env).find(fmt::format("{} GPU(s)", env.gpus.size())), std::string::npos);
}

// ScopedDevice's logic with a fake device: it records the calls and can fail them.
struct FakeDevices {
  int current = 0;
  bool broken = false;      // no driver: every call fails
  bool no_context = false;  // a thread that never used a device: RuntimeDevice::get answers false
  int sets = 0, clears = 0;
};
struct FakeDeviceApi {
  FakeDevices* d;
  bool get(int* device) const noexcept {
    if (d->broken || d->no_context) return false;
    *device = d->current;
    return true;
  }
  bool set(int device) const noexcept {
    ++d->sets;
    if (d->broken) return false;
    d->current = device;
    d->no_context = false;
    return true;
  }
  void clear_error() const noexcept { ++d->clears; }
};
using FakeScopedDevice = cuda::BasicScopedDevice<FakeDeviceApi>;

TEST(CudaScopedDevice, SwitchesAndRestores) {
  FakeDevices d;
  {
    const FakeScopedDevice on(1, FakeDeviceApi{&d});
    EXPECT_EQ(d.current, 1);
  }
  EXPECT_EQ(d.current, 0);
  EXPECT_EQ(d.sets, 2);
  EXPECT_EQ(d.clears, 0);
}

// A loader thread or an MPI rank's set-up thread has no context: going "back" to device 0 would create
// one on GPU 0, so the guard leaves the thread on the device it used.
TEST(CudaScopedDevice, AThreadWithoutAContextIsNotGivenOneOnGpu0) {
  FakeDevices d;
  d.no_context = true;
  {
    const FakeScopedDevice on(2, FakeDeviceApi{&d});
    EXPECT_EQ(d.current, 2);
  }
  EXPECT_EQ(d.current, 2);
  EXPECT_EQ(d.sets, 1);
}

TEST(CudaScopedDevice, AlreadyCurrentCostsNoSet) {
  FakeDevices d;
  d.current = 2;
  { const FakeScopedDevice on(2, FakeDeviceApi{&d}); }
  EXPECT_EQ(d.current, 2);
  EXPECT_EQ(d.sets, 0);
}

// The NCCL communicator's pattern: a guard on the caller's own device, then cudaSetDevice to each GPU in
// turn inside the scope. The caller gets its device back.
TEST(CudaScopedDevice, RestoresTheCallersDeviceAfterTheScopeSwitched) {
  FakeDevices d;
  {
    const FakeScopedDevice restore(0, FakeDeviceApi{&d});
    for (int gpu : {0, 1, 3}) FakeDeviceApi{&d}.set(gpu);
    EXPECT_EQ(d.current, 3);
  }
  EXPECT_EQ(d.current, 0);
  {
    const FakeScopedDevice on(2, FakeDeviceApi{&d});  // a switch inside a switching guard
    FakeDeviceApi{&d}.set(1);
  }
  EXPECT_EQ(d.current, 0);
}

TEST(CudaScopedDevice, NestedGuardsUnwindInOrder) {
  FakeDevices d;
  {
    const FakeScopedDevice outer(1, FakeDeviceApi{&d});
    {
      const FakeScopedDevice inner(2, FakeDeviceApi{&d});
      EXPECT_EQ(d.current, 2);
    }
    EXPECT_EQ(d.current, 1);
  }
  EXPECT_EQ(d.current, 0);
}

// Without a driver nothing can be made current: the guard tries once, clears the error it caused so a
// later launch check does not report it, and does not try to restore a device it never read.
TEST(CudaScopedDevice, WithoutADriverClearsItsOwnErrorsOnly) {
  FakeDevices d;
  d.broken = true;
  { const FakeScopedDevice on(1, FakeDeviceApi{&d}); }
  EXPECT_EQ(d.sets, 1);
  EXPECT_EQ(d.clears, 2);  // the failed get and the failed set
}

TEST(CudaRuntime, VersionStrings) {
  EXPECT_EQ(cuda::cuda_version_string(13000), "13.0");
  EXPECT_EQ(cuda::cuda_version_string(12040), "12.4");
  EXPECT_EQ(cuda::cuda_version_string(0), "none");
}

TEST(CudaRuntime, MakeCudaDeviceRefusesAMissingGpu) {
  const int n = cuda_device_count();
  EXPECT_THROW(make_cuda_device(n), InputError);
  EXPECT_THROW(make_cuda_device(-1), InputError);
}

// The launchers check their context before touching the GPU: a CPU context is a clear error.
TEST(CudaRuntime, CudaKernelRefusesACpuContext) {
  const KernelInfo* k = find_kernel(Op::relu_fwd, "cuda", "naive");
  ASSERT_NE(k, nullptr);
  const std::vector<float> x{1, -1};
  std::vector<float> y(2);
  try {
    kernel_fn<Op::relu_fwd>(*k)(kCpu, ReluFwdArgs{2, x.data(), y.data()});
    FAIL() << "relu_fwd/cuda/naive ran on a CPU context";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("relu_fwd/cuda/naive is a CUDA kernel"), std::string::npos) << e.what();
  }
}
#endif

}  // namespace
}  // namespace cnnb
