#include "core/gpu_module.h"

#include <dlfcn.h>

#include <array>
#include <atomic>
#include <filesystem>
#include <mutex>
#include <utility>

#include <fmt/format.h>

#include "core/error.h"

namespace cnnb {

namespace {

#if CNNB_HAVE_CUDA
constexpr bool kInBuild = true;
constexpr int kCudaMajor = CNNB_CUDA_MAJOR;
constexpr const char* kModuleFile = CNNB_GPU_MODULE_FILE;
#else
constexpr bool kInBuild = false;
constexpr int kCudaMajor = 0;
constexpr const char* kModuleFile = "";
#endif

// The module is built beside libcnnbench.so (CMake puts both in the build's top folder), so it is
// looked for next to the library that holds this function, wherever the program runs from.
std::filesystem::path module_path() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<const void*>(&module_path), &info) == 0 || info.dli_fname == nullptr)
    return kModuleFile;
  return std::filesystem::path(info.dli_fname).parent_path() / kModuleFile;
}

// One per process: the dynamic loader's handle is process-wide, and the module is never unloaded
// (unloading CUDA's libraries while their threads may still run is unsafe).
class Loader {
 public:
  static Loader& instance() {
    static Loader loader;
    return loader;
  }

  const std::string& unavailable() {
    std::call_once(once_, [this] {
      try {
        load();
      } catch (const std::exception& e) {
        error_ = fmt::format("the GPU module could not be loaded: {}", e.what());
      }
      tried_.store(true, std::memory_order_release);
    });
    return error_;
  }
  bool loaded() const { return loaded_.load(std::memory_order_acquire); }
  bool tried() const { return tried_.load(std::memory_order_acquire); }
  void* handle() const { return handle_; }

 private:
  void load() {
    if (!kInBuild) {
      error_ = "this cnnbench was built without CUDA (configure with the `cuda` preset)";
      return;
    }
    const std::filesystem::path path = module_path();
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) {
      error_ = ec ? fmt::format("the GPU module {} cannot be read: {}", path.string(), ec.message())
                  : fmt::format("the GPU module {} is missing (build the cnnbench_gpu target, or build with "
                                "-DCNNB_CUDA=OFF)", path.string());
      return;
    }
    // RTLD_LOCAL: nothing else resolves against CUDA's symbols; RTLD_NOW: a missing symbol is found here.
    handle_ = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle_ == nullptr) {
      const char* why = dlerror();
      error_ = explain_module_load_error(why ? why : "dlopen failed", kCudaMajor);
      return;
    }
    using BuildFn = const char* (*)();
    const auto build = reinterpret_cast<BuildFn>(dlsym(handle_, "cnnb_gpu_module_build"));
    if (build == nullptr || std::string_view(build()) != CNNB_GIT_COMMIT) {
      error_ = fmt::format("the GPU module {} is from another build (commit {}, this program is {}): rebuild both",
                           path.string(), build ? build() : "unknown", CNNB_GIT_COMMIT);
      return;
    }
    loaded_.store(true, std::memory_order_release);
  }

  std::once_flag once_;
  std::string error_;
  void* handle_ = nullptr;
  std::atomic<bool> loaded_{false}, tried_{false};
};

struct Provider {
  std::string_view soname_prefix;
  std::string_view provides;  // {0}: the soname's major version, {1}: CUDA's major version
};

// What to install for each library the module links, longest prefix first (libcudnn_graph is cuDNN's).
// The soname carries its own major version.
constexpr std::array kProviders = {
    Provider{"libcudnn", "install cuDNN {0} for CUDA {1}"},
    Provider{"libnccl", "install NCCL {0} for CUDA {1}"},
    Provider{"libcublasLt", "install cuBLAS for CUDA {0}"},
    Provider{"libcublas", "install cuBLAS for CUDA {0}"},
    Provider{"libcudart", "install the CUDA {0} runtime"},
};

}  // namespace

bool gpu_module_in_build() { return kInBuild; }

bool gpu_module_loaded() { return Loader::instance().loaded(); }

bool gpu_module_tried() { return Loader::instance().tried(); }

const std::string& gpu_module_unavailable() { return Loader::instance().unavailable(); }

const void* gpu_module_entry(const char* name) {
  Loader& loader = Loader::instance();
  if (const std::string& why = loader.unavailable(); !why.empty()) fail_input("no GPU can be used: {}", why);
  const void* entry = dlsym(loader.handle(), name);
  if (entry == nullptr) fail("the GPU module has no entry point {}: it is from another build; rebuild both", name);
  return entry;
}

std::string explain_module_load_error(std::string_view text, int cuda_major) {
  // glibc's form: "<soname>: cannot open shared object file: No such file or directory".
  constexpr std::string_view kMissing = ": cannot open shared object file";
  const size_t at = text.find(kMissing);
  if (at == std::string_view::npos) return std::string(text);
  const std::string_view soname = text.substr(0, at);
  const size_t so = soname.find(".so.");
  const std::string_view major = so == std::string_view::npos ? std::string_view() : soname.substr(so + 4);
  const std::string_view stem = soname.substr(0, std::min(so, soname.size()));
  for (const Provider& p : kProviders) {
    if (!stem.starts_with(p.soname_prefix)) continue;
    const std::string install = p.soname_prefix == "libcudnn" || p.soname_prefix == "libnccl"
                                    ? fmt::format(fmt::runtime(p.provides), major, cuda_major)
                                    : fmt::format(fmt::runtime(p.provides), cuda_major);
    return fmt::format("{} not found ({}, or build with -DCNNB_CUDA=OFF)", soname, install);
  }
  return fmt::format("{} not found (needed by cnnbench's GPU module; or build with -DCNNB_CUDA=OFF)", soname);
}

}  // namespace cnnb
