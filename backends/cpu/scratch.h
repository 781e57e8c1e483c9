#pragma once
// The scratch memory of one CPU op call, cut into 64-byte-aligned parts: taken from the replica's
// workspace (ExecCtx::host_workspace) when the ctx has one, so a training step allocates nothing once
// the first step has sized it; owned by the call otherwise (a bare ExecCtx, as kernel tests make).
#include <array>
#include <cstddef>
#include <initializer_list>

#include "core/error.h"
#include "core/exec_ctx.h"
#include "core/host_workspace.h"

namespace cnnb::cpu {

class Scratch {
 public:
  Scratch(const ExecCtx& ctx, std::initializer_list<size_t> part_bytes) {
    CNNB_ASSERT(part_bytes.size() <= parts_.size());
    size_t total = 0;
    for (size_t b : part_bytes) total += padded(b);
    auto* base = static_cast<std::byte*>((ctx.host_workspace ? *ctx.host_workspace : own_).get(total));
    size_t i = 0, offset = 0;
    for (size_t b : part_bytes) {
      parts_[i++] = base + offset;
      offset += padded(b);
    }
  }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;

  template <class T>
  T* part(size_t i) const {
    return reinterpret_cast<T*>(parts_[i]);
  }

 private:
  static size_t padded(size_t bytes) { return (bytes + 63) / 64 * 64; }
  HostWorkspace own_;
  std::array<std::byte*, 4> parts_{};
};

}  // namespace cnnb::cpu
