// CIFAR-10 binary batches: fixed 3073-byte records (label, then a 3x32x32 CHW image). Every file's size is
// checked first, so the split is allocated once at its final size and filled in place.
#include <fmt/format.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>
#include <system_error>

#include "core/error.h"
#include "datasets/dataset.h"

namespace cnnb {
namespace fs = std::filesystem;

namespace {

constexpr Shape kCifarShape{3, 32, 32};
constexpr uint64_t kImageBytes = 3 * 32 * 32;
constexpr uint64_t kRecordBytes = 1 + kImageBytes;
constexpr int kCifarClasses = 10;
constexpr int kTrainBatches = 5;

// Records in `file`, or an error naming it when it is missing or not made of whole records.
uint64_t record_count(const fs::path& file) {
  std::error_code ec;
  const uint64_t size = fs::file_size(file, ec);
  if (ec) fail_input("{}: cannot read CIFAR-10 batch ({})", file.string(), ec.message());
  if (size == 0 || size % kRecordBytes != 0)
    fail_input("{}: size {} bytes is not a positive multiple of the {}-byte CIFAR-10 record (1 label byte + 3x32x32 "
               "image bytes)",
               file.string(), size, kRecordBytes);
  return size / kRecordBytes;
}

void reserve_records(Split& split, uint64_t extra, const fs::path& file) {
  const uint64_t total = uint64_t(split.count()) + extra;
  if (total * kImageBytes > kMaxDatasetBytes)
    fail_input("{}: {} CIFAR-10 records in this split would be {} bytes, more than the {} byte limit", file.string(),
               total, total * kImageBytes, kMaxDatasetBytes);
  split.images.reserve(total * kImageBytes);
  split.labels.reserve(total);
}

// Appends `count` records (already validated against the file size) to `split`.
void read_records(const fs::path& file, uint64_t count, Split& split) {
  const std::string name = file.string();
  std::ifstream in(file, std::ios::binary);
  if (!in) fail_input("{}: cannot open CIFAR-10 batch ({})", name, std::strerror(errno));
  const uint64_t first_image = split.images.size();
  split.images.resize(first_image + count * kImageBytes);
  for (uint64_t i = 0; i < count; ++i) {
    char label = 0;
    in.read(&label, 1);
    in.read(reinterpret_cast<char*>(split.images.data() + first_image + i * kImageBytes), kImageBytes);
    if (!in)
      fail_input("{}: file ends inside record {}; expected {} records of {} bytes", name, i, count, kRecordBytes);
    const auto value = uint8_t(label);
    if (value >= kCifarClasses)
      fail_input("{}: record {} has label {}; expected 0..{}", name, i, value, kCifarClasses - 1);
    split.labels.push_back(value);
  }
}

}  // namespace

void read_cifar10_batch(const fs::path& file, Split& split) {
  CNNB_CHECK(split.images.size() == uint64_t(split.count()) * kImageBytes,
             "read_cifar10_batch: split holds {} image bytes for {} labels, not 3x32x32 images", split.images.size(),
             split.count());
  const uint64_t count = record_count(file);
  reserve_records(split, count, file);
  read_records(file, count, split);
}

Dataset load_cifar10_dir(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    fail_input("CIFAR-10 directory {} not found; expected a directory holding data_batch_1.bin..data_batch_{}.bin and "
               "test_batch.bin (the binary version, cifar-10-binary.tar.gz)",
               dir.string(), kTrainBatches);

  std::array<fs::path, kTrainBatches> train_files;
  std::array<uint64_t, kTrainBatches> train_counts{};
  uint64_t train_total = 0;
  for (int b = 0; b < kTrainBatches; ++b) {
    train_files[size_t(b)] = dir / fmt::format("data_batch_{}.bin", b + 1);
    train_counts[size_t(b)] = record_count(train_files[size_t(b)]);
    train_total += train_counts[size_t(b)];
  }
  const fs::path test_file = dir / "test_batch.bin";
  const uint64_t test_count = record_count(test_file);

  Dataset ds;
  ds.name = "cifar10:" + dir.string();
  ds.source = dir.string();
  ds.shape = kCifarShape;
  ds.classes = kCifarClasses;
  reserve_records(ds.train, train_total, train_files.back());
  for (int b = 0; b < kTrainBatches; ++b) read_records(train_files[size_t(b)], train_counts[size_t(b)], ds.train);
  reserve_records(ds.test, test_count, test_file);
  read_records(test_file, test_count, ds.test);
  return ds;
}

}  // namespace cnnb
