#pragma once
// Datasets: images stay uint8 in memory (Fashion-MNIST's 60k x 784 B = 47 MB) and are normalised only
// when a batch is built.
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/shape.h"

namespace cnnb {

struct Split {
  std::vector<uint8_t> images;  // count * shape.size() bytes, CHW per image
  std::vector<int32_t> labels;  // count labels in [0, classes)
  int64_t count() const { return int64_t(labels.size()); }
};

struct Dataset {
  std::string name;    // the spec it was loaded from, e.g. "fashion-mnist", "synthetic:n=512,shape=1x28x28,classes=10"
  std::string source;  // where it came from: a directory, or "generated (seed S)"
  Shape shape;         // one image
  int classes = 0;
  Split train, test;
};

// Loads a dataset from a spec:
//   fashion-mnist                      /usr/share/datasets/fashion-mnist (Debian package dataset-fashion-mnist)
//   mnist:DIR                          IDX files (raw or .gz) in DIR
//   cifar10:DIR                        CIFAR-10 binary batches (data_batch_1..5.bin, test_batch.bin) in DIR
//   synthetic:n=N,shape=CxHxW,classes=K[,test=M]   seeded, learnable (class prototypes + noise)
// Any problem throws InputError naming the file or the spec field, what was found and what was expected.
Dataset load_dataset(std::string_view spec, uint64_t seed);

// The spec forms above, for `cnnbench list` and error messages.
std::vector<std::string> dataset_spec_forms();

// A seeded permutation of [0, n) for one epoch: same (seed, epoch) -> same order.
std::vector<int64_t> epoch_permutation(int64_t n, uint64_t seed, int epoch);

// Builds a batch: x[i] = image[indices[i]] / 255 (float, CHW), y[i] = label[indices[i]].
void build_batch(const Split& split, Shape shape, std::span<const int64_t> indices, float* x, int32_t* y);

// ---- readers (exposed for tests)

// No dataset file may describe more than this many bytes: a corrupt header must not make us allocate.
inline constexpr uint64_t kMaxDatasetBytes = uint64_t(1) << 32;

// Where Debian's dataset-fashion-mnist package installs the IDX files.
inline constexpr std::string_view kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

struct IdxArray {
  std::vector<int64_t> dims;  // e.g. {60000, 28, 28} or {60000}
  std::vector<uint8_t> data;
};
// Reads an IDX file of unsigned bytes (type 0x08), raw or gzip-compressed (detected by content).
// expected_rank 3 (images, magic 0x00000803) or 1 (labels, 0x00000801) rejects other files by their
// magic before any data is read; 0 accepts any rank.
IdxArray read_idx(const std::filesystem::path& file, int expected_rank = 0);

// The four IDX files of an MNIST-format dataset in `dir` (train-images-idx3-ubyte[.gz], ...).
// `fashion` names Debian's dataset-fashion-mnist package when the directory is missing.
Dataset load_mnist_dir(const std::filesystem::path& dir, bool fashion);

// Appends one CIFAR-10 binary batch (records of 1 label byte + 3072 image bytes) to `split`.
void read_cifar10_batch(const std::filesystem::path& file, Split& split);

// data_batch_1.bin..data_batch_5.bin (train) and test_batch.bin (test) in `dir`.
Dataset load_cifar10_dir(const std::filesystem::path& dir);

// spec = "synthetic:n=N,shape=CxHxW,classes=K[,test=M]"; the same (spec, seed) gives identical bytes.
Dataset make_synthetic(std::string_view spec, uint64_t seed);

}  // namespace cnnb
