// Host twins of the cuda/naive kernels: every per-thread body of backends/cuda/naive_bodies.h runs
// over its whole output grid on the host and must agree with cpu-ref. The index math, the gather
// formulations of the backward ops and the tie and padding rules are thereby tested on any machine;
// what only a GPU can show (launch configuration, the shared-memory variant) is in tests/gpu/.
// Integer-valued inputs make conv, dense, pool, ReLU and SGD exact, so those compare with ==;
// LRN, softmax and Adam use real values and a relative tolerance. Outputs start as NaN, so an
// element a body fails to write cannot pass.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "backends/cpu/ref.h"
#include "backends/cuda/naive_bodies.h"
#include "core/rng.h"

#if CNNB_HAVE_CUDA
#include <nlohmann/json.hpp>

#include "backends/cuda/device_query.h"
#include "backends/registry.h"
#include "core/device.h"
#include "core/error.h"
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
