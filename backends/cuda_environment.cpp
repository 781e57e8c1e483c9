#include "backends/cuda_environment.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

namespace cnnb::cuda {

namespace {

constexpr const char* kNotBuilt = "this cnnbench was built without CUDA (configure with the `cuda` preset)";

nlohmann::json string_or_null(const std::string& v) { return v.empty() ? nlohmann::json(nullptr) : nlohmann::json(v); }

nlohmann::json library_json(const LibraryVersion& v, std::string (*decode)(long long)) {
  if (v.built == 0 && v.loaded == 0) return nullptr;
  return {{"built", string_or_null(decode(v.built))}, {"loaded", string_or_null(decode(v.loaded))}};
}

nlohmann::json cuda_version_or_null(int v) { return v > 0 ? nlohmann::json(cuda_version_string(v)) : nlohmann::json(nullptr); }

// Records are read back from files of any age: a field of another type counts as absent.
std::string text(const nlohmann::json& j, const char* key) {
  if (!j.is_object()) return "";
  const auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return "";
  const std::string s = it->get<std::string>();
  return s == "none" ? "" : s;
}

double number(const nlohmann::json& j, const char* key) {
  const auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<double>() : 0.0;
}

std::string loaded_and_built(const std::string& loaded, const std::string& built) {
  if (loaded.empty() && built.empty()) return "not in this build";
  if (built.empty()) return loaded + " loaded";
  if (loaded.empty()) return fmt::format("built against {}, loaded version unknown", built);
  return fmt::format("{} loaded, built against {}{}", loaded, built, loaded == built ? "" : " (they differ)");
}

std::string library_line(const nlohmann::json& cuda, const char* name, const char* key) {
  const auto it = cuda.find(key);
  if (it == cuda.end()) return fmt::format("{}: not recorded", name);
  if (!it->is_object()) return fmt::format("{}: not in this build", name);
  return fmt::format("{}: {}", name, loaded_and_built(text(*it, "loaded"), text(*it, "built")));
}

std::string gpu_line(const nlohmann::json& g) {
  constexpr double kGiB = 1024.0 * 1024.0 * 1024.0, kMiB = 1024.0 * 1024.0;
  return fmt::format("gpu:{} {}: compute capability {}, {:.1f} GiB, {} SMs, L2 {:.1f} MiB, PCI {}",
                     static_cast<long long>(number(g, "ordinal")), text(g, "name"), text(g, "compute_capability"),
                     number(g, "memory_bytes") / kGiB, static_cast<long long>(number(g, "sm_count")),
                     number(g, "l2_cache_bytes") / kMiB, text(g, "pci_bus_id"));
}

std::string driver_line(const nlohmann::json& cuda) {
  const std::string supports = text(cuda, "driver_version"), release = text(cuda, "driver_release");
  if (supports.empty()) return release.empty() ? "driver: none" : fmt::format("driver: {}", release);
  return fmt::format("driver: {}, supports CUDA up to {}", release.empty() ? "release unknown" : release, supports);
}

}  // namespace

std::string no_gpu_reason(const CudaEnv& env) {
  if (!env.gpus.empty()) return "";
  if (!env.built_with_cuda) return kNotBuilt;
  switch (env.error_code) {
    case err::success:
      return "the CUDA runtime reports 0 devices";
    case err::insufficient_driver:
      if (env.driver_version <= 0)
        return "no NVIDIA driver is installed (cudaErrorInsufficientDriver, and cudaDriverGetVersion reports none)";
      if (env.driver_version < env.runtime_version)
        return fmt::format(
            "the driver is older than the CUDA runtime: it supports CUDA {}, cnnbench's runtime is CUDA {} "
            "(cudaErrorInsufficientDriver); install a driver for CUDA {} or newer",
            cuda_version_string(env.driver_version), cuda_version_string(env.runtime_version),
            cuda_version_string(env.runtime_version));
      return fmt::format("the driver (CUDA {}) refuses the CUDA runtime {} (cudaErrorInsufficientDriver)",
                         cuda_version_string(env.driver_version), cuda_version_string(env.runtime_version));
    case err::stub_library:
      return "the libcuda.so loaded is the CUDA toolkit's stub, not a driver (cudaErrorStubLibrary): install the NVIDIA "
             "driver, or take the toolkit's stubs directory out of LD_LIBRARY_PATH";
    case err::no_device:
      return fmt::format("the driver found no CUDA GPU (cudaErrorNoDevice){}",
                         env.visible_devices ? fmt::format("; CUDA_VISIBLE_DEVICES={} may hide them", *env.visible_devices)
                                             : std::string());
    case err::devices_unavailable:
      return "every GPU is busy or in a compute mode that refuses this process (cudaErrorDevicesUnavailable; see "
             "nvidia-smi's compute mode)";
    case err::system_not_ready:
      return "the system is not ready for CUDA work (cudaErrorSystemNotReady): a daemon the driver needs, such as "
             "nvidia-fabricmanager, is not running";
    case err::system_driver_mismatch:
      return "the NVIDIA kernel module and the user-space driver library have different versions "
             "(cudaErrorSystemDriverMismatch): reboot after a driver update, or reinstall the driver";
    case err::compat_not_supported:
      return "the CUDA forward-compatibility libraries in use do not support this GPU "
             "(cudaErrorCompatNotSupportedOnDevice)";
    default:
      if (env.error_name.empty()) return fmt::format("cudaGetDeviceCount failed with error {}", env.error_code);
      return env.error_text.empty() ? env.error_name : fmt::format("{} ({})", env.error_name, env.error_text);
  }
}

bool cuda_flag(const nlohmann::json& cuda, const char* key, bool otherwise) {
  if (!cuda.is_object()) return otherwise;
  const auto it = cuda.find(key);
  return it != cuda.end() && it->is_boolean() ? it->get<bool>() : otherwise;
}

std::vector<std::string> environment_lines(const nlohmann::json& cuda) {
  if (!cuda.is_object() || !cuda_flag(cuda, "built_with_cuda", true))
    return {fmt::format("no usable GPU: {}", kNotBuilt)};
  if (!cuda_flag(cuda, "queried", true)) return {fmt::format("not queried: {}", text(cuda, "reason"))};
  std::vector<std::string> lines;
  const auto gpus = cuda.find("gpus");
  const bool any = gpus != cuda.end() && gpus->is_array() && !gpus->empty();
  if (any)
    for (const auto& g : *gpus)
      if (g.is_object()) lines.push_back(gpu_line(g));
  std::string reason = text(cuda, "reason");
  if (reason.empty() && !cuda.contains("reason")) reason = text(cuda, "error");  // records before "reason"
  if (!any) lines.push_back(fmt::format("no usable GPU: {}", reason.empty() ? "unknown" : reason));
  else if (!reason.empty()) lines.push_back(fmt::format("not queried: {}", reason));
  lines.push_back(driver_line(cuda));
  lines.push_back(fmt::format("CUDA runtime: {}", loaded_and_built(text(cuda, "runtime_version"), text(cuda, "runtime_built"))));
  lines.push_back(library_line(cuda, "cuBLAS", "cublas"));
  lines.push_back(library_line(cuda, "cuDNN", "cudnn"));
  lines.push_back(library_line(cuda, "NCCL", "nccl"));
  if (const auto v = cuda.find("visible_devices"); v != cuda.end() && v->is_string())
    lines.push_back(fmt::format("CUDA_VISIBLE_DEVICES={}", v->get<std::string>()));
  return lines;
}

std::string summary(const CudaEnv& env) {
  std::string s = fmt::format("CUDA: {} GPU(s)", env.gpus.size());
  for (const auto& line : environment_lines(nlohmann::json(env))) s += "\n  " + line;
  return s;
}

void to_json(nlohmann::json& j, const GpuInfo& g) {
  j = {{"ordinal", g.ordinal},
       {"name", g.name},
       {"compute_capability", fmt::format("{}.{}", g.cc_major, g.cc_minor)},
       {"memory_bytes", g.total_memory},
       {"sm_count", g.sm_count},
       {"l2_cache_bytes", g.l2_cache},
       {"pci_bus_id", g.pci_bus_id}};
}

void to_json(nlohmann::json& j, const CudaEnv& e) {
  j = {{"built_with_cuda", e.built_with_cuda},
       {"queried", e.queried},
       {"driver_version", cuda_version_or_null(e.driver_version)},
       {"driver_release", string_or_null(e.driver_release)},
       {"runtime_version", cuda_version_or_null(e.runtime_version)},
       {"runtime_built", cuda_version_or_null(e.runtime_built)},
       {"cublas", library_json(e.cublas, cublas_version_string)},
       {"cudnn", library_json(e.cudnn, cudnn_version_string)},
       {"nccl", library_json(e.nccl, nccl_version_string)},
       {"visible_devices", e.visible_devices ? nlohmann::json(*e.visible_devices) : nlohmann::json(nullptr)},
       {"gpus", e.gpus},
       {"error", string_or_null(e.error_name)},
       {"reason", string_or_null(e.error)}};
}

}  // namespace cnnb::cuda

