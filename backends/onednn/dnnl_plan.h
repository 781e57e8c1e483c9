#pragma once
// What every cpu-onednn variant (backends/onednn/*_dnnl.cpp) shares: a per-thread cache of "plans"
// (primitives, staging buffers and scratchpads made once per geometry), the OpenMP thread count of a
// call, and user tensors staged to and from the layouts oneDNN prefers.
//
// Why thread_local: a plan is per replica state (it owns scratch memory that one call at a time may
// use), ExecCtx has no slot for it, and a replica is driven by exactly one host thread. So a cache
// that lives in a function-local thread_local IS the per-replica cache, and two replicas never share a
// plan. It is destroyed when its thread ends.
#include <dnnl.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <utility>
#include <vector>

#include "core/error.h"

namespace cnnb::onednn {

using dnnl::memory;
using Tag = memory::format_tag;

inline memory::desc f32_md(const memory::dims& dims, Tag tag) { return {dims, memory::data_type::f32, tag}; }

// Points m at a caller's input. oneDNN memory objects take a non-const handle; inputs are only read.
inline void bind_input(const memory& m, const float* p) { m.set_data_handle(const_cast<float*>(p)); }

// oneDNN (built on OpenMP here) sizes its parallel regions by the calling thread's omp_set_num_threads,
// and JIT kernels read that count when a primitive is created, so it is set before plans are made and
// is part of every plan key. The previous value is restored so the call leaves no trace on its thread.
class OmpThreads {
 public:
  explicit OmpThreads(int threads);
  ~OmpThreads();
  OmpThreads(const OmpThreads&) = delete;
  OmpThreads& operator=(const OmpThreads&) = delete;

 private:
  int saved_;
};

// Every primitive is made with a user scratchpad, owned by its plan: no hidden library-wide buffer.
dnnl::primitive_attr plan_attr();
memory scratchpad_for(const dnnl::primitive_desc_base& pd, const dnnl::engine& eng);

// A tensor the caller holds in a plain layout (nchw, oihw, nc, oi, x) that a primitive wants in another
// one. When the two agree the caller's buffer is used in place; otherwise the plan owns a buffer in the
// wanted layout plus the reorder into it (inputs) or out of it (outputs), and every call runs that
// reorder, so its cost is part of the op's time.
class Staged {
 public:
  enum class Dir { in, out };
  Staged() = default;
  Staged(const dnnl::engine& eng, const memory::desc& user, const memory::desc& wanted, Dir dir);

  // Input: the memory the primitive reads, after reordering p into it if needed.
  const memory& in(dnnl::stream& s, const float* p);
  // Output: the memory the primitive writes; finish() then reorders it into p if needed.
  const memory& out(float* p);
  void finish(dnnl::stream& s);

 private:
  memory user_, inner_;
  dnnl::reorder reorder_;
};

// One plan per key (the geometry, the optional tensors present, the thread count); a few dozen at most
// in practice, cleared wholesale past kMaxPlans so a long sweep over many shapes cannot grow it forever.
template <class Plan>
class PlanCache {
 public:
  using Key = std::vector<int64_t>;

  const dnnl::engine& engine() const { return engine_; }
  dnnl::stream& stream() { return stream_; }

  // make(engine) builds the plan; describe() names the call for the error when oneDNN refuses it.
  template <class Make, class Describe>
  Plan& get(Key key, Make&& make, Describe&& describe) {
    auto it = plans_.find(key);
    if (it != plans_.end()) return *it->second;
    if (plans_.size() >= kMaxPlans) plans_.clear();
    try {
      it = plans_.emplace(std::move(key), std::make_unique<Plan>(make(engine_))).first;
    } catch (const dnnl::error& e) {
      fail("{}: oneDNN could not create its primitives: {} (status {})", describe(), e.what(), int(e.status));
    }
    return *it->second;
  }

 private:
  static constexpr size_t kMaxPlans = 64;
  // Declared first, destroyed last: plans hold memory and primitives of this engine.
  dnnl::engine engine_{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream_{engine_};
  std::map<Key, std::unique_ptr<Plan>> plans_;
};

// Runs f, turning an execution-time dnnl::error into a cnnb::Error that names the call.
template <class F, class Describe>
void run_checked(F&& f, Describe&& describe) {
  try {
    f();
  } catch (const dnnl::error& e) {
    fail("{}: oneDNN failed while executing: {} (status {})", describe(), e.what(), int(e.status));
  }
}

}  // namespace cnnb::onednn
