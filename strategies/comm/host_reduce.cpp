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
  int staged_count = 0;
  for (size_t r = 0; r < devices_.size(); ++r) staged_count += staged(r);
  if (staged_count > 1)
    for (size_t r = 0; r < devices_.size(); ++r) copiers_.push_back(r == 0 ? nullptr : std::make_unique<Worker>());
}

// A template, so that a run of CPU replicas (nothing staged) builds no std::function: an exchange allocates nothing.
template <class Fn>
void HostReducer::each_staged(const Fn& fn) {
  if (copiers_.empty()) {
    for (size_t r = 0; r < devices_.size(); ++r)
      if (staged(r)) fn(r);
    return;
  }
  run_each(
      copiers_,
      [&](int r) {
        if (staged(size_t(r))) fn(size_t(r));
      },
      /*caller_runs_first=*/true);
}

std::span<float* const> HostReducer::host_views(std::span<float* const> bufs, int64_t count) {
  CNNB_ASSERT(bufs.size() == devices_.size());
  for (size_t r = 0; r < bufs.size(); ++r) {
    if (!staged(r)) {
      views_[r] = bufs[r];
      continue;
    }
    // Page-locked memory is slow to allocate: the staging buffer grows to the largest exchange and stays.
    if (staging_[r].size() < size_t(count)) staging_[r] = HostBuffer<float>(*devices_[r], size_t(count));
    views_[r] = staging_[r].data();
  }
  each_staged([&](size_t r) { devices_[r]->download(views_[r], bufs[r], size_t(count) * sizeof(float)); });
  return views_;
}

void HostReducer::write_back(std::span<float* const> bufs, int64_t count) {
  each_staged([&](size_t r) {
    devices_[r]->upload(bufs[r], views_[r], size_t(count) * sizeof(float));
    devices_[r]->synchronize();
  });
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
