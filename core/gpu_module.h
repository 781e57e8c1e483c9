#pragma once
// The GPU module (libcnnbench_gpu.so) holds every source that calls CUDA, cuBLAS, cuDNN or NCCL. The
// program loads it the first time a GPU is asked for (a GPU backend's kernel, a GPU device, the device
// count, the NCCL communicator, `cnnbench list`), so a CPU process maps none of those libraries and
// starts on a machine that has none of them.
//
// Each layer reads the module through one entry point of its own, a table of functions whose types it
// knows (core: devices; backends: kernels and the CUDA environment; strategies: the NCCL communicator),
// so this loader needs no type above the core.
#include <string>
#include <string_view>

namespace cnnb {

// Whether this build has a GPU module (configured with CUDA).
bool gpu_module_in_build();

// Whether this process has loaded the module already, and whether it has tried to. Never load it.
bool gpu_module_loaded();
bool gpu_module_tried();

// Loads the module on the first call; "" once it is loaded, otherwise why it cannot be, in words a user
// can act on: "libcudnn.so.9 not found (install cuDNN 9 for CUDA 13, or build with -DCNNB_CUDA=OFF)".
// Never throws.
const std::string& gpu_module_unavailable();

// The entry point `name` of the loaded module: the address of its table. Throws InputError (exit 2)
// with gpu_module_unavailable()'s reason when the module cannot be loaded.
const void* gpu_module_entry(const char* name);

template <class Table>
const Table& gpu_module_table(const char* name) {
  return *static_cast<const Table*>(gpu_module_entry(name));
}

// What a failed dlopen's message means for the user: the library that was not found and what provides
// it, or the message itself. `cuda_major` is the CUDA major version the module was built with.
std::string explain_module_load_error(std::string_view dlerror_text, int cuda_major);

}  // namespace cnnb
