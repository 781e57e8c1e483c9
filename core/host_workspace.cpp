#include "core/host_workspace.h"

#include <cstdlib>

#include "core/error.h"

namespace cnnb {

void HostWorkspace::Free::operator()(void* p) const noexcept { std::free(p); }

void* HostWorkspace::get(size_t bytes) {
  if (bytes <= size_) return p_.get();
  // Whole 64 KiB steps, so that a sequence of slightly larger requests does not reallocate each time.
  const size_t grown = (bytes + 65535) / 65536 * 65536;
  void* p = std::aligned_alloc(64, grown);
  if (!p) fail("out of host memory growing a CPU workspace to {} bytes", grown);
  p_.reset(p);
  size_ = grown;
  return p;
}

}  // namespace cnnb
