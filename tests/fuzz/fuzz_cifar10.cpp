// CIFAR-10 binary batch reader on arbitrary file contents, appended to a split that already holds images
// (as the second batch of a directory would be).
#include <cstddef>
#include <cstdint>

#include "core/error.h"
#include "datasets/dataset.h"
#include "tests/fuzz/mem_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const cnnb::fuzz::MemFile file({data, size});
  cnnb::Split split;
  split.images.assign(3 * 32 * 32, 7);
  split.labels.push_back(3);
  try {
    cnnb::read_cifar10_batch(file.path(), split);
    if (split.images.size() != uint64_t(split.count()) * 3 * 32 * 32 || split.count() < 2) __builtin_trap();
    for (int32_t label : split.labels)
      if (label < 0 || label > 9) __builtin_trap();
  } catch (const cnnb::InputError&) {
  }
  return 0;
}
