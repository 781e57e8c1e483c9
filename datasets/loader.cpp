#include "datasets/loader.h"

#include <algorithm>

#include "core/error.h"

namespace cnnb {

Pipeline parse_pipeline(std::string_view name, std::string_view flag) {
  if (name == "direct") return Pipeline::direct;
  if (name == "prefetch") return Pipeline::prefetch;
  fail_input("{} '{}' is not a data pipeline; expected direct or prefetch", flag, name);
}

std::string_view pipeline_name(Pipeline p) { return p == Pipeline::prefetch ? "prefetch" : "direct"; }

BatchLoader::BatchLoader(Device& dev, Shape shape, int shard, int depth) : dev_(dev), shape_(shape), shard_(shard) {
  CNNB_CHECK(shard >= 1, "a batch loader needs at least one image per shard, got {}", shard);
  CNNB_CHECK(depth >= 1, "a batch loader needs at least one slot, got {}", depth);
  const size_t images = size_t(shard) * size_t(shape.size());
  slots_.reserve(size_t(depth));
  for (int i = 0; i < depth; ++i)
    slots_.push_back(Slot{HostBuffer<float>(dev, images), HostBuffer<int32_t>(dev, size_t(shard)),
                          Buffer<float>(dev, images), Buffer<int32_t>(dev, size_t(shard))});
}

BatchLoader::~BatchLoader() { stop(); }

size_t BatchLoader::device_bytes() const {
  size_t n = 0;
  for (const Slot& s : slots_) n += s.x.bytes() + s.y.bytes();
  return n;
}

void BatchLoader::start(const Split& split, std::span<const int64_t> order, int batch, int offset, int64_t first_step,
                        int64_t steps) {
  stop();
  CNNB_CHECK(offset >= 0 && offset + shard_ <= batch, "a shard of {} at offset {} does not fit a batch of {}", shard_,
             offset, batch);
  CNNB_CHECK(first_step >= 0 && first_step <= steps, "steps {}..{} are not a range of an epoch", first_step, steps);
  CNNB_CHECK(int64_t(order.size()) >= steps * batch, "an epoch order of {} images does not hold {} batches of {}",
             order.size(), steps, batch);
  // Copied, so that the thread never reads the caller's order after the caller has moved on.
  indices_.resize(size_t(steps - first_step) * size_t(shard_));
  for (int64_t s = first_step; s < steps; ++s)
    std::copy_n(order.begin() + s * batch + offset, shard_, indices_.begin() + (s - first_step) * shard_);
  split_ = &split;
  first_ = first_step;
  steps_ = steps;
  next_step_ = first_step;
  thread_ = std::thread([this] { run(); });
}

void BatchLoader::run() noexcept {
  const auto depth = int64_t(slots_.size());
  int64_t s = first_;
  try {
    for (; s < steps_; ++s) {
      Slot& slot = slots_[size_t((s - first_) % depth)];
      {
        std::unique_lock lock(m_);
        cv_.wait(lock, [&] { return stop_ || !slot.ready; });
        if (stop_) return;
      }
      const std::span<const int64_t> idx(indices_.data() + size_t(s - first_) * size_t(shard_), size_t(shard_));
      build_batch(*split_, shape_, idx, slot.hx.data(), slot.hy.data());
      dev_.upload_now(slot.x.data(), slot.hx.data(), slot.hx.bytes());
      dev_.upload_now(slot.y.data(), slot.hy.data(), slot.hy.bytes());
      {
        std::lock_guard lock(m_);
        slot.ready = true;
      }
      cv_.notify_all();
    }
  } catch (...) {
    {
      std::lock_guard lock(m_);
      error_ = std::current_exception();
      failed_step_ = s;
    }
    cv_.notify_all();
  }
}

BatchLoader::Batch BatchLoader::next() {
  CNNB_CHECK(split_ != nullptr, "the batch loader was asked for a batch before an epoch was started");
  std::unique_lock lock(m_);
  if (in_use_ >= 0) {
    slots_[size_t(in_use_)].ready = false;
    in_use_ = -1;
    cv_.notify_all();
  }
  CNNB_CHECK(next_step_ < steps_, "the batch loader was asked for step {}, but the epoch has {} steps", next_step_ + 1,
             steps_);
  const int index = int((next_step_ - first_) % int64_t(slots_.size()));
  Slot& slot = slots_[size_t(index)];
  // The thread builds in step order, so when it failed at a later step this one is still coming.
  cv_.wait(lock, [&] { return slot.ready || (error_ && failed_step_ <= next_step_); });
  if (!slot.ready) std::rethrow_exception(error_);
  in_use_ = index;
  Batch b;
  b.step = next_step_;
  b.x = slot.x.data();
  b.y = slot.y.data();
  b.host_y = slot.hy.data();
  b.indices = std::span<const int64_t>(indices_.data() + size_t(next_step_ - first_) * size_t(shard_), size_t(shard_));
  ++next_step_;
  return b;
}

void BatchLoader::stop() noexcept {
  {
    std::lock_guard lock(m_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) {
    try {
      thread_.join();
    } catch (...) {
    }
  }
  std::lock_guard lock(m_);
  stop_ = false;
  error_ = nullptr;
  failed_step_ = -1;
  in_use_ = -1;
  for (Slot& s : slots_) s.ready = false;
  split_ = nullptr;
  first_ = steps_ = next_step_ = 0;
}

}  // namespace cnnb
