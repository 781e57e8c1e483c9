// The model: spec parsing, shape inference, the flat PyTorch-named parameter layout, seeded
// initialisation, and a finite-difference check of the whole network's gradient in double.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "backends/backend.h"
#include "core/error.h"
#include "core/model_spec.h"
#include "model/network.h"
#include "core/rng.h"
#include "tests/gradcheck.h"
#include "tests/input_error.h"

namespace cnnb {
namespace {

using test::input_error;

using ::testing::HasSubstr;

TEST(ModelSpec, PresetsRoundTripThroughTheirSpecString) {
  for (const auto& p : model_presets()) {
    const ModelSpec spec = parse_model(p.name);
    EXPECT_EQ(spec.name, p.name);
    EXPECT_EQ(parse_model(spec.str()).str(), spec.str());
  }
  EXPECT_EQ(parse_model("simple").str(), "conv3x3x32,relu,maxpool2,conv3x3x64,relu,maxpool2,fc128,relu,fc10");
}

TEST(ModelSpec, ParsesEveryTokenForm) {
  const ModelSpec s = parse_model("conv5x3x7s2p1,relu,maxpool3s2p1,lrn9a0.001b0.75k1,fc12");
  ASSERT_EQ(s.layers.size(), 5u);
  EXPECT_EQ(s.layers[0].kind, LayerKind::conv);
  EXPECT_EQ(s.layers[0].kernel_h, 5);
  EXPECT_EQ(s.layers[0].kernel_w, 3);
  EXPECT_EQ(s.layers[0].filters, 7);
  EXPECT_EQ(s.layers[0].stride, 2);
  EXPECT_EQ(s.layers[0].pad, 1);
  EXPECT_EQ(s.layers[2].window, 3);
  EXPECT_EQ(s.layers[2].stride, 2);
  EXPECT_EQ(s.layers[2].pad, 1);
  EXPECT_EQ(s.layers[3].lrn_size, 9);
  EXPECT_DOUBLE_EQ(s.layers[3].lrn_alpha, 0.001);
  EXPECT_DOUBLE_EQ(s.layers[3].lrn_beta, 0.75);
  EXPECT_DOUBLE_EQ(s.layers[3].lrn_k, 1.0);
  EXPECT_EQ(s.layers[4].units, 12);
  EXPECT_EQ(parse_model("maxpool2").layers[0].stride, 2);  // stride defaults to the window
}

TEST(ModelSpec, RejectsBadTokensWithTheTokenAndTheForms) {
  EXPECT_THAT(input_error([] { parse_model("nosuchmodel"); }), HasSubstr("unknown model 'nosuchmodel'"));
  EXPECT_THAT(input_error([] { parse_model("nosuchmodel"); }), HasSubstr("simple, tfcifar"));
  EXPECT_THAT(input_error([] { parse_model("conv3x3,fc10"); }), HasSubstr("'conv3x3'"));
  EXPECT_THAT(input_error([] { parse_model("conv3x3x0,fc10"); }), HasSubstr("filter count must be in [1, 65536], got 0"));
  EXPECT_THAT(input_error([] { parse_model("conv3x3x1000000,fc10"); }), HasSubstr("filter count"));
  EXPECT_THAT(input_error([] { parse_model("fc10,,fc10"); }), HasSubstr("empty layer at position 2"));
  EXPECT_THAT(input_error([] { parse_model("lrn4,fc10"); }), HasSubstr("must be odd"));
  EXPECT_THAT(input_error([] { parse_model("lrn5b0.001,fc10"); }), HasSubstr("beta"));
  EXPECT_THAT(input_error([] { parse_model("pool2,fc10"); }), HasSubstr("unknown layer"));
  EXPECT_THAT(input_error([] { parse_model("relu3,fc10"); }), HasSubstr("'relu3'"));
}

// Issue 7's limit cases: each refused while parsing or planning, before any buffer exists, naming the limit.
TEST(ModelSpec, RefusesAMillionFiltersNamingTheLimit) {
  EXPECT_THAT(input_error([] { parse_model("conv3x3x1000000,fc10"); }),
              HasSubstr("model spec token 'conv3x3x1000000': filter count must be in [1, 65536], got 1000000"));
  EXPECT_THAT(input_error([] { parse_model("fc2000000"); }),
              HasSubstr("'fc2000000': unit count must be in [1, 1048576], got 2000000"));
}

// Found by tests/fuzz (tests/fuzz/corpus/model_spec/): str() writes a large alpha as 3.3e+20, which the
// parser refused, so a run record's model_spec could not be read back.
TEST(ModelSpec, PrintedExponentsParseBack) {
  const ModelSpec s = parse_model("lrn5a333333333333333333333b1e+2k2,fc10");
  EXPECT_THAT(s.str(), HasSubstr("e+20b100k2,fc10"));
  EXPECT_EQ(parse_model(s.str()).str(), s.str());
  EXPECT_DOUBLE_EQ(s.layers[0].lrn_beta, 100);
}

TEST(ModelPlan, RefusesActivationsAndParametersOverTheLimitsNamingThem) {
  // 65536 x 28 x 28 = 51,380,224 values per layer: the conv and 20 relus make 21 x that > 2^30.
  std::string relus;
  for (int i = 0; i < 20; ++i) relus += "relu,";
  const ModelSpec wide = parse_model("conv3x3x65536p1," + relus + "fc10");
  EXPECT_THAT(input_error([&] { plan_model(wide, Shape{1, 28, 28}, 10); }),
              HasSubstr("layers 1..21 (up to relu) would produce 1078984704 activation values per image; the limit "
                        "is 2^30"));
  // fc1: 784 x 2^20 + 2^20 parameters; fc2: 2^40 + 2^20 more.
  const ModelSpec dense = parse_model("fc1048576,fc1048576,fc10");
  EXPECT_THAT(input_error([&] { plan_model(dense, Shape{1, 28, 28}, 10); }),
              HasSubstr("has 1100335808512 parameters after layer 2 (fc1048576); the limit is 2^31"));
}

TEST(ModelPlan, SimpleOnFashionMnistHasPyTorchNamesShapesAndOffsets) {
  const ModelPlan p = plan_model(parse_model("simple"), {1, 28, 28}, 10);
  ASSERT_EQ(p.layers.size(), 9u);
  EXPECT_EQ(p.layers[0].out, (Shape{32, 26, 26}));
  EXPECT_EQ(p.layers[2].out, (Shape{32, 13, 13}));
  EXPECT_EQ(p.layers[3].out, (Shape{64, 11, 11}));
  EXPECT_EQ(p.layers[5].out, (Shape{64, 5, 5}));
  EXPECT_EQ(p.layers[6].in.size(), 1600);
  ASSERT_EQ(p.params.size(), 8u);
  const std::vector<std::string> names = {"conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias",
                                          "fc1.weight",   "fc1.bias",   "fc2.weight",   "fc2.bias"};
  int64_t offset = 0;
  for (size_t i = 0; i < names.size(); ++i) {
    EXPECT_EQ(p.params[i].name, names[i]);
    EXPECT_EQ(p.params[i].offset, offset);
    offset += p.params[i].count;
  }
  EXPECT_EQ(p.params[2].shape, (std::vector<int64_t>{64, 32, 3, 3}));
  EXPECT_EQ(p.params[4].shape, (std::vector<int64_t>{128, 1600}));
  EXPECT_EQ(p.param_count, 225034);  // what sum(p.numel()) says for the same PyTorch module
  EXPECT_DOUBLE_EQ(p.forward_macs(), 26.0 * 26 * 32 * 9 + 11.0 * 11 * 64 * 32 * 9 + 1600.0 * 128 + 128.0 * 10);
}

TEST(ModelPlan, TfcifarOnCifarShapes) {
  const ModelPlan p = plan_model(parse_model("tfcifar"), {3, 32, 32}, 10);
  EXPECT_EQ(p.layers[2].out, (Shape{64, 16, 16}));  // 3x3/2 pooling with padding 1, like TF's SAME
  EXPECT_EQ(p.layers[7].out, (Shape{64, 8, 8}));
  EXPECT_EQ(p.layers[8].in.size(), 4096);
  EXPECT_EQ(p.layers.back().out, (Shape{10, 1, 1}));
}

TEST(ModelPlan, RefusesSpecsTheInputCannotTake) {
  const std::string msg =
      input_error([] { plan_model(parse_model("maxpool2,maxpool2,maxpool2,maxpool2,maxpool2,fc10"), {1, 28, 28}, 10); });
  EXPECT_THAT(msg, HasSubstr("layer 5 (maxpool2) needs an input of at least 2x2 but gets 1x1"));
  EXPECT_THAT(msg, HasSubstr("1x28x28"));
  EXPECT_THAT(input_error([] { plan_model(parse_model("conv3x3x4,fc5"), {1, 28, 28}, 10); }), HasSubstr("must end with fc10"));
}

TEST(ModelInit, SeededDeterministicAndWithinPyTorchBounds) {
  const ModelPlan p = plan_model(parse_model("simple"), {1, 28, 28}, 10);
  const auto a = init_params(p, 7), b = init_params(p, 7), c = init_params(p, 8);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  for (const auto& t : p.params) {
    const double bound = 1.0 / std::sqrt(double(t.fan_in));
    double lo = 1, hi = -1, sum = 0;
    for (int64_t i = 0; i < t.count; ++i) {
      const double v = a[size_t(t.offset + i)];
      lo = std::min(lo, v), hi = std::max(hi, v), sum += v;
    }
    EXPECT_GE(lo, -bound) << t.name;
    EXPECT_LT(hi, bound) << t.name;
    if (t.count >= 1000) {  // uniform: spread close to the bound, mean close to 0
      EXPECT_GT(hi, 0.95 * bound) << t.name;
      EXPECT_LT(std::abs(sum / double(t.count)), 0.05 * bound) << t.name;
    }
  }
}

// A small network that exercises every layer kind, including LRN, stride and padding.
constexpr const char* kGradModel = "conv3x3x3p1,relu,maxpool2,lrn3a0.5b0.75k1,conv2x2x4,relu,maxpool3s2p1,fc5,relu,fc3";
constexpr int kBatch = 3;

struct GradFixture {
  ModelPlan plan = plan_model(parse_model(kGradModel), {2, 7, 7}, 3);
  std::vector<double> x;
  std::vector<int32_t> y{0, 2, 1};
  GradFixture() {
    Rng rng(11);
    x.resize(size_t(kBatch * plan.input.size()));
    for (double& v : x) v = rng.uniform(-1, 1);
  }
};

TEST(ModelGradcheck, WholeNetworkGradientMatchesFiniteDifferencesInDouble) {
  GradFixture f;
  auto dev = make_cpu_device(0, 1);
  Network<double> net(f.plan, reference_opset_double(), *dev, kBatch);
  std::vector<double> params;
  for (float v : init_params(f.plan, 5)) params.push_back(v);
  std::copy(f.x.begin(), f.x.end(), net.input());
  std::copy(f.y.begin(), f.y.end(), net.labels());

  auto loss_at = [&](const std::vector<double>& p) {
    std::copy(p.begin(), p.end(), net.params());
    net.forward(kBatch, true);
    return net.mean_loss(kBatch);
  };
  loss_at(params);
  net.backward(kBatch);
  const std::vector<double> analytic(net.grads(), net.grads() + net.param_count());
  const std::vector<double> numeric = test::numeric_gradient(loss_at, params, 1e-6);

  int checked_nonzero = 0;
  for (size_t i = 0; i < analytic.size(); ++i) {
    EXPECT_NEAR(analytic[i], numeric[i], 1e-8 + 1e-5 * std::abs(numeric[i])) << "parameter " << i;
    checked_nonzero += std::abs(analytic[i]) > 1e-6;
  }
  EXPECT_GT(checked_nonzero, int(analytic.size()) / 2);  // the check is not vacuous
}

TEST(ModelGradcheck, FloatCpuRefNetworkMatchesTheDoubleNetwork) {
  GradFixture f;
  auto dev = make_cpu_device(0, 1);
  const std::vector<float> init = init_params(f.plan, 5);
  Network<double> ref(f.plan, reference_opset_double(), *dev, kBatch);
  Network<float> net(f.plan, resolve_backend("cpu-ref"), *dev, kBatch);
  std::copy(init.begin(), init.end(), ref.params());
  std::copy(init.begin(), init.end(), net.params());
  std::copy(f.x.begin(), f.x.end(), ref.input());
  for (size_t i = 0; i < f.x.size(); ++i) net.input()[i] = float(f.x[i]);
  std::copy(f.y.begin(), f.y.end(), ref.labels());
  std::copy(f.y.begin(), f.y.end(), net.labels());
  ref.forward(kBatch, true);
  ref.backward(kBatch);
  net.forward(kBatch, true);
  net.backward(kBatch);
  EXPECT_NEAR(net.mean_loss(kBatch), ref.mean_loss(kBatch), 1e-6);
  double max_ref = 0, max_diff = 0;
  for (int64_t i = 0; i < ref.param_count(); ++i) {
    max_ref = std::max(max_ref, std::abs(ref.grads()[i]));
    max_diff = std::max(max_diff, std::abs(ref.grads()[i] - double(net.grads()[i])));
  }
  EXPECT_LT(max_diff / max_ref, 1e-5);
}

}  // namespace
}  // namespace cnnb
