#include "backends/cuda_architectures.h"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

namespace cnnb::cuda {

BuiltArchitectures parse_architectures(std::string_view list) {
  BuiltArchitectures out;
  while (!list.empty()) {
    const size_t end = list.find_first_of(",;");
    std::string_view entry = list.substr(0, end);
    list = end == std::string_view::npos ? std::string_view{} : list.substr(end + 1);
    if (entry.empty()) continue;
    int arch = 0;
    const auto [rest, ec] = std::from_chars(entry.data(), entry.data() + entry.size(), arch);
    if (ec != std::errc()) {
      out.known = false;  // native, all, all-major: what they became is not recorded
      continue;
    }
    const std::string_view suffix(rest, size_t(entry.data() + entry.size() - rest));
    // The PTX of "90a" and "100f" is not forward-compatible: only their SASS is counted.
    if (suffix.rfind('a', 0) == 0)
      out.exact.push_back(arch);
    else if (suffix != "-virtual")
      out.sass.push_back(arch);
    if (suffix.empty() || suffix == "-virtual") out.ptx.push_back(arch);
  }
  return out;
}

std::string_view built_architectures() {
#ifdef CNNB_CUDA_ARCHITECTURES
  return CNNB_CUDA_ARCHITECTURES;
#else
  return "";
#endif
}

namespace {

// Jetson (5.3, 6.2, 7.2, 8.7) and Thor (10.1 before CUDA 13, 11.0 from it).
bool tegra(int cc) { return cc == 53 || cc == 62 || cc == 72 || cc == 87 || cc == 101 || cc == 110; }

}  // namespace

std::string architecture_warning(const BuiltArchitectures& built, std::string_view list, int major, int minor) {
  if (!built.known) return "";
  const int cc = 10 * major + minor;
  const auto has = [](const std::vector<int>& v, auto pred) { return std::any_of(v.begin(), v.end(), pred); };
  const bool sass = has(built.sass, [&](int a) {
    return tegra(cc) || tegra(a) ? a == cc : a / 10 == major && a % 10 <= minor;
  });
  const bool exact = has(built.exact, [&](int a) { return a == cc; });
  const bool ptx = has(built.ptx, [&](int a) { return a <= cc; });
  if (sass || exact || ptx) return "";
  std::string shown(list.empty() ? "none" : list);
  std::replace(shown.begin(), shown.end(), ',', ';');
  return fmt::format(
      "this build has no GPU code for compute capability {0}.{1} (it has {2}): its kernels would fail with \"no "
      "kernel image is available\"; rebuild with -DCMAKE_CUDA_ARCHITECTURES=\"{2};{0}{1}\", or configure without "
      "it (-UCMAKE_CUDA_ARCHITECTURES, no CUDAARCHS) to build for the GPUs nvidia-smi shows",
      major, minor, shown);
}

}  // namespace cnnb::cuda
