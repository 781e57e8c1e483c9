// Checkpoint reader. The first byte picks what the rest is:
//   even: a whole checkpoint file (safetensors with the state JSON and a CRC32C in its metadata);
//   odd:  the state JSON only, wrapped here into a file with a correct checksum and two replicas' tensors.
// Without the second form the fuzzer would almost never get past the checksum to the state's fields.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "bench/harness/checkpoint.h"
#include "core/crc32c.h"
#include "core/error.h"
#include "core/safetensors.h"

namespace {

constexpr int64_t kParams = 4;

// The fingerprint the seed corpus was written with (tests/fuzz/make_corpus).
nlohmann::json fingerprint() {
  return {{"model_spec", "fc4"}, {"input", "1x1x1"}, {"classes", 4}, {"params", kParams}, {"optimizer", "sgd"},
          {"batch", 8},          {"seed", 42},       {"replicas", 2}};
}

std::string wrap_state(std::string_view state) {
  const std::array<float, kParams> values = {0.5F, -1.0F, 2.0F, 0.0F};
  const std::array<int64_t, 1> shape = {kParams};
  const std::array<std::string_view, 3> names = {"replica0.params", "replica0.optimizer.state0", "replica1.params"};
  std::vector<cnnb::StTensorView> views;
  uint32_t crc = cnnb::crc32c(state);
  for (const auto name : names) {
    views.push_back({name, shape, values});
    crc = cnnb::crc32c(std::string_view(reinterpret_cast<const char*>(values.data()), sizeof(values)), crc);
  }
  return cnnb::encode_safetensors(views, {{"cnnbench.checkpoint", std::string(state)},
                                          {"cnnbench.crc32c", fmt::format("{:08x}", crc)}});
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::string file;
  try {
    file = data[0] % 2 ? wrap_state(rest) : std::string(rest);
  } catch (const nlohmann::json::type_error&) {
    return 0;  // not valid UTF-8: the writer stores only its own dump() of the state, which always is
  }
  try {
    const cnnb::CheckpointState s = cnnb::decode_checkpoint(file, "fuzz.safetensors", fingerprint());
    for (const auto& r : s.replicas)
      if (r.params.size() != uint64_t(kParams)) __builtin_trap();
  } catch (const cnnb::InputError&) {
  }
  return 0;
}
