#pragma once
// The prefetch data pipeline of one replica: a background thread builds the replica's
// next shards into the device's host memory (pinned on a GPU) and copies them to the device on the
// device's own copy stream, so that a step finds its batch already on the device. The `direct`
// pipeline needs none of this: ReplicaSet::compute builds and copies its own batch.
//
// A ring of `depth` slots, each a host batch and a device batch. The thread fills slots in step order
// and waits when all are full; the step takes the next filled slot with next() and hands it back with
// the following next() call (or stop()), by which time the step that read it has synchronized.
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <span>
#include <string_view>
#include <thread>
#include <vector>

#include "core/device.h"
#include "core/shape.h"
#include "datasets/dataset.h"

namespace cnnb {

// How a step gets its batch: `direct` builds and copies it on the step's critical path; `prefetch` takes
// it from a BatchLoader that built and copied it while earlier steps computed.
enum class Pipeline { direct, prefetch };

// "direct" or "prefetch"; InputError naming `flag` and the choices for anything else.
Pipeline parse_pipeline(std::string_view name, std::string_view flag = "--pipeline");
std::string_view pipeline_name(Pipeline p);

class BatchLoader {
 public:
  // Slots for shards of `shard` images of `shape`, on `dev` (which must outlive the loader).
  BatchLoader(Device& dev, Shape shape, int shard, int depth);
  ~BatchLoader();  // stop()
  BatchLoader(const BatchLoader&) = delete;
  BatchLoader& operator=(const BatchLoader&) = delete;

  // Starts building one epoch: for steps s = first_step .. steps-1, the images
  // order[s * batch + offset, + shard) of `split`. `order` is copied; `split` must stay alive and
  // unchanged until stop(). A running epoch is stopped first.
  void start(const Split& split, std::span<const int64_t> order, int batch, int offset, int64_t first_step,
             int64_t steps);

  // One step's shard, on the device, valid until the next call of next() or stop().
  struct Batch {
    int64_t step = 0;
    const float* x = nullptr;           // device: shard x C x H x W
    const int32_t* y = nullptr;         // device: shard labels
    const int32_t* host_y = nullptr;    // the same labels in host memory
    std::span<const int64_t> indices;   // the images it holds
  };
  // Waits for the next step's shard (the wait is the step's data time) and hands the previous one back.
  // Rethrows what the loader thread threw while building it; Error when the epoch has no more steps
  // or none was started.
  Batch next();

  // Stops the thread (it finishes the shard it is building) and joins it. Idempotent, never throws.
  void stop() noexcept;

  int depth() const { return int(slots_.size()); }
  int shard() const { return shard_; }
  // Device memory of the slots, in bytes (host memory is the same again).
  size_t device_bytes() const;

 private:
  struct Slot {
    HostBuffer<float> hx;
    HostBuffer<int32_t> hy;
    Buffer<float> x;
    Buffer<int32_t> y;
    bool ready = false;  // filled by the thread, not yet handed back by the step
  };
  void run() noexcept;

  Device& dev_;
  Shape shape_;
  int shard_;
  std::vector<Slot> slots_;
  std::vector<int64_t> indices_;  // this replica's images of steps first_ .. steps_-1, shard_ per step
  const Split* split_ = nullptr;
  int64_t first_ = 0, steps_ = 0;
  int64_t next_step_ = 0;  // the step next() hands out
  int in_use_ = -1;        // the slot the step holds

  std::mutex m_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::exception_ptr error_;  // what the thread threw, for the step that needs the shard it was building
  int64_t failed_step_ = -1;
  std::thread thread_;
};

}  // namespace cnnb
