#include "strategies/bucket_exchange.h"

#include <algorithm>
#include <utility>

#include "core/clock.h"
#include "core/error.h"

namespace cnnb {

std::vector<Bucket> make_buckets(const ModelPlan& plan, double mb) {
  if (mb <= 0 || plan.params.empty()) return {Bucket{0, plan.param_count}};
  const auto cap = int64_t(mb * 1024 * 1024 / sizeof(float));
  std::vector<Bucket> out;
  // Walking the tensors backwards keeps each bucket one contiguous range of the flat buffer.
  int64_t end = plan.param_count;
  for (size_t i = plan.params.size(); i-- > 0;) {
    const int64_t begin = plan.params[i].offset;
    if (end - begin >= cap || i == 0) {
      out.push_back({begin, end - begin});
      end = begin;
    }
  }
  return out;
}

// Runs on its replica's thread, inside backward. `next_` is the replica's own: the exchange thread
// learns of it only through announce().
class BucketExchange::ReplicaHook final : public BackwardHook {
 public:
  ReplicaHook(BucketExchange& owner, int local) : owner_(owner), local_(local) {}
  void reset() { next_ = 0; }
  void grads_ready(size_t, int64_t ready_from) override {
    const int before = next_;
    const auto& b = owner_.buckets_;
    while (next_ < int(b.size()) && ready_from <= b[size_t(next_)].offset) {
      // On a GPU the gradients may still be computing: the mark is what the exchange waits for.
      owner_.comm_.mark_ready(local_, next_);
      ++next_;
    }
    if (next_ != before) owner_.announce(local_, next_);
  }

 private:
  BucketExchange& owner_;
  int local_;
  int next_ = 0;
};

BucketExchange::BucketExchange(Communicator& comm, std::vector<float*> grads, std::vector<Bucket> buckets)
    : comm_(comm), grads_(std::move(grads)), buckets_(std::move(buckets)), slice_(grads_.size()), ready_(grads_.size()) {
  CNNB_CHECK(int(grads_.size()) == comm_.local_replicas(), "bucket exchange: {} gradient buffers for {} local replicas",
             grads_.size(), comm_.local_replicas());
  CNNB_CHECK(!buckets_.empty(), "bucket exchange: no buckets");
  for (size_t k = 0; k < buckets_.size(); ++k) {
    const int64_t end = k == 0 ? buckets_[0].offset + buckets_[0].count : buckets_[k - 1].offset;
    CNNB_CHECK(buckets_[k].count >= 0 && buckets_[k].offset + buckets_[k].count == end,
               "bucket exchange: bucket {} [{}, +{}) does not end where bucket {} begins", k, buckets_[k].offset,
               buckets_[k].count, k - 1);
  }
  CNNB_CHECK(buckets_.back().offset == 0, "bucket exchange: the last bucket must start at 0, not {}",
             buckets_.back().offset);
  comm_.prepare_marks(int(buckets_.size()));
  for (int i = 0; i < int(grads_.size()); ++i) {
    hooks_.push_back(std::make_unique<ReplicaHook>(*this, i));
    hook_ptrs_.push_back(hooks_.back().get());
  }
  thread_ = std::thread([this] { loop(); });
}

BucketExchange::~BucketExchange() {
  {
    std::lock_guard lock(m_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void BucketExchange::begin() {
  std::lock_guard lock(m_);
  CNNB_CHECK(!armed_, "bucket exchange: a step began before the last one finished");
  for (auto& h : hooks_) h->reset();
  std::fill(ready_.begin(), ready_.end(), 0);
  cancel_ = false;
  busy_ = 0;
  error_ = nullptr;
  armed_ = true;
  cv_.notify_all();
}

void BucketExchange::announce(int local, int ready) {
  {
    std::lock_guard lock(m_);
    ready_[size_t(local)] = ready;
  }
  cv_.notify_all();
}

int BucketExchange::all_ready() const { return *std::min_element(ready_.begin(), ready_.end()); }

double BucketExchange::finish() {
  std::unique_lock lock(m_);
  // Every backward has returned (and synchronized): a bucket no hook announced is ready all the same.
  std::fill(ready_.begin(), ready_.end(), buckets());
  cv_.notify_all();
  cv_.wait(lock, [this] { return !armed_; });
  if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
  return busy_;
}

void BucketExchange::cancel() noexcept {
  std::unique_lock lock(m_);
  cancel_ = true;
  cv_.notify_all();
  cv_.wait(lock, [this] { return !armed_; });
  error_ = nullptr;
}

void BucketExchange::loop() {
  std::unique_lock lock(m_);
  for (;;) {
    cv_.wait(lock, [this] { return stop_ || armed_; });
    if (stop_) return;
    for (int k = 0; k < buckets(); ++k) {
      cv_.wait(lock, [&] { return stop_ || cancel_ || all_ready() > k; });
      if (stop_ || cancel_) break;
      lock.unlock();
      const Bucket& b = buckets_[size_t(k)];
      for (size_t r = 0; r < grads_.size(); ++r) slice_[r] = grads_[r] + b.offset;
      std::exception_ptr error;
      const auto t0 = SteadyClock::now();
      try {
        comm_.allreduce_mean_marked(slice_, b.count, k);
      } catch (...) {
        error = std::current_exception();
      }
      const double dt = seconds_since(t0);
      lock.lock();
      busy_ += dt;
      if (error) {
        error_ = error;
        break;
      }
    }
    armed_ = false;
    cv_.notify_all();
  }
}

}  // namespace cnnb
