// The dataset spec dispatch, and what every training step uses: the epoch order and batch assembly.
#include "datasets/dataset.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <numeric>
#include <utility>

#include "core/error.h"
#include "core/rng.h"

namespace cnnb {

std::vector<std::string> dataset_spec_forms() {
  return {"fashion-mnist", "mnist:DIR", "cifar10:DIR", "synthetic:n=N,shape=CxHxW,classes=K[,test=M]"};
}

Dataset load_dataset(std::string_view spec, uint64_t seed) {
  const size_t colon = spec.find(':');
  const std::string_view kind = spec.substr(0, colon);
  const std::string_view arg = colon == std::string_view::npos ? std::string_view() : spec.substr(colon + 1);
  const auto need_dir = [&] {
    if (arg.empty()) fail_input("dataset '{}': {} needs a directory; expected {}:DIR", spec, kind, kind);
    return std::filesystem::path(arg);
  };

  Dataset ds;
  if (kind == "fashion-mnist") {
    if (colon != std::string_view::npos)
      fail_input("dataset '{}': fashion-mnist takes no directory (it reads {}); use mnist:DIR for IDX files elsewhere",
                 spec, kFashionMnistDir);
    ds = load_mnist_dir(kFashionMnistDir, true);
  } else if (kind == "mnist") {
    ds = load_mnist_dir(need_dir(), false);
  } else if (kind == "cifar10") {
    ds = load_cifar10_dir(need_dir());
  } else if (kind == "synthetic") {
    ds = make_synthetic(spec, seed);
  } else {
    fail_input("unknown dataset '{}'; expected one of: {}", spec, fmt::join(dataset_spec_forms(), ", "));
  }
  ds.name = std::string(spec);
  return ds;
}

std::vector<int64_t> epoch_permutation(int64_t n, uint64_t seed, int epoch) {
  CNNB_CHECK(n >= 0 && epoch >= 0, "epoch_permutation: n = {} and epoch = {} must not be negative", n, epoch);
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), int64_t(0));
  Rng rng = Rng::stream(seed, uint64_t(epoch));
  for (int64_t i = n - 1; i > 0; --i) std::swap(order[size_t(i)], order[rng.below(uint64_t(i) + 1)]);
  return order;
}

void build_batch(const Split& split, Shape shape, std::span<const int64_t> indices, float* x, int32_t* y) {
  const auto size = size_t(shape.size());
  CNNB_CHECK(split.images.size() == size_t(split.count()) * size,
             "build_batch: split holds {} image bytes for {} labels of shape {}", split.images.size(), split.count(),
             shape.str());
  for (size_t i = 0; i < indices.size(); ++i) {
    const int64_t idx = indices[i];
    CNNB_CHECK(idx >= 0 && idx < split.count(), "build_batch: index {} is outside the split of {} images", idx,
               split.count());
    const uint8_t* src = split.images.data() + size_t(idx) * size;
    float* dst = x + i * size;
    for (size_t j = 0; j < size; ++j) dst[j] = float(src[j]) / 255.0f;
    y[i] = split.labels[size_t(idx)];
  }
}

}  // namespace cnnb
