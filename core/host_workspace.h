#pragma once
// One CPU replica's scratch memory for its ops (im2col columns, per-thread partial sums, window sums):
// sized by the first training step and reused by every later one, so that the step loop allocates
// nothing after warm-up (the CPU counterpart of CudaCtx::workspace). One buffer serves every op of the
// replica, since they run one after another on the replica's thread.
// C++17: core/exec_ctx.h names it, and .cu files include that.
#include <cstddef>
#include <memory>

namespace cnnb {

class HostWorkspace {
 public:
  // At least `bytes`, 64-byte aligned. Grows on demand and never shrinks, so a pointer from an earlier
  // call is invalid after a call that asks for more. Throws cnnb::Error when the memory is not there.
  void* get(size_t bytes);
  size_t bytes() const { return size_; }

 private:
  struct Free {
    void operator()(void* p) const noexcept;
  };
  std::unique_ptr<void, Free> p_;
  size_t size_ = 0;
};

}  // namespace cnnb
