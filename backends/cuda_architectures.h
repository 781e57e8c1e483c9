#pragma once
// Which GPUs a build's kernels run on: SASS built for compute capability X.Y runs on X.Z for Z >= Y (the
// same major version); PTX for X.Y is JIT-compiled by the driver for any capability >= X.Y. A GPU that
// neither covers fails on its first kernel launch, so `cnnbench list` says so first.
#include <string>
#include <string_view>
#include <vector>

namespace cnnb::cuda {

struct BuiltArchitectures {
  std::vector<int> sass, ptx;  // 10 * major + minor: 75, 90, 120
  bool known = true;           // false for lists CMake expands itself ("native", "all")
};

// CMAKE_CUDA_ARCHITECTURES as the build wrote it, entries separated by ',' or ';': "75-real,90"
// (plain = SASS and PTX, -real = SASS, -virtual = PTX).
BuiltArchitectures parse_architectures(std::string_view list);

// This build's, from the configure (empty in a build without CUDA).
std::string_view built_architectures();

// "" when a GPU of compute capability major.minor runs this code; otherwise one line saying that its
// kernels cannot run there and what to rebuild with.
std::string architecture_warning(const BuiltArchitectures& built, std::string_view list, int major, int minor);

}  // namespace cnnb::cuda
