#include "backends/op_cases.h"

#include <algorithm>
#include <limits>
#include <string_view>
#include <type_traits>
#include <utility>

#include <fmt/format.h>

#include "core/error.h"
#include "core/rng.h"

namespace cnnb {

namespace {

constexpr int kTestBatch = 4;    // big enough for several images per thread, small enough for cpu-ref
constexpr int kMicroBatch = 64;  // a realistic training batch

// ---- the presets' layers at batch n
// simple  on 1x28x28: conv3x3x32 -> relu -> maxpool2 -> conv3x3x64 -> relu -> maxpool2 -> fc128 -> relu -> fc10
// tfcifar on 3x32x32: conv5x5x64 pad2 -> relu -> maxpool3 s2 pad1 -> lrn -> conv5x5x64 pad2 -> relu -> lrn
//                     -> maxpool3 s2 pad1 -> fc384 -> relu -> fc192 -> relu -> fc10
template <class G>
struct Named {
  const char* name;
  G g;
};

std::vector<Named<ConvGeom>> preset_convs(int n) {
  return {{"simple_conv1", {n, 1, 28, 28, 32, 3, 3, 1, 0}},
          {"simple_conv2", {n, 32, 13, 13, 64, 3, 3, 1, 0}},
          {"tfcifar_conv1", {n, 3, 32, 32, 64, 5, 5, 1, 2}},
          {"tfcifar_conv2", {n, 64, 16, 16, 64, 5, 5, 1, 2}}};
}
std::vector<Named<PoolGeom>> preset_pools(int n) {
  return {{"simple_pool1", {n, 32, 26, 26, 2, 2, 0}},
          {"simple_pool2", {n, 64, 11, 11, 2, 2, 0}},
          {"tfcifar_pool1", {n, 64, 32, 32, 3, 2, 1}},
          {"tfcifar_pool2", {n, 64, 16, 16, 3, 2, 1}}};
}
// Both tfcifar LRN layers see 64x16x16. TF's depth_radius=4, alpha=0.001/9 is cuDNN's size 9, alpha 0.001.
std::vector<Named<LrnGeom>> preset_lrns(int n) { return {{"tfcifar_lrn", {n, 64, 16, 16, 9, 0.001, 0.75, 1.0}}}; }
std::vector<Named<DenseGeom>> preset_denses(int n) {
  return {{"simple_fc1", {n, 64 * 5 * 5, 128}},
          {"simple_fc2", {n, 128, 10}},
          {"tfcifar_fc1", {n, 64 * 8 * 8, 384}},
          {"tfcifar_fc2", {n, 384, 192}},
          {"tfcifar_fc3", {n, 192, 10}}};
}
std::vector<Named<int64_t>> preset_relus(int n) {
  return {{"simple_relu1", int64_t(n) * 32 * 26 * 26},
          {"simple_relu2", int64_t(n) * 64 * 11 * 11},
          {"simple_relu_fc1", int64_t(n) * 128},
          {"tfcifar_relu1", int64_t(n) * 64 * 32 * 32},
          {"tfcifar_relu2", int64_t(n) * 64 * 16 * 16},
          {"tfcifar_relu_fc1", int64_t(n) * 384}};
}
// Every parameter of a model in one flat buffer, as the optimizers see it.
constexpr int64_t kSimpleParams = (32 * 1 * 9 + 32) + (64 * 32 * 9 + 64) + (1600 * 128 + 128) + (128 * 10 + 10);
constexpr int64_t kTfcifarParams =
    (64 * 3 * 25 + 64) + (64 * 64 * 25 + 64) + (4096 * 384 + 384) + (384 * 192 + 192) + (192 * 10 + 10);

class CaseList {
 public:
  explicit CaseList(Op op) : op_(op) {}
  OpCase& add(std::string name) {
    OpCase c;
    c.op = op_;
    c.name = std::move(name);
    c.seed = 1000 * uint64_t(op_) + cases_.size() + 1;
    cases_.push_back(std::move(c));
    return cases_.back();
  }
  std::vector<OpCase> take() { return std::move(cases_); }

 private:
  Op op_;
  std::vector<OpCase> cases_;
};

std::vector<OpCase> conv_cases(Op op, CaseSet set) {
  CaseList l(op);
  auto add = [&](const char* name, ConvGeom g) -> OpCase& {
    OpCase& c = l.add(name);
    c.conv = g;
    c.exact = true;
    return c;
  };
  if (set == CaseSet::test) {
    add("odd_3x3_pad1", {3, 3, 7, 5, 5, 3, 3, 1, 1});
    add("stride2_pad1", {2, 4, 9, 8, 3, 3, 3, 2, 1});
    add("rect_2x4", {2, 2, 6, 11, 3, 2, 4, 1, 0});
    add("stride3_pad2_4x4", {1, 2, 10, 10, 2, 4, 4, 3, 2});  // the last window row is mostly padding
    add("pad_gt_half", {2, 2, 4, 4, 2, 3, 3, 1, 2});          // corner windows hold one real cell
    add("1x1", {2, 8, 5, 5, 6, 1, 1, 1, 0});                  // cpu-gemm skips im2col here
    add("1x1_stride2", {2, 4, 6, 7, 3, 1, 1, 2, 0});
    add("full_window", {2, 3, 5, 5, 4, 5, 5, 1, 0});          // one output pixel
    add("batch1", {1, 3, 8, 8, 4, 3, 3, 1, 1});               // fewer images than threads
    add("batch5", {5, 2, 6, 6, 3, 3, 3, 2, 1});               // images split unevenly over threads
    if (op != Op::conv_bwd_data) add("no_bias", {2, 3, 6, 6, 4, 3, 3, 1, 1}).with_bias = false;
    OpCase& f = add("float_3x3", {2, 5, 9, 9, 6, 3, 3, 1, 1});
    f.exact = false;
    f.lo = -1.0f;
    f.hi = 1.0f;
  }
  for (const auto& [name, g] : preset_convs(set == CaseSet::test ? kTestBatch : kMicroBatch)) add(name, g);
  return l.take();
}

std::vector<OpCase> pool_cases(Op op, CaseSet set) {
  CaseList l(op);
  auto add = [&](const char* name, PoolGeom g) -> OpCase& {
    OpCase& c = l.add(name);
    c.pool = g;
    c.exact = true;  // integers in [-4, 4]: many ties, so the first-maximum rule is exercised
    return c;
  };
  if (set == CaseSet::test) {
    add("2x2_stride2", {2, 3, 6, 6, 2, 2, 0});
    add("odd_floor", {2, 3, 7, 5, 2, 2, 0});  // the last row and column belong to no window
    add("3x3_stride2_pad1", {2, 3, 9, 8, 3, 2, 1});
    add("3x3_stride2_pad1_even", {2, 2, 8, 8, 3, 2, 1});
    add("3x3_stride1", {2, 2, 6, 7, 3, 1, 0});  // overlapping windows: one cell can win several
    add("3x3_stride1_pad1", {1, 2, 5, 5, 3, 1, 1});
    add("4x4_stride3_pad1", {1, 2, 5, 9, 4, 3, 1});
    OpCase& neg = add("negative_pad", {2, 2, 7, 7, 3, 2, 1});  // a padded zero would beat every real cell
    neg.lo = -4.0f;
    neg.hi = -1.0f;
  }
  for (const auto& [name, g] : preset_pools(set == CaseSet::test ? kTestBatch : kMicroBatch)) add(name, g);
  return l.take();
}

std::vector<OpCase> lrn_cases(Op op, CaseSet set) {
  CaseList l(op);
  auto add = [&](const char* name, LrnGeom g) -> OpCase& {
    OpCase& c = l.add(name);
    c.lrn = g;
    return c;
  };
  if (set == CaseSet::test) {
    add("default_size5", {2, 7, 3, 4, 5, 1e-4, 0.75, 2.0});
    add("strong", {2, 8, 4, 3, 5, 2.0, 0.75, 1.0});      // s far from k: the normalisation dominates
    add("even_size4", {2, 6, 3, 3, 4, 1.0, 0.5, 1.5});   // asymmetric window: look behind 1, ahead 2
    add("size_gt_c", {2, 3, 4, 4, 9, 1.0, 0.75, 1.0});   // the window is clipped on both sides
    add("size1", {1, 4, 3, 3, 1, 1.0, 0.75, 1.0});
  }
  for (const auto& [name, g] : preset_lrns(set == CaseSet::test ? kTestBatch : kMicroBatch)) add(name, g);
  return l.take();
}

std::vector<OpCase> dense_cases(Op op, CaseSet set) {
  CaseList l(op);
  auto add = [&](const char* name, DenseGeom g) -> OpCase& {
    OpCase& c = l.add(name);
    c.dense = g;
    c.exact = true;
    return c;
  };
  if (set == CaseSet::test) {
    add("odd_3x7x5", {3, 7, 5});
    add("batch1", {1, 16, 3});
    add("out1", {5, 9, 1});
    add("no_bias", {4, 6, 5}).with_bias = false;
    if (op == Op::dense_bwd) {
      add("no_dx", {4, 9, 6}).with_dx = false;
      OpCase& first = add("no_dx_no_bias", {3, 5, 7});  // a first layer without bias: only dw is written
      first.with_dx = false;
      first.with_bias = false;
    }
    OpCase& f = add("float", {4, 33, 17});
    f.exact = false;
    f.lo = -1.0f;
    f.hi = 1.0f;
  }
  for (const auto& [name, g] : preset_denses(set == CaseSet::test ? kTestBatch : kMicroBatch)) add(name, g);
  return l.take();
}

std::vector<OpCase> relu_cases(Op op, CaseSet set) {
  CaseList l(op);
  auto add = [&](const char* name, int64_t n) {
    OpCase& c = l.add(name);
    c.count = n;
    c.exact = true;  // integers include exact zeros, where the mask must say no
  };
  if (set == CaseSet::test) {
    add("tiny7", 7);
    add("odd1001", 1001);
    for (const auto& [name, n] : preset_relus(kTestBatch))
      if (std::string_view(name) == "simple_relu1" || std::string_view(name) == "tfcifar_relu1") add(name, n);
  } else {
    for (const auto& [name, n] : preset_relus(kMicroBatch)) add(name, n);
  }
  return l.take();
}

std::vector<OpCase> softmax_cases(CaseSet set) {
  CaseList l(Op::softmax_xent);
  auto add = [&](const char* name, int n, int classes, float spread) -> OpCase& {
    OpCase& c = l.add(name);
    c.count = n;
    c.classes = classes;
    c.lo = -spread;
    c.hi = spread;
    return c;
  };
  if (set == CaseSet::test) {
    add("logits10", kTestBatch, 10, 8.0f);
    add("odd_5x7", 5, 7, 8.0f);
    add("large_logits", 3, 10, 100.0f);  // exp() overflows unless the maximum is subtracted first
    add("one_class", 4, 1, 8.0f);        // loss 0, gradient 0
    add("batch64", kMicroBatch, 10, 8.0f);
    add("no_loss", 6, 10, 8.0f).with_loss = false;        // the gradient alone
    add("no_dlogits", 6, 10, 8.0f).with_dlogits = false;  // the losses alone (evaluation)
  } else {
    add("logits10", kMicroBatch, 10, 8.0f);
  }
  return l.take();
}

std::vector<OpCase> sgd_cases(CaseSet set) {
  CaseList l(Op::sgd_update);
  auto add = [&](const char* name, int64_t n, SgdHyper h) -> OpCase& {
    OpCase& c = l.add(name);
    c.count = n;
    c.sgd = h;
    return c;
  };
  if (set == CaseSet::test) {
    add("momentum", 1000, {0.05, 0.9, 5e-4});
    add("plain_no_velocity", 257, {0.1, 0.0, 0.0}).with_velocity = false;
    add("momentum0_velocity", 300, {0.1, 0.0, 1e-3});  // the velocity buffer is still written: v = g
    add("simple_params", kSimpleParams, {0.01, 0.9, 5e-4});
  } else {
    add("simple_params", kSimpleParams, {0.01, 0.9, 5e-4});
    add("tfcifar_params", kTfcifarParams, {0.01, 0.9, 5e-4});
  }
  return l.take();
}

std::vector<OpCase> adam_cases(CaseSet set) {
  CaseList l(Op::adam_update);
  auto add = [&](const char* name, int64_t n, AdamHyper h) {
    OpCase& c = l.add(name);
    c.count = n;
    c.adam = h;
  };
  if (set == CaseSet::test) {
    add("step1", 1000, {1e-3, 0.9, 0.999, 1e-8, 0.0, 1});
    add("step7_wd", 513, {1e-2, 0.8, 0.99, 1e-6, 1e-2, 7});
    add("simple_params", kSimpleParams, {1e-3, 0.9, 0.999, 1e-8, 0.0, 3});
  } else {
    add("simple_params", kSimpleParams, {1e-3, 0.9, 0.999, 1e-8, 0.0, 3});
    add("tfcifar_params", kTfcifarParams, {1e-3, 0.9, 0.999, 1e-8, 0.0, 3});
  }
  return l.take();
}

// Calls f(std::integral_constant<Op, op>{}, args) with the case's Args, pointers from ptr(name).
template <class Ptr, class F>
auto with_args(const OpCase& c, Ptr&& p, const int32_t* labels, F&& f) {
  using enum Op;
  switch (c.op) {
    case conv_fwd:
      return f(std::integral_constant<Op, conv_fwd>{}, ConvFwdArgs{c.conv, p("x"), p("w"), p("bias"), p("y")});
    case conv_bwd_data:
      return f(std::integral_constant<Op, conv_bwd_data>{}, ConvBwdDataArgs{c.conv, p("dy"), p("w"), p("dx")});
    case conv_bwd_filter:
      return f(std::integral_constant<Op, conv_bwd_filter>{},
               ConvBwdFilterArgs{c.conv, p("x"), p("dy"), p("dw"), p("dbias")});
    case relu_fwd:
      return f(std::integral_constant<Op, relu_fwd>{}, ReluFwdArgs{c.count, p("x"), p("y")});
    case relu_bwd:
      return f(std::integral_constant<Op, relu_bwd>{}, ReluBwdArgs{c.count, p("y"), p("dy"), p("dx")});
    case pool_fwd:
      return f(std::integral_constant<Op, pool_fwd>{}, PoolFwdArgs{c.pool, p("x"), p("y")});
    case pool_bwd:
      return f(std::integral_constant<Op, pool_bwd>{}, PoolBwdArgs{c.pool, p("x"), p("y"), p("dy"), p("dx")});
    case lrn_fwd:
      return f(std::integral_constant<Op, lrn_fwd>{}, LrnFwdArgs{c.lrn, p("x"), p("y")});
    case lrn_bwd:
      return f(std::integral_constant<Op, lrn_bwd>{}, LrnBwdArgs{c.lrn, p("x"), p("y"), p("dy"), p("dx")});
    case dense_fwd:
      return f(std::integral_constant<Op, dense_fwd>{}, DenseFwdArgs{c.dense, p("x"), p("w"), p("bias"), p("y")});
    case dense_bwd:
      return f(std::integral_constant<Op, dense_bwd>{},
               DenseBwdArgs{c.dense, p("x"), p("w"), p("dy"), p("dx"), p("dw"), p("dbias")});
    case softmax_xent:
      return f(std::integral_constant<Op, softmax_xent>{},
               SoftmaxXentArgs{int(c.count), c.classes, p("logits"), labels, p("loss"), p("dlogits")});
    case sgd_update:
      return f(std::integral_constant<Op, sgd_update>{}, SgdArgs{c.count, c.sgd, p("param"), p("grad"), p("velocity")});
    case adam_update:
      return f(std::integral_constant<Op, adam_update>{}, AdamArgs{c.count, c.adam, p("param"), p("grad"), p("m"), p("v")});
  }
  fail("op case '{}': unknown op {}", c.name, int(c.op));
}

HostTensor& find(std::vector<HostTensor>& ts, std::string_view name) {
  for (auto& t : ts)
    if (t.name == name) return t;
  fail("op case: no input tensor named '{}'", name);
}

template <Op op>
void run_ref(const typename OpTraits<op>::ArgsT& args) {
  const KernelInfo* k = find_kernel(op, "cpu", "ref");
  CNNB_ASSERT(k);
  kernel_fn<op>(*k)(ExecCtx{}, args);
}

}  // namespace

std::string OpCase::geometry() const {
  switch (op) {
    case Op::conv_fwd:
    case Op::conv_bwd_data:
    case Op::conv_bwd_filter:
      return fmt::format("n{} c{}x{}x{} k{} {}x{} stride{} pad{}{}", conv.n, conv.c, conv.h, conv.w, conv.k, conv.r,
                         conv.s, conv.stride, conv.pad, with_bias || op == Op::conv_bwd_data ? "" : " no-bias");
    case Op::pool_fwd:
    case Op::pool_bwd:
      return fmt::format("n{} c{}x{}x{} window{} stride{} pad{}", pool.n, pool.c, pool.h, pool.w, pool.window,
                         pool.stride, pool.pad);
    case Op::lrn_fwd:
    case Op::lrn_bwd:
      return fmt::format("n{} c{}x{}x{} size{} alpha{} beta{} k{}", lrn.n, lrn.c, lrn.h, lrn.w, lrn.size, lrn.alpha,
                         lrn.beta, lrn.k);
    case Op::dense_fwd:
    case Op::dense_bwd:
      return fmt::format("n{} in{} out{}{}{}", dense.n, dense.in, dense.out, with_bias ? "" : " no-bias",
                         with_dx || op == Op::dense_fwd ? "" : " no-dx");
    case Op::relu_fwd:
    case Op::relu_bwd:
      return fmt::format("n{}", count);
    case Op::softmax_xent:
      return fmt::format("n{} classes{} logits in [{}, {}]{}{}", count, classes, lo, hi, with_loss ? "" : " no-loss",
                         with_dlogits ? "" : " no-dlogits");
    case Op::sgd_update:
      return fmt::format("n{} lr{} momentum{} wd{}{}", count, sgd.lr, sgd.momentum, sgd.weight_decay,
                         with_velocity ? "" : " no-velocity");
    case Op::adam_update:
      return fmt::format("n{} lr{} beta1 {} beta2 {} eps{} wd{} step{}", count, adam.lr, adam.beta1, adam.beta2,
                         adam.eps, adam.weight_decay, adam.step);
  }
  return "?";
}

std::vector<OpCase> op_cases(Op op, CaseSet set) {
  switch (op) {
    case Op::conv_fwd:
    case Op::conv_bwd_data:
    case Op::conv_bwd_filter:
      return conv_cases(op, set);
    case Op::pool_fwd:
    case Op::pool_bwd:
      return pool_cases(op, set);
    case Op::lrn_fwd:
    case Op::lrn_bwd:
      return lrn_cases(op, set);
    case Op::dense_fwd:
    case Op::dense_bwd:
      return dense_cases(op, set);
    case Op::relu_fwd:
    case Op::relu_bwd:
      return relu_cases(op, set);
    case Op::softmax_xent:
      return softmax_cases(set);
    case Op::sgd_update:
      return sgd_cases(set);
    case Op::adam_update:
      return adam_cases(set);
  }
  fail("op_cases: unknown op {}", int(op));
}

std::vector<TensorSpec> tensor_specs(const OpCase& c) {
  std::vector<TensorSpec> s;
  auto in = [&](const char* name, int64_t n, float lo, float hi) { s.push_back({name, n, Role::in, lo, hi}); };
  auto out = [&](const char* name, int64_t n) { s.push_back({name, n, Role::out, 0.0f, 0.0f}); };
  auto inout = [&](const char* name, int64_t n, float lo, float hi) { s.push_back({name, n, Role::inout, lo, hi}); };
  const float lo = c.lo, hi = c.hi;
  // Gradients and weights of exact cases are small integers too; of float cases, values of order one.
  const float glo = c.exact ? lo : -1.0f, ghi = c.exact ? hi : 1.0f;
  switch (c.op) {
    case Op::conv_fwd:
      in("x", c.conv.x_size(), lo, hi);
      in("w", c.conv.w_size(), glo, ghi);
      if (c.with_bias) in("bias", c.conv.k, glo, ghi);
      out("y", c.conv.y_size());
      break;
    case Op::conv_bwd_data:
      in("dy", c.conv.y_size(), lo, hi);
      in("w", c.conv.w_size(), glo, ghi);
      out("dx", c.conv.x_size());
      break;
    case Op::conv_bwd_filter:
      in("x", c.conv.x_size(), lo, hi);
      in("dy", c.conv.y_size(), glo, ghi);
      out("dw", c.conv.w_size());
      if (c.with_bias) out("dbias", c.conv.k);
      break;
    case Op::relu_fwd:
      in("x", c.count, lo, hi);
      out("y", c.count);
      break;
    case Op::relu_bwd:
      in("y", c.count, lo, hi);  // clamped at 0 by make_inputs
      in("dy", c.count, glo, ghi);
      out("dx", c.count);
      break;
    case Op::pool_fwd:
      in("x", c.pool.x_size(), lo, hi);
      out("y", c.pool.y_size());
      break;
    case Op::pool_bwd:
      in("x", c.pool.x_size(), lo, hi);
      in("y", c.pool.y_size(), 0.0f, 0.0f);  // pool_fwd(x), computed by make_inputs
      in("dy", c.pool.y_size(), c.exact ? -4.0f : -1.0f, c.exact ? 4.0f : 1.0f);
      out("dx", c.pool.x_size());
      break;
    case Op::lrn_fwd:
      in("x", c.lrn.x_size(), lo, hi);
      out("y", c.lrn.x_size());
      break;
    case Op::lrn_bwd:
      in("x", c.lrn.x_size(), lo, hi);
      in("y", c.lrn.x_size(), 0.0f, 0.0f);  // lrn_fwd(x), computed by make_inputs
      in("dy", c.lrn.x_size(), -1.0f, 1.0f);
      out("dx", c.lrn.x_size());
      break;
    case Op::dense_fwd:
      in("x", int64_t(c.dense.n) * c.dense.in, lo, hi);
      in("w", int64_t(c.dense.out) * c.dense.in, glo, ghi);
      if (c.with_bias) in("bias", c.dense.out, glo, ghi);
      out("y", int64_t(c.dense.n) * c.dense.out);
      break;
    case Op::dense_bwd:
      in("x", int64_t(c.dense.n) * c.dense.in, lo, hi);
      in("w", int64_t(c.dense.out) * c.dense.in, glo, ghi);
      in("dy", int64_t(c.dense.n) * c.dense.out, glo, ghi);
      if (c.with_dx) out("dx", int64_t(c.dense.n) * c.dense.in);
      out("dw", int64_t(c.dense.out) * c.dense.in);
      if (c.with_bias) out("dbias", c.dense.out);
      break;
    case Op::softmax_xent:
      in("logits", c.count * c.classes, lo, hi);
      if (c.with_loss) out("loss", c.count);
      if (c.with_dlogits) out("dlogits", c.count * c.classes);
      break;
    case Op::sgd_update:
      inout("param", c.count, -1.0f, 1.0f);
      in("grad", c.count, -1.0f, 1.0f);
      if (c.with_velocity) inout("velocity", c.count, -1.0f, 1.0f);
      break;
    case Op::adam_update:
      inout("param", c.count, -1.0f, 1.0f);
      in("grad", c.count, -1.0f, 1.0f);
      inout("m", c.count, -0.1f, 0.1f);
      inout("v", c.count, 0.0f, 0.01f);  // a second moment is never negative
      break;
  }
  return s;
}

CaseInputs make_inputs(const OpCase& c) {
  CaseInputs in;
  const auto specs = tensor_specs(c);
  for (size_t i = 0; i < specs.size(); ++i) {
    const TensorSpec& s = specs[i];
    if (s.role == Role::out) continue;
    Rng rng = Rng::stream(c.seed, i);
    std::vector<float> v(size_t(s.size));
    if (c.exact) {
      const int lo = int(s.lo), span = int(s.hi) - lo + 1;
      for (float& e : v) e = float(lo + int(rng.below(uint64_t(span))));
    } else {
      for (float& e : v) e = float(rng.uniform(s.lo, s.hi));
    }
    in.tensors.push_back({s.name, std::move(v)});
  }
  switch (c.op) {
    case Op::relu_bwd:
      for (float& e : find(in.tensors, "y").values) e = std::max(e, 0.0f);
      break;
    case Op::pool_bwd:
      run_ref<Op::pool_fwd>({c.pool, find(in.tensors, "x").values.data(), find(in.tensors, "y").values.data()});
      break;
    case Op::lrn_bwd:
      run_ref<Op::lrn_fwd>({c.lrn, find(in.tensors, "x").values.data(), find(in.tensors, "y").values.data()});
      break;
    case Op::softmax_xent: {
      Rng rng = Rng::stream(c.seed, specs.size());
      in.labels.resize(size_t(c.count));
      for (int32_t& l : in.labels) l = int32_t(rng.below(uint64_t(c.classes)));
      break;
    }
    default:
      break;
  }
  return in;
}

double case_flops(const OpCase& c) {
  const auto specs = tensor_specs(c);
  float present = 0.0f;  // op_flops only asks whether optional pointers are null
  auto p = [&](std::string_view name) -> float* {
    for (const auto& s : specs)
      if (s.name == name) return &present;
    return nullptr;
  };
  return with_args(c, p, nullptr, [](auto, const auto& args) { return op_flops(args); });
}

double case_bytes(const OpCase& c) {
  double bytes = 0.0;
  for (const auto& s : tensor_specs(c)) bytes += double(s.size) * sizeof(float) * (s.role == Role::inout ? 2 : 1);
  if (c.op == Op::softmax_xent) bytes += double(c.count) * sizeof(int32_t);
  return bytes;
}

CaseTensors::CaseTensors(const OpCase& c, Device& dev) : case_(c), dev_(&dev), specs_(tensor_specs(c)) {
  CaseInputs in = make_inputs(c);
  size_t next = 0;
  for (const auto& s : specs_) {
    Buffer<float> b(dev, size_t(s.size));
    if (s.role == Role::out)
      b.upload(std::vector<float>(size_t(s.size), std::numeric_limits<float>::quiet_NaN()));
    else
      b.upload(in.tensors[next++].values);
    buffers_.push_back(std::move(b));
  }
  if (!in.labels.empty()) {
    labels_ = Buffer<int32_t>(dev, in.labels.size());
    labels_.upload(in.labels);
  }
}

float* CaseTensors::ptr(std::string_view name) {
  for (size_t i = 0; i < specs_.size(); ++i)
    if (specs_[i].name == name) return buffers_[i].data();
  return nullptr;
}

std::function<void()> CaseTensors::bind(const KernelInfo& k) {
  CNNB_CHECK(k.op == case_.op, "kernel {} cannot run case '{}' of op {}", k.full_name(), case_.name,
             op_name(case_.op));
  CNNB_CHECK(k.device == dev_->kind(), "kernel {} runs on {}, but case '{}' was put on {}", k.full_name(),
             device_kind_name(k.device), case_.name, dev_->name());
  const ExecCtx* ctx = &dev_->ctx();
  return with_args(case_, [this](std::string_view n) { return ptr(n); }, labels_.data(),
                   [&k, ctx](auto op, const auto& args) -> std::function<void()> {
                     const auto fn = kernel_fn<decltype(op)::value>(k);
                     return [fn, ctx, args] { fn(*ctx, args); };
                   });
}

void CaseTensors::run(const KernelInfo& k) {
  bind(k)();
  dev_->synchronize();
}

std::vector<HostTensor> CaseTensors::outputs() const {
  std::vector<HostTensor> out;
  for (size_t i = 0; i < specs_.size(); ++i)
    if (specs_[i].role != Role::in) out.push_back({specs_[i].name, buffers_[i].to_host()});
  return out;
}

}  // namespace cnnb
