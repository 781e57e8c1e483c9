// Buffer and HostBuffer (core/device.h): which of the device's allocators each uses, and that every
// allocation is freed exactly once whatever the moves, counted by a device that records every call.
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <utility>
#include <vector>

#include "core/device.h"

namespace cnnb {
namespace {

class CountingDevice final : public Device {
 public:
  struct Calls {
    int alloc = 0, free = 0, alloc_host = 0, free_host = 0;
  };
  CountingDevice() { ctx_.kind = DeviceKind::cpu; }
  ~CountingDevice() override { EXPECT_TRUE(live_.empty()) << live_.size() << " allocations never freed"; }

  const ExecCtx& ctx() const override { return ctx_; }
  std::string name() const override { return "counting"; }
  void* alloc(size_t bytes) override { return ++calls.alloc, take(bytes, false); }
  void free(void* p) noexcept override { ++calls.free, give(p, false); }
  void* alloc_host(size_t bytes) override { return ++calls.alloc_host, take(bytes, true); }
  void free_host(void* p) noexcept override { ++calls.free_host, give(p, true); }
  void upload(void* dst, const void* src, size_t bytes) override { std::memcpy(dst, src, bytes); }
  void download(void* dst, const void* src, size_t bytes) override { std::memcpy(dst, src, bytes); }
  void copy(void* dst, const void* src, size_t bytes) override { std::memcpy(dst, src, bytes); }
  void zero(void* p, size_t bytes) override { std::memset(p, 0, bytes); }
  void synchronize() override {}
  void upload_now(void* dst, const void* src, size_t bytes) override { std::memcpy(dst, src, bytes); }
  size_t workspace_bytes() const override { return 0; }

  Calls calls;

 private:
  void* take(size_t bytes, bool host) {
    void* p = ::operator new(bytes);
    live_[p] = host;
    return p;
  }
  void give(void* p, bool host) noexcept {
    const auto it = live_.find(p);
    // A pointer freed twice, never handed out, or freed by the other allocator.
    if (it == live_.end() || it->second != host) {
      ADD_FAILURE() << "free of " << p << (it == live_.end() ? ", which is not live" : " by the wrong allocator");
      return;
    }
    live_.erase(it);
    ::operator delete(p);
  }
  ExecCtx ctx_;
  std::map<void*, bool> live_;  // -> from alloc_host
};

TEST(DeviceArrays, EachKindUsesItsOwnAllocatorAndEmptyOnesNone) {
  CountingDevice dev;
  {
    Buffer<float> d(dev, 10);
    HostBuffer<int32_t> h(dev, 3);
    Buffer<float> empty(dev, 0), unset;
    HostBuffer<float> empty_host(dev, 0);
    EXPECT_EQ(d.bytes(), 40u);
    EXPECT_EQ(h.size(), 3u);
    EXPECT_EQ(empty.data(), nullptr);
    EXPECT_EQ(empty.to_host(), std::vector<float>{});
    empty.zero();
  }
  EXPECT_EQ(dev.calls.alloc, 1);
  EXPECT_EQ(dev.calls.free, 1);
  EXPECT_EQ(dev.calls.alloc_host, 1);
  EXPECT_EQ(dev.calls.free_host, 1);
}

TEST(DeviceArrays, MovesHandOverWithoutTouchingTheDeviceAndAssignmentFreesTheOldArray) {
  CountingDevice dev;
  {
    Buffer<float> a(dev, 4);
    a.upload({1, 2, 3, 4});
    float* const p = a.data();
    Buffer<float> b = std::move(a);
    EXPECT_EQ(b.data(), p);
    EXPECT_EQ(a.data(), nullptr);
    EXPECT_EQ(a.size(), 0u);
    EXPECT_EQ(b.to_host(), (std::vector<float>{1, 2, 3, 4}));
    EXPECT_EQ(dev.calls.free, 0);
    Buffer<float> c(dev, 2);
    c = std::move(b);  // c's own two floats go back now
    EXPECT_EQ(dev.calls.free, 1);
    EXPECT_EQ(c.data(), p);
    auto& self = c;
    c = std::move(self);
    EXPECT_EQ(c.data(), p);
    EXPECT_EQ(dev.calls.free, 1);

    std::vector<HostBuffer<float>> staging(2);
    staging[0] = HostBuffer<float>(dev, 8);
    staging.emplace_back(dev, 5);  // reallocates: the elements move
    staging[0][7] = 3;
    EXPECT_EQ(staging[0][7], 3);
    EXPECT_EQ(staging[2].end() - staging[2].begin(), 5);
  }
  EXPECT_EQ(dev.calls.alloc, dev.calls.free);
  EXPECT_EQ(dev.calls.alloc_host, dev.calls.free_host);
  EXPECT_EQ(dev.calls.alloc_host, 2);
}

}  // namespace
}  // namespace cnnb
