#include <cstdlib>
#include <cstring>
#include <new>

#include <fmt/format.h>

#include "core/device.h"
#include "core/error.h"
#include "core/host_workspace.h"

namespace cnnb {

namespace {

class CpuDevice final : public Device {
 public:
  CpuDevice(int slot, int threads) {
    ctx_.kind = DeviceKind::cpu;
    ctx_.device = slot;
    ctx_.threads = threads;
    ctx_.host_workspace = &workspace_;
  }
  const ExecCtx& ctx() const override { return ctx_; }
  std::string name() const override { return fmt::format("cpu:{}", ctx_.device); }
  void* alloc(size_t bytes) override {
    // 64-byte alignment: one cache line, and what AVX-512 loads like.
    void* p = std::aligned_alloc(64, (bytes + 63) / 64 * 64);
    if (!p) fail("out of host memory allocating {} bytes", bytes);
    return p;
  }
  void free(void* p) noexcept override { std::free(p); }
  void upload(void* dst, const void* src, size_t bytes) override { std::memcpy(dst, src, bytes); }
  void download(void* dst, const void* src, size_t bytes) override { std::memcpy(dst, src, bytes); }
  void copy(void* dst, const void* src, size_t bytes) override { std::memcpy(dst, src, bytes); }
  void zero(void* p, size_t bytes) override { std::memset(p, 0, bytes); }
  void synchronize() override {}
  void* alloc_host(size_t bytes) override { return alloc(bytes); }
  void free_host(void* p) noexcept override { std::free(p); }
  void upload_now(void* dst, const void* src, size_t bytes) override { std::memcpy(dst, src, bytes); }
  size_t workspace_bytes() const override { return workspace_.bytes(); }

 private:
  HostWorkspace workspace_;
  ExecCtx ctx_;
};

}  // namespace

std::unique_ptr<Device> make_cpu_device(int slot, int threads) {
  CNNB_CHECK(threads >= 1, "a CPU device needs at least 1 thread, got {}", threads);
  return std::make_unique<CpuDevice>(slot, threads);
}

}  // namespace cnnb
