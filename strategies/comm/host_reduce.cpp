#include "strategies/comm/host_reduce.h"

#include <algorithm>

#include "core/error.h"

namespace cnnb {

namespace {
// Below this many elements a reduction is cheaper than waking another thread.
constexpr int64_t kParallelMin = 1 << 15;
}  // namespace

HostReducer::HostReducer(std::vector<Device*> devices, int threads)
    : devices_(std::move(devices)), staging_(devices_.size()), views_(devices_.size()) {
  for (int i = 0; i < std::max(1, threads); ++i) helpers_.push_back(i == 0 ? nullptr : std::make_unique<Worker>());
}

std::span<float* const> HostReducer::host_views(std::span<float* const> bufs, int64_t count) {
  CNNB_ASSERT(bufs.size() == devices_.size());
  for (size_t r = 0; r < bufs.size(); ++r) {
    if (devices_[r]->kind() == DeviceKind::cpu) {
      views_[r] = bufs[r];
    } else {
      staging_[r].resize(size_t(count));
      devices_[r]->download(staging_[r].data(), bufs[r], size_t(count) * sizeof(float));
      views_[r] = staging_[r].data();
    }
  }
  return views_;
}

void HostReducer::write_back(std::span<float* const> bufs, int64_t count) {
  for (size_t r = 0; r < bufs.size(); ++r)
    if (devices_[r]->kind() != DeviceKind::cpu) {
      devices_[r]->upload(bufs[r], staging_[r].data(), size_t(count) * sizeof(float));
      devices_[r]->synchronize();
    }
}

void HostReducer::parallel(int64_t count, const std::function<void(int64_t, int64_t)>& fn) {
  const int slices = count < kParallelMin ? 1 : int(helpers_.size());
  if (slices == 1) return fn(0, count);
  // Slices of whole cache lines, so two threads never write the same line.
  struct Slices {
    int64_t count, per;
    int slices;
    const std::function<void(int64_t, int64_t)>& fn;
    void operator()(int s) const {
      fn(std::min(count, s * per), s + 1 == slices ? count : std::min(count, (s + 1) * per));
    }
  } const job{count, (count / slices + 15) / 16 * 16, slices, fn};
  // A closure of one reference fits std::function's inline storage: an exchange allocates nothing.
  run_each(std::span(helpers_).first(size_t(slices)), [&job](int s) { job(s); }, /*caller_runs_first=*/true);
}

void HostReducer::sum(std::span<float* const> views, int64_t count, float* out) {
  parallel(count, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      float s = views[0][i];
      for (size_t r = 1; r < views.size(); ++r) s += views[r][i];
      out[i] = s;
    }
  });
}

void HostReducer::mean_in_place(std::span<float* const> views, int64_t count, float divisor) {
  parallel(count, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      float s = views[0][i];
      for (size_t r = 1; r < views.size(); ++r) s += views[r][i];
      s /= divisor;
      for (float* v : views) v[i] = s;
    }
  });
}

void HostReducer::assign_divided(std::span<float* const> views, int64_t count, const float* src, float divisor) {
  parallel(count, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const float s = src[i] / divisor;
      for (float* v : views) v[i] = s;
    }
  });
}

}  // namespace cnnb
