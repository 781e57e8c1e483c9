#pragma once
// Which GPUs a build's kernels run on (CUDA Programming Guide, "Binary Compatibility"): SASS built for
// compute capability X.Y runs on X.Z for Z >= Y, the same major version, on desktop and server GPUs; a
// Tegra GPU (Jetson, Thor) runs SASS built for exactly its own capability, and an architecture-specific
// target ("90a") runs on exactly its own. PTX for X.Y is JIT-compiled by the driver for any capability
// >= X.Y (when the driver is at least as new as the toolkit that wrote it). A GPU that nothing covers
// fails its first kernel launch with "no kernel image is available for execution on the device", so
// `cnnbench list` says so first.
#include <string>
#include <string_view>
#include <vector>

namespace cnnb::cuda {

struct BuiltArchitectures {
  std::vector<int> sass, ptx;  // 10 * major + minor: 75, 90, 120
  std::vector<int> exact;      // architecture-specific SASS ("90a"): that capability only
  bool known = true;           // false for lists CMake expands itself ("native", "all")
};

// CMAKE_CUDA_ARCHITECTURES as the build wrote it, entries separated by ',' or ';': "75-real,90"
// (plain = SASS and PTX, -real = SASS, -virtual = PTX; an "a" suffix: SASS for that GPU only; an "f"
// suffix: SASS for its family, the same major version).
BuiltArchitectures parse_architectures(std::string_view list);

// This build's, from the configure (empty in a build without CUDA).
std::string_view built_architectures();

// "" when a GPU of compute capability major.minor runs this code; otherwise one line saying that its
// kernels cannot run there and how to rebuild.
std::string architecture_warning(const BuiltArchitectures& built, std::string_view list, int major, int minor);

}  // namespace cnnb::cuda
