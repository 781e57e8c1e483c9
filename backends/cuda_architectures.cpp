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
    // "90a" and "100f" carry architecture-specific features: counted as SASS for that GPU only.
    if (suffix != "-virtual") out.sass.push_back(arch);
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

std::string architecture_warning(const BuiltArchitectures& built, std::string_view list, int major, int minor) {
  if (!built.known) return "";
  const int cc = 10 * major + minor;
  const bool sass = std::any_of(built.sass.begin(), built.sass.end(),
                                [&](int a) { return a / 10 == major && a % 10 <= minor; });
  const bool ptx = std::any_of(built.ptx.begin(), built.ptx.end(), [&](int a) { return a <= cc; });
  if (sass || ptx) return "";
  return fmt::format(
      "this build's GPU code ({}) cannot run on compute capability {}.{}: rebuild with "
      "-DCMAKE_CUDA_ARCHITECTURES={}{} (or configure on this machine, which asks nvidia-smi)",
      list.empty() ? "none" : list, major, minor, major, minor);
}

}  // namespace cnnb::cuda
