// IDX reader behind a valid gzip stream: the input is the decompressed IDX file, compressed here, so the
// mutations reach the header and size checks of the gzip path (fuzz_idx covers damaged gzip streams).
#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/error.h"
#include "datasets/dataset.h"
#include "tests/fuzz/mem_file.h"

namespace {

std::vector<uint8_t> gzip(const uint8_t* data, size_t size) {
  z_stream z{};
  if (deflateInit2(&z, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) __builtin_trap();
  std::vector<uint8_t> out(deflateBound(&z, uLong(size)));
  z.next_in = const_cast<Bytef*>(data);
  z.avail_in = uInt(size);
  z.next_out = out.data();
  z.avail_out = uInt(out.size());
  if (deflate(&z, Z_FINISH) != Z_STREAM_END) __builtin_trap();
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<uint8_t> compressed = gzip(data, size);
  const cnnb::fuzz::MemFile file(compressed);
  constexpr int kRanks[] = {0, 1, 3};
  try {
    const cnnb::IdxArray a = cnnb::read_idx(file.path(), kRanks[size % 3]);
    uint64_t n = 1;
    for (int64_t d : a.dims) n *= uint64_t(d);
    // A valid stream holds exactly the header and the data it describes.
    if (n != a.data.size() || 4 + 4 * a.dims.size() + n != size) __builtin_trap();
  } catch (const cnnb::InputError&) {
  }
  return 0;
}
