// IDX reader on arbitrary file contents: raw IDX, gzip (damaged or not), or neither. Bad input must end
// in InputError; anything else (a crash, a sanitizer report, another exception) is a finding.
#include <cstddef>
#include <cstdint>

#include "core/error.h"
#include "datasets/dataset.h"
#include "tests/fuzz/mem_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const cnnb::fuzz::MemFile file({data, size});
  // The rank the caller expects comes from the size, so every rank check is reached without a format byte.
  constexpr int kRanks[] = {0, 1, 3};
  try {
    const cnnb::IdxArray a = cnnb::read_idx(file.path(), kRanks[size % 3]);
    uint64_t n = 1;
    for (int64_t d : a.dims) n *= uint64_t(d);
    if (n != a.data.size()) __builtin_trap();  // the data must be exactly what the header describes
  } catch (const cnnb::InputError&) {
  }
  return 0;
}
