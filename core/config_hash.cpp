#include "core/config_hash.h"

#include <cstdint>

#include <fmt/format.h>

namespace cnnb {

std::string config_hash(const nlohmann::json& canonical) {
  // FNV-1a 64: tiny, stable, and enough to tell a few thousand configurations apart.
  const std::string text = canonical.dump();
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return fmt::format("{:016x}", h);
}

}  // namespace cnnb
