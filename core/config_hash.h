#pragma once
// The key that ties a run record to its configuration: written by sweeps and searches, read by reports
// (which must not depend on the code that runs them).
#include <string>

#include <nlohmann/json.hpp>

namespace cnnb {

// 16 hex digits of FNV-1a 64 over the canonical JSON text (object keys sorted): stable across runs,
// machines and the order the grid was written in.
std::string config_hash(const nlohmann::json& canonical);

}  // namespace cnnb
