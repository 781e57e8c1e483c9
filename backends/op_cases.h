#pragma once
// The shared case list of every op (ggml's make_test_cases_eval / _perf): the same named shapes drive
// the kernel tests, `cnnbench verify` and cnnbench-micro, so a new kernel variant is checked and timed
// on all of them from its kernels.def line alone.
//
// A case builds its inputs deterministically from its seed on the host, so every device sees the same
// values: small integers where every result is exact in float (conv, dense, pool, ReLU; sums stay far
// below 2^24), random floats otherwise. CaseTensors puts them on a Device, runs a KernelInfo there and
// reads the outputs back; outputs start as NaN, so an element a kernel forgets to write cannot pass.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "backends/ops.h"
#include "backends/registry.h"
#include "core/device.h"

namespace cnnb {

enum class CaseSet {
  test,   // odd sizes, stride/padding edge cases and the presets' layers at batch 4: tests and verify
  micro,  // the presets' layers at batch 64: cnnbench-micro
};

// One case of one op. Only the geometry fields of `op` are meaningful.
struct OpCase {
  Op op{};
  std::string name;  // unique within the op, [a-z0-9_] (it becomes part of test and benchmark names)
  ConvGeom conv;     // conv_*
  PoolGeom pool;     // pool_*
  LrnGeom lrn;       // lrn_*
  DenseGeom dense;   // dense_*
  int64_t count = 0; // relu_*, sgd_update, adam_update: elements; softmax_xent: samples
  int classes = 0;   // softmax_xent
  SgdHyper sgd;
  AdamHyper adam;
  bool with_bias = true;      // conv_fwd, conv_bwd_filter, dense_*: bias / dbias passed (else null)
  bool with_dx = true;        // dense_bwd: false for a first layer (dx null)
  bool with_velocity = true;  // sgd_update: false only with momentum 0 (velocity null)
  bool with_loss = true;      // softmax_xent: false passes a null loss (only dlogits wanted)
  bool with_dlogits = true;   // softmax_xent: false passes a null dlogits (only the losses wanted)
  bool exact = false;         // integer inputs in [lo, hi]: every output is exact in float
  float lo = -4.0f, hi = 4.0f;  // range of the main input (x, logits); gradients and optimizer state have their own
  uint64_t seed = 1;

  std::string geometry() const;  // e.g. "n4 c3x32x32 k64 5x5 stride1 pad2"
};

std::vector<OpCase> op_cases(Op op, CaseSet set);

enum class Role { in, out, inout };

// One float tensor of a case, in the order of its Args' pointers; softmax labels are kept apart (int32).
struct TensorSpec {
  std::string name;  // the Args field: x, w, bias, y, dy, dx, ...
  int64_t size = 0;
  Role role = Role::in;
  float lo = 0.0f, hi = 0.0f;  // input values are drawn from [lo, hi] (integers when the case is exact)
};
std::vector<TensorSpec> tensor_specs(const OpCase& c);

struct HostTensor {
  std::string name;
  std::vector<float> values;
};

// The inputs (role in and inout) of a case in tensor_specs order, and the labels of softmax_xent.
// Inputs that must agree with others (pool_bwd's and lrn_bwd's y, relu_bwd's y) are computed from them.
struct CaseInputs {
  std::vector<HostTensor> tensors;
  std::vector<int32_t> labels;
};
CaseInputs make_inputs(const OpCase& c);

double case_flops(const OpCase& c);  // op_flops of the case's Args
double case_bytes(const OpCase& c);  // compulsory traffic: inputs read once, outputs written once, in-place both

// A case's tensors on one device.
class CaseTensors {
 public:
  CaseTensors(const OpCase& c, Device& dev);

  // The kernel call with its Args bound to these tensors (for timing loops). Throws if the kernel is for
  // another op or another kind of device. The device must outlive the returned function.
  std::function<void()> bind(const KernelInfo& k);
  // One call, then waits for the device.
  void run(const KernelInfo& k);
  // Outputs (role out and inout) in tensor_specs order, downloaded.
  std::vector<HostTensor> outputs() const;

  const OpCase& op_case() const { return case_; }

 private:
  float* ptr(std::string_view name);  // nullptr for a tensor the case does not pass

  OpCase case_;
  Device* dev_;
  std::vector<TensorSpec> specs_;
  std::vector<Buffer<float>> buffers_;
  Buffer<int32_t> labels_;
};

}  // namespace cnnb
