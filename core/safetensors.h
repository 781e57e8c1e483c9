#pragma once
// Weights on disk in the safetensors format (8-byte little-endian header length, a JSON header
// {name: {dtype, shape, data_offsets}, "__metadata__": {string: string}}, then the raw little-endian
// data), with the model's PyTorch names and layouts, so torch's load_state_dict takes them after a plain
// read (safetensors.torch.load_file) and a file PyTorch wrote loads here.
#include <cstdint>
#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/model_spec.h"

namespace cnnb {

// A header longer than this is refused before anything is allocated (the Rust reference reader's limit).
inline constexpr uint64_t kMaxSafetensorsHeader = 100'000'000;
// No tensor may claim more bytes than this (16 GiB: twice the largest flat parameter buffer a model plan
// allows), whatever the data offsets say.
inline constexpr uint64_t kMaxSafetensorsTensorBytes = uint64_t(1) << 34;

struct StTensor {
  std::string name;
  std::string dtype;  // "F32", "F64", "I64", ... (as in the file)
  std::vector<int64_t> shape;
  std::string bytes;  // raw little-endian data
  int64_t elements() const;
  std::vector<float> to_f32() const;  // requires dtype F32
};

struct StFile {
  std::map<std::string, std::string> metadata;
  std::vector<StTensor> tensors;  // in file order (ascending data offsets)
  const StTensor* find(std::string_view name) const;
};

// What one tensor to write: F32 data with a shape.
struct StTensorView {
  std::string_view name;
  std::span<const int64_t> shape;
  std::span<const float> data;
};

// Serialises tensors (in the given order) and metadata into the file format.
std::string encode_safetensors(std::span<const StTensorView> tensors, const std::map<std::string, std::string>& metadata);

// Parses a whole file's bytes; `where` names the file in messages. Every structural problem (header
// length vs size, bad JSON, unknown dtype, offsets out of range, overlapping or leaving gaps, a size that
// is not shape x dtype) throws InputError naming the file, the tensor and what was expected.
StFile decode_safetensors(std::string_view bytes, std::string_view where);

// Reads a file: checks the header length against the file size before reading anything else.
StFile read_safetensors(const std::filesystem::path& file);

// ---- model weights under their PyTorch names

std::string encode_weights(const ModelPlan& plan, std::span<const float> flat,
                           const std::map<std::string, std::string>& metadata = {});
// Written atomically (temporary name, then rename).
void save_weights(const std::filesystem::path& file, const ModelPlan& plan, std::span<const float> flat,
                  const std::map<std::string, std::string>& metadata = {});

// The flat parameter buffer from a file's tensors. Names, shapes and dtypes must match the plan exactly;
// otherwise InputError listing every difference (missing, extra, shape, dtype).
std::vector<float> weights_from(const StFile& f, const ModelPlan& plan, std::string_view where);
std::vector<float> load_weights(const std::filesystem::path& file, const ModelPlan& plan);

}  // namespace cnnb
