// Synthetic data for timing without I/O that a model can still learn: each class has a seeded prototype
// image, each sample is its class's prototype plus seeded per-pixel noise.
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/rng.h"
#include "datasets/dataset.h"

namespace cnnb {

namespace {

constexpr std::string_view kForm = "synthetic:n=N,shape=CxHxW,classes=K[,test=M]";
// Independent streams of one seed: prototypes are shared by both splits, the noise is not.
constexpr uint64_t kPrototypeStream = 0, kTrainStream = 1, kTestStream = 2;
// Noise in [-kNoise, kNoise] leaves classes separable yet no two samples alike.
constexpr int kNoise = 48;
// Prototypes are constant over cells of about 1/8 of the image, so they survive pooling.
constexpr int kCellsPerSide = 8;
constexpr int64_t kMaxSide = 1 << 16;
constexpr int64_t kMaxClasses = 1 << 16;

struct SyntheticSpec {
  int64_t n = 0, test = 0, classes = 0;
  Shape shape;
};

std::optional<int64_t> parse_int(std::string_view text) {
  int64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return v;
}

int64_t parse_positive(std::string_view spec, std::string_view key, std::string_view value) {
  const auto v = parse_int(value);
  if (!v)
    fail_input("synthetic spec '{}': {}={} is not an integer; expected a positive integer", spec, key, value);
  if (*v <= 0) fail_input("synthetic spec '{}': {}={} must be positive; expected a positive integer", spec, key, value);
  return *v;
}

Shape parse_shape(std::string_view spec, std::string_view value) {
  std::vector<int64_t> dims;
  bool ok = true;
  for (size_t start = 0; ok && start <= value.size();) {
    const size_t x = std::min(value.find('x', start), value.size());
    const auto part = parse_int(value.substr(start, x - start));
    ok = part && *part > 0 && *part <= kMaxSide;
    if (ok) dims.push_back(*part);
    start = x + 1;
  }
  if (!ok || dims.size() != 3)
    fail_input("synthetic spec '{}': shape={} is not CxHxW; expected three positive integers up to {}, e.g. "
               "shape=1x28x28",
               spec, value, kMaxSide);
  return Shape{int(dims[0]), int(dims[1]), int(dims[2])};
}

SyntheticSpec parse_spec(std::string_view spec) {
  const size_t colon = spec.find(':');
  const std::string_view args = colon == std::string_view::npos ? std::string_view() : spec.substr(colon + 1);
  std::optional<int64_t> n, test, classes;
  std::optional<Shape> shape;
  size_t start = 0;
  while (start <= args.size() && !args.empty()) {
    const size_t comma = std::min(args.find(',', start), args.size());
    const std::string_view item = args.substr(start, comma - start);
    start = comma + 1;
    const size_t eq = item.find('=');
    if (eq == std::string_view::npos)
      fail_input("synthetic spec '{}': '{}' is not key=value; expected {}", spec, item, kForm);
    const std::string_view key = item.substr(0, eq), value = item.substr(eq + 1);
    const auto once = [&](const auto& slot) {
      if (slot) fail_input("synthetic spec '{}': {} is given twice; expected it once", spec, key);
    };
    if (key == "n") {
      once(n);
      n = parse_positive(spec, key, value);
    } else if (key == "test") {
      once(test);
      test = parse_positive(spec, key, value);
    } else if (key == "classes") {
      once(classes);
      classes = parse_positive(spec, key, value);
      if (*classes < 2 || *classes > kMaxClasses)
        fail_input("synthetic spec '{}': classes={}; expected 2 to {} classes", spec, value, kMaxClasses);
    } else if (key == "shape") {
      once(shape);
      shape = parse_shape(spec, value);
    } else {
      fail_input("synthetic spec '{}': unknown key '{}'; expected n, shape, classes and optionally test ({})", spec,
                 key, kForm);
    }
  }
  for (const auto& [missing, key] : {std::pair{!n, "n"}, {!shape, "shape"}, {!classes, "classes"}})
    if (missing) fail_input("synthetic spec '{}': missing {}=...; expected {}", spec, key, kForm);

  SyntheticSpec s{*n, test.value_or(std::max<int64_t>(1, *n / 5)), *classes, *shape};
  // 128-bit: n and test are any positive int64 here, the shape up to 2^48 bytes.
  const auto total = (unsigned __int128)(uint64_t(s.n) + uint64_t(s.test) + uint64_t(s.classes)) *
                     uint64_t(s.shape.size());
  if (total > kMaxDatasetBytes)
    fail_input("synthetic spec '{}': n={} + test={} images (+ {} prototypes) of {} bytes each are more than the {} "
               "byte limit",
               spec, s.n, s.test, s.classes, s.shape.size(), kMaxDatasetBytes);
  return s;
}

std::vector<uint8_t> make_prototypes(const SyntheticSpec& s, uint64_t seed) {
  const Shape sh = s.shape;
  const int cell_h = std::max(1, (sh.h + kCellsPerSide - 1) / kCellsPerSide);
  const int cell_w = std::max(1, (sh.w + kCellsPerSide - 1) / kCellsPerSide);
  const int cells_h = (sh.h + cell_h - 1) / cell_h, cells_w = (sh.w + cell_w - 1) / cell_w;
  Rng rng = Rng::stream(seed, kPrototypeStream);
  std::vector<uint8_t> cells(size_t(cells_h) * cells_w);
  std::vector<uint8_t> protos(size_t(s.classes) * size_t(sh.size()));
  uint8_t* p = protos.data();
  for (int64_t k = 0; k < s.classes; ++k)
    for (int c = 0; c < sh.c; ++c) {
      for (auto& v : cells) v = uint8_t(rng.below(256));
      for (int y = 0; y < sh.h; ++y)
        for (int x = 0; x < sh.w; ++x) *p++ = cells[size_t(y / cell_h) * cells_w + size_t(x / cell_w)];
    }
  return protos;
}

Split make_split(const SyntheticSpec& s, const std::vector<uint8_t>& protos, int64_t count, Rng rng) {
  const auto size = size_t(s.shape.size());
  Split split;
  split.images.resize(size_t(count) * size);
  split.labels.resize(size_t(count));
  for (int64_t i = 0; i < count; ++i) {
    const auto label = int32_t(i % s.classes);  // balanced; epochs are shuffled by epoch_permutation
    split.labels[size_t(i)] = label;
    const uint8_t* proto = protos.data() + size_t(label) * size;
    uint8_t* out = split.images.data() + size_t(i) * size;
    for (size_t j = 0; j < size; ++j) {
      const int noise = int(rng.below(2 * kNoise + 1)) - kNoise;
      out[j] = uint8_t(std::clamp(int(proto[j]) + noise, 0, 255));
    }
  }
  return split;
}

}  // namespace

Dataset make_synthetic(std::string_view spec, uint64_t seed) {
  const SyntheticSpec s = parse_spec(spec);
  const std::vector<uint8_t> protos = make_prototypes(s, seed);
  Dataset ds;
  ds.name = std::string(spec);
  ds.source = fmt::format("generated (seed {})", seed);
  ds.shape = s.shape;
  ds.classes = int(s.classes);
  ds.train = make_split(s, protos, s.n, Rng::stream(seed, kTrainStream));
  ds.test = make_split(s, protos, s.test, Rng::stream(seed, kTestStream));
  return ds;
}

}  // namespace cnnb
