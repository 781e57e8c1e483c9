#include "core/model_spec.h"

#include <charconv>
#include <cmath>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/error.h"
#include "core/rng.h"

namespace cnnb {

namespace {

constexpr PresetInfo kPresets[] = {
    {"simple", "conv3x3x32,relu,maxpool2,conv3x3x64,relu,maxpool2,fc128,relu,fc10",
     "two conv blocks and two dense layers (the Keras/PyTorch MNIST CNN)"},
    // TF's cifar10.py: SAME convolutions and 3x3/2 pooling, tf.nn.lrn(depth_radius=4, alpha=0.001/9, beta=0.75, bias=1),
    // which in cuDNN's terms (alpha divided by the window) is n=9, alpha=0.001, beta=0.75, k=1.
    {"tfcifar",
     "conv5x5x64p2,relu,maxpool3s2p1,lrn9a0.001b0.75k1,conv5x5x64p2,relu,lrn9a0.001b0.75k1,maxpool3s2p1,fc384,relu,"
     "fc192,relu,fc10",
     "TensorFlow's CIFAR-10 tutorial model (conv-pool-lrn, conv-lrn-pool, fc384, fc192, fc10)"},
};

// Reads an unsigned integer at pos; advances pos. Returns -1 when there is none.
long read_int(std::string_view s, size_t& pos) {
  long v = 0;
  auto [end, ec] = std::from_chars(s.data() + pos, s.data() + s.size(), v);
  if (ec != std::errc() || end == s.data() + pos) return -1;
  pos = size_t(end - s.data());
  return v;
}

double read_double(std::string_view s, size_t& pos, std::string_view token) {
  size_t end = pos;
  while (end < s.size() && (std::isdigit(static_cast<unsigned char>(s[end])) || s[end] == '.' || s[end] == 'e' ||
                            ((s[end] == '-' || s[end] == '+') && end > pos && s[end - 1] == 'e')))
    ++end;
  double v = 0;
  auto [p, ec] = std::from_chars(s.data() + pos, s.data() + end, v);
  if (ec != std::errc() || p == s.data() + pos)
    fail_input("model spec token '{}': expected a number after '{}'", token, s.substr(0, pos));
  pos = size_t(p - s.data());
  return v;
}

[[noreturn]] void bad_token(std::string_view token, std::string_view why) {
  fail_input(
      "model spec token '{}': {}; expected one of conv<R>x<S>x<K>[s<stride>][p<pad>], relu, "
      "maxpool<W>[s<stride>][p<pad>], lrn<N>[a<alpha>][b<beta>][k<k>], fc<units>",
      token, why);
}

// Limits that keep a typo from allocating absurd memory, checked before anything is allocated. Real CNNs
// stay far below them: ResNet-152 has at most 2048 channels per layer, VGG-16 4096 dense units, 138 M
// parameters and about 15 M activation values per 224x224 image.
constexpr long kMaxFilters = 65536, kMaxKernel = 64, kMaxUnits = 1 << 20;
constexpr int64_t kMaxLayerValues = int64_t(1) << 28;        // one layer's output per image (1 GiB of float)
constexpr int64_t kMaxActivationValues = int64_t(1) << 30;   // all layers' outputs per image (4 GiB of float)
constexpr int64_t kMaxParams = int64_t(1) << 31;             // one flat buffer (8 GiB of float)

int checked(std::string_view token, long v, long lo, long hi, std::string_view what) {
  if (v < lo || v > hi) bad_token(token, fmt::format("{} must be in [{}, {}], got {}", what, lo, hi, v));
  return int(v);
}

LayerSpec parse_token(std::string_view t) {
  LayerSpec l;
  size_t pos = 0;
  auto starts = [&](std::string_view prefix) {
    if (t.substr(0, prefix.size()) != prefix) return false;
    pos = prefix.size();
    return true;
  };
  auto suffix = [&](char c, long lo, long hi, std::string_view what, int& out) {
    if (pos < t.size() && t[pos] == c) {
      ++pos;
      long v = read_int(t, pos);
      if (v < 0) bad_token(t, fmt::format("expected a number after '{}'", c));
      out = checked(t, v, lo, hi, what);
    }
  };
  if (t == "relu") {
    l.kind = LayerKind::relu;
    return l;
  }
  if (starts("conv")) {
    l.kind = LayerKind::conv;
    long r = read_int(t, pos);
    if (r < 0 || pos >= t.size() || t[pos] != 'x') bad_token(t, "expected conv<R>x<S>x<K>");
    ++pos;
    long s = read_int(t, pos);
    if (s < 0 || pos >= t.size() || t[pos] != 'x') bad_token(t, "expected conv<R>x<S>x<K>");
    ++pos;
    long k = read_int(t, pos);
    if (k < 0) bad_token(t, "expected conv<R>x<S>x<K>");
    l.kernel_h = checked(t, r, 1, kMaxKernel, "kernel height");
    l.kernel_w = checked(t, s, 1, kMaxKernel, "kernel width");
    l.filters = checked(t, k, 1, kMaxFilters, "filter count");
    suffix('s', 1, kMaxKernel, "stride", l.stride);
    suffix('p', 0, kMaxKernel, "padding", l.pad);
  } else if (starts("maxpool")) {
    l.kind = LayerKind::maxpool;
    long w = read_int(t, pos);
    if (w < 0) bad_token(t, "expected maxpool<W>");
    l.window = checked(t, w, 1, kMaxKernel, "pool window");
    l.stride = l.window;
    suffix('s', 1, kMaxKernel, "stride", l.stride);
    suffix('p', 0, kMaxKernel, "padding", l.pad);
    if (l.pad * 2 > l.window) bad_token(t, "padding may be at most half the window (as in PyTorch and cuDNN)");
  } else if (starts("lrn")) {
    l.kind = LayerKind::lrn;
    long n = read_int(t, pos);
    if (n < 0) bad_token(t, "expected lrn<N>");
    // cuDNN accepts 1..16; cnnbench uses odd windows so every backend's window is the same.
    l.lrn_size = checked(t, n, 1, 15, "LRN window");
    if (l.lrn_size % 2 == 0) bad_token(t, "LRN window must be odd (even windows are asymmetric and differ between libraries)");
    while (pos < t.size()) {
      const char c = t[pos++];
      if (c == 'a') l.lrn_alpha = read_double(t, pos, t);
      else if (c == 'b') l.lrn_beta = read_double(t, pos, t);
      else if (c == 'k') l.lrn_k = read_double(t, pos, t);
      else bad_token(t, fmt::format("unexpected '{}'", c));
    }
    if (!(l.lrn_beta >= 0.01)) bad_token(t, "LRN beta must be >= 0.01 (cuDNN's limit)");
    if (!(l.lrn_k >= 1e-5)) bad_token(t, "LRN k must be >= 1e-5 (cuDNN's limit)");
    if (!(l.lrn_alpha >= 0)) bad_token(t, "LRN alpha must be >= 0");
  } else if (starts("fc")) {
    l.kind = LayerKind::fc;
    long u = read_int(t, pos);
    if (u < 0) bad_token(t, "expected fc<units>");
    l.units = checked(t, u, 1, kMaxUnits, "unit count");
  } else {
    bad_token(t, "unknown layer");
  }
  if (pos != t.size()) bad_token(t, fmt::format("unexpected '{}'", t.substr(pos)));
  return l;
}

std::string format_number(double v) { return fmt::format("{}", v); }

}  // namespace

std::string LayerSpec::str() const {
  switch (kind) {
    case LayerKind::conv:
      return fmt::format("conv{}x{}x{}{}{}", kernel_h, kernel_w, filters, stride != 1 ? fmt::format("s{}", stride) : "",
                         pad ? fmt::format("p{}", pad) : "");
    case LayerKind::relu:
      return "relu";
    case LayerKind::maxpool:
      return fmt::format("maxpool{}{}{}", window, stride != window ? fmt::format("s{}", stride) : "",
                         pad ? fmt::format("p{}", pad) : "");
    case LayerKind::lrn:
      return fmt::format("lrn{}a{}b{}k{}", lrn_size, format_number(lrn_alpha), format_number(lrn_beta),
                         format_number(lrn_k));
    case LayerKind::fc:
      return fmt::format("fc{}", units);
  }
  CNNB_ASSERT(false);
}

std::string ModelSpec::str() const {
  std::vector<std::string> tokens;
  for (const auto& l : layers) tokens.push_back(l.str());
  return fmt::format("{}", fmt::join(tokens, ","));
}

std::vector<PresetInfo> model_presets() { return {std::begin(kPresets), std::end(kPresets)}; }

ModelSpec parse_model(std::string_view text) {
  ModelSpec spec;
  std::string_view body = text;
  spec.name = "custom";
  for (const auto& p : kPresets)
    if (text == p.name) {
      spec.name = std::string(p.name);
      body = p.spec;
    }
  if (body.empty()) fail_input("model spec is empty; expected a preset ({}) or a spec string", "simple, tfcifar");
  if (spec.name == "custom" && body.find(',') == std::string_view::npos && body.find_first_of("0123456789") == std::string_view::npos) {
    std::vector<std::string> names;
    for (const auto& p : kPresets) names.emplace_back(p.name);
    fail_input("unknown model '{}'; expected a preset ({}) or a spec string such as {}", text, fmt::join(names, ", "),
               kPresets[0].spec);
  }
  size_t start = 0;
  while (start <= body.size()) {
    size_t comma = body.find(',', start);
    if (comma == std::string_view::npos) comma = body.size();
    std::string_view token = body.substr(start, comma - start);
    if (token.empty()) fail_input("model spec '{}' has an empty layer at position {}", text, spec.layers.size() + 1);
    spec.layers.push_back(parse_token(token));
    start = comma + 1;
  }
  return spec;
}

double ModelPlan::forward_macs() const {
  double macs = 0;
  for (const auto& l : layers) {
    if (l.spec.kind == LayerKind::conv)
      macs += double(l.out.size()) * l.in.c * l.spec.kernel_h * l.spec.kernel_w;
    else if (l.spec.kind == LayerKind::fc)
      macs += double(l.in.size()) * l.out.size();
  }
  return macs;
}

ModelPlan plan_model(const ModelSpec& spec, Shape input, int classes) {
  ModelPlan plan;
  plan.spec = spec;
  plan.input = input;
  plan.classes = classes;
  if (spec.layers.empty()) fail_input("model '{}' has no layers", spec.name);
  if (spec.layers.back().kind != LayerKind::fc || spec.layers.back().units != classes)
    fail_input("model '{}' must end with fc{} (one output per class of the dataset), but its last layer is {}",
               spec.name, classes, spec.layers.back().str());

  int n_conv = 0, n_fc = 0, n_relu = 0, n_pool = 0, n_lrn = 0;
  int64_t activations = 0;  // values per image over all layers so far
  Shape cur = input;
  auto add_param = [&](std::string name, std::vector<int64_t> shape, int64_t fan_in) {
    ParamTensor p;
    p.name = std::move(name);
    p.count = 1;
    for (auto d : shape) p.count *= d;
    p.shape = std::move(shape);
    p.offset = plan.param_count;
    p.fan_in = fan_in;
    plan.param_count += p.count;
    plan.params.push_back(std::move(p));
    return int(plan.params.size()) - 1;
  };
  for (size_t i = 0; i < spec.layers.size(); ++i) {
    const LayerSpec& l = spec.layers[i];
    LayerPlan lp;
    lp.spec = l;
    lp.in = cur;
    auto too_small = [&](int need_h, int need_w) {
      fail_input(
          "model '{}' layer {} ({}) needs an input of at least {}x{} but gets {}x{} (dataset images are {}); "
          "use fewer pooling/conv layers, padding, or a larger input",
          spec.name, i + 1, l.str(), need_h, need_w, cur.h, cur.w, input.str());
    };
    switch (l.kind) {
      case LayerKind::conv: {
        if (cur.h + 2 * l.pad < l.kernel_h || cur.w + 2 * l.pad < l.kernel_w)
          too_small(l.kernel_h - 2 * l.pad, l.kernel_w - 2 * l.pad);
        lp.out = {l.filters, (cur.h + 2 * l.pad - l.kernel_h) / l.stride + 1, (cur.w + 2 * l.pad - l.kernel_w) / l.stride + 1};
        lp.name = fmt::format("conv{}", ++n_conv);
        const int64_t fan_in = int64_t(cur.c) * l.kernel_h * l.kernel_w;
        lp.weight = add_param(lp.name + ".weight", {l.filters, cur.c, l.kernel_h, l.kernel_w}, fan_in);
        lp.bias = add_param(lp.name + ".bias", {l.filters}, fan_in);
        break;
      }
      case LayerKind::maxpool:
        if (cur.h + 2 * l.pad < l.window || cur.w + 2 * l.pad < l.window) too_small(l.window - 2 * l.pad, l.window - 2 * l.pad);
        lp.out = {cur.c, (cur.h + 2 * l.pad - l.window) / l.stride + 1, (cur.w + 2 * l.pad - l.window) / l.stride + 1};
        lp.name = fmt::format("pool{}", ++n_pool);
        break;
      case LayerKind::relu:
        lp.out = cur;
        lp.name = fmt::format("relu{}", ++n_relu);
        break;
      case LayerKind::lrn:
        lp.out = cur;
        lp.name = fmt::format("lrn{}", ++n_lrn);
        break;
      case LayerKind::fc: {
        lp.out = {l.units, 1, 1};
        lp.name = fmt::format("fc{}", ++n_fc);
        const int64_t fan_in = cur.size();
        lp.weight = add_param(lp.name + ".weight", {l.units, fan_in}, fan_in);
        lp.bias = add_param(lp.name + ".bias", {l.units}, fan_in);
        break;
      }
    }
    if (lp.out.size() > kMaxLayerValues)
      fail_input("model '{}' layer {} ({}) would produce {} values per image ({}); the limit is 2^28", spec.name, i + 1,
                 l.str(), lp.out.size(), lp.out.str());
    activations += lp.out.size();
    if (activations > kMaxActivationValues)
      fail_input("model '{}' layers 1..{} (up to {}) would produce {} activation values per image; the limit is 2^30 "
                 "(4 GiB of float32 per image)",
                 spec.name, i + 1, l.str(), activations, kMaxActivationValues);
    // Checked per layer, so that the count cannot overflow over many large layers.
    if (plan.param_count > kMaxParams)
      fail_input("model '{}' has {} parameters after layer {} ({}); the limit is 2^31 (8 GiB of float32 per buffer)",
                 spec.name, plan.param_count, i + 1, l.str());
    cur = lp.out;
    plan.layers.push_back(std::move(lp));
  }
  return plan;
}

std::vector<float> init_params(const ModelPlan& plan, uint64_t seed) {
  std::vector<float> params(size_t(plan.param_count));
  for (size_t t = 0; t < plan.params.size(); ++t) {
    const ParamTensor& p = plan.params[t];
    const double bound = 1.0 / std::sqrt(double(p.fan_in));
    Rng rng = Rng::stream(seed, t);
    for (int64_t i = 0; i < p.count; ++i) params[size_t(p.offset + i)] = float(rng.uniform(-bound, bound));
  }
  return params;
}

}  // namespace cnnb
