// Every CPU kernel variant in kernels.def against cpu/ref on every case of its op (backends/op_cases.h),
// one GoogleTest per (variant, case): a new kernels.def line is tested without editing this file.
// The CUDA variants have the same loop on a GPU in cnnbench-gpu-tests (tests/gpu/test_gpu_kernels.cpp).
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <memory>
#include <span>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "backends/cpu/ref.h"
#include "backends/op_cases.h"
#include "backends/registry.h"
#include "backends/verify.h"
#include "core/device.h"
#include "tests/kernel_cases.h"

namespace cnnb {
namespace {

// More threads than this machine's cores on purpose: images split unevenly, and batch-1 cases take the
// BLAS-threaded path.
constexpr int kThreads = 3;

std::vector<Op> all_ops() {
  return {
#define OP(name, Args) Op::name,
#include "backends/ops.def"
#undef OP
  };
}

using test::KernelCase;

class KernelsVsRef : public ::testing::TestWithParam<KernelCase> {};

TEST_P(KernelsVsRef, Matches) {
  const auto& [k, c] = GetParam();
  auto dev = make_cpu_device(0, kThreads);
  const VerifyResult r = verify_kernel(*k, c, *dev);
  EXPECT_TRUE(r.pass) << r.kernel << " on " << r.case_name << " (" << r.geometry << "): " << r.reason
                      << " [tolerance " << r.tol.str() << "]";
  EXPECT_FALSE(r.skipped);
}

INSTANTIATE_TEST_SUITE_P(, KernelsVsRef, ::testing::ValuesIn(test::kernel_cases(DeviceKind::cpu)), test::kernel_case_name);

// ---- the case list itself

TEST(KernelsVsRefCases, EveryOpHasNamedCasesAndAReference) {
  for (Op op : all_ops()) {
    SCOPED_TRACE(op_name(op));
    EXPECT_NE(find_kernel(op, "cpu", "ref"), nullptr);
    for (CaseSet set : {CaseSet::test, CaseSet::micro}) {
      const auto cases = op_cases(op, set);
      EXPECT_FALSE(cases.empty());
      std::set<std::string> names;
      for (const OpCase& c : cases) {
        EXPECT_EQ(c.op, op);
        EXPECT_TRUE(names.insert(c.name).second) << "duplicate case name " << c.name;
        EXPECT_TRUE(std::all_of(c.name.begin(), c.name.end(),
                                [](char ch) { return std::islower(static_cast<unsigned char>(ch)) ||
                                                     std::isdigit(static_cast<unsigned char>(ch)) || ch == '_'; }))
            << c.name;
        EXPECT_GT(case_flops(c), 0.0) << c.name;
        EXPECT_GT(case_bytes(c), 0.0) << c.name;
      }
    }
  }
}

TEST(KernelsVsRefCases, PresetLayersAreInBothSets) {
  auto names = [](Op op, CaseSet set) {
    std::set<std::string> s;
    for (const auto& c : op_cases(op, set)) s.insert(c.name);
    return s;
  };
  for (const char* n : {"simple_conv1", "simple_conv2", "tfcifar_conv1", "tfcifar_conv2"}) {
    EXPECT_TRUE(names(Op::conv_fwd, CaseSet::test).count(n)) << n;
    EXPECT_TRUE(names(Op::conv_bwd_filter, CaseSet::micro).count(n)) << n;
  }
  for (const auto& c : op_cases(Op::conv_fwd, CaseSet::micro)) EXPECT_EQ(c.conv.n, 64) << c.name;
  for (const auto& c : op_cases(Op::dense_fwd, CaseSet::micro)) EXPECT_EQ(c.dense.n, 64) << c.name;
  // tfcifar's pool: window 3, stride 2, pad 1 turns 32x32 into 16x16, which conv2 and fc1 (64*8*8) expect.
  for (const auto& c : op_cases(Op::pool_fwd, CaseSet::test)) {
    if (c.name == "tfcifar_pool1") {
      EXPECT_EQ(c.pool.p(), 16);
    }
  }
  for (const auto& c : op_cases(Op::sgd_update, CaseSet::micro)) {
    if (c.name == "tfcifar_params") {
      EXPECT_EQ(c.count, 1756426);
    }
  }
}

// Every optional pointer of ops.h is passed null by at least one test case of its op, so every variant
// (here, in `cnnbench verify` and in the GPU suite) is checked without it, and with it by another case.
TEST(KernelsVsRefCases, EveryOptionalPointerIsNullInSomeCaseAndPresentInAnother) {
  struct Optional {
    Op op;
    const char* tensor;
  };
  const Optional optional[] = {
      {Op::conv_fwd, "bias"},    {Op::conv_bwd_filter, "dbias"}, {Op::dense_fwd, "bias"},
      {Op::dense_bwd, "dx"},     {Op::dense_bwd, "dbias"},       {Op::softmax_xent, "loss"},
      {Op::softmax_xent, "dlogits"}, {Op::sgd_update, "velocity"},
  };
  for (const auto& [op, tensor] : optional) {
    int with = 0, without = 0;
    for (const OpCase& c : op_cases(op, CaseSet::test)) {
      const auto specs = tensor_specs(c);
      const bool present =
          std::any_of(specs.begin(), specs.end(), [&](const TensorSpec& s) { return s.name == tensor; });
      (present ? with : without) += 1;
      if (!present && op == Op::sgd_update) EXPECT_EQ(c.sgd.momentum, 0.0) << c.name;
    }
    EXPECT_GT(without, 0) << op_name(op) << ": no case passes a null " << tensor;
    EXPECT_GT(with, 0) << op_name(op) << ": no case passes " << tensor;
  }
  // dense_bwd's two optional outputs are also null together (a first layer without bias).
  bool both = false;
  for (const OpCase& c : op_cases(Op::dense_bwd, CaseSet::test)) both = both || (!c.with_dx && !c.with_bias);
  EXPECT_TRUE(both);
}

TEST(KernelsVsRefCases, InputsAreDeterministicAndDifferBetweenCases) {
  const auto cases = op_cases(Op::conv_fwd, CaseSet::test);
  ASSERT_GE(cases.size(), 2u);
  const CaseInputs a = make_inputs(cases[0]), b = make_inputs(cases[0]);
  ASSERT_EQ(a.tensors.size(), b.tensors.size());
  for (size_t i = 0; i < a.tensors.size(); ++i) EXPECT_EQ(a.tensors[i].values, b.tensors[i].values);
  OpCase other = cases[0];
  other.seed += 1;
  EXPECT_NE(make_inputs(other).tensors[0].values, a.tensors[0].values);
}

TEST(KernelsVsRefCases, ExactCasesStayExactInFloat) {
  // The exact rule (max abs error 0) relies on every partial sum being an integer below 2^24.
  const double limit = 16777216.0;
  for (Op op : all_ops())
    for (const OpCase& c : op_cases(op, CaseSet::test)) {
      if (!c.exact) continue;
      const double m = std::max(std::abs(c.lo), std::abs(c.hi));
      const double term = m * 4.0;  // weights and gradients of exact cases lie in [-4, 4]
      double terms = 1.0;
      if (op == Op::conv_fwd) terms = double(c.conv.c) * c.conv.r * c.conv.s + 1;
      if (op == Op::conv_bwd_data) terms = double(c.conv.k) * c.conv.r * c.conv.s;
      if (op == Op::conv_bwd_filter) terms = double(c.conv.n) * c.conv.p() * c.conv.q();
      if (op == Op::dense_fwd) terms = c.dense.in + 1.0;
      if (op == Op::dense_bwd) terms = std::max({double(c.dense.out), double(c.dense.n)});
      if (op == Op::pool_bwd) terms = double(c.pool.window) * c.pool.window;
      EXPECT_LT(terms * term, limit) << op_name(op) << " " << c.name;
    }
}

TEST(KernelsVsRefCases, InputsOfBackwardOpsAgreeWithTheirForward) {
  for (const OpCase& c : op_cases(Op::pool_bwd, CaseSet::test)) {
    const CaseInputs in = make_inputs(c);
    std::vector<float> y(size_t(c.pool.y_size()));
    ref::pool_fwd<float>(ExecCtx{}, {c.pool, in.tensors[0].values.data(), y.data()});
    EXPECT_EQ(in.tensors[1].name, "y");
    EXPECT_EQ(in.tensors[1].values, y) << c.name;
  }
  for (const OpCase& c : op_cases(Op::relu_bwd, CaseSet::test)) {
    const CaseInputs in = make_inputs(c);
    EXPECT_TRUE(std::all_of(in.tensors[0].values.begin(), in.tensors[0].values.end(), [](float v) { return v >= 0; }));
    EXPECT_GT(std::count(in.tensors[0].values.begin(), in.tensors[0].values.end(), 0.0f), 0) << c.name;
  }
}

// ---- the checker must be able to fail: deliberately broken kernels

void relu_skips_last(const ExecCtx&, const ReluFwdArgs& a) {
  for (int64_t i = 0; i + 1 < a.n; ++i) a.y[i] = a.x[i] > 0 ? a.x[i] : 0;
}
void conv_one_ulp_off(const ExecCtx& ctx, const ConvFwdArgs& a) {
  ref::conv_fwd<float>(ctx, a);
  a.y[a.g.y_size() / 2] = std::nextafter(a.y[a.g.y_size() / 2], 1e9f);
}
void dense_bwd_accumulates(const ExecCtx& ctx, const DenseBwdArgs& a) {
  // Adds into dw instead of overwriting it: the NaN the checker leaves there survives.
  std::vector<float> dw(size_t(a.g.out) * a.g.in);
  DenseBwdArgs b = a;
  b.dw = dw.data();
  ref::dense_bwd<float>(ctx, b);
  for (size_t i = 0; i < dw.size(); ++i) a.dw[i] += dw[i];
}
void lrn_alpha_not_divided(const ExecCtx& ctx, const LrnFwdArgs& a) {
  LrnFwdArgs b = a;
  b.g.alpha = a.g.alpha * a.g.size;
  ref::lrn_fwd<float>(ctx, b);
}
void pool_bwd_last_max(const ExecCtx&, const PoolBwdArgs& a) {
  // Same as the reference except that ties go to the LAST maximum.
  const PoolGeom& g = a.g;
  const int64_t in_plane = int64_t(g.h) * g.w, out_plane = int64_t(g.p()) * g.q();
  for (int64_t nc = 0; nc < int64_t(g.n) * g.c; ++nc) {
    const float* x = a.x + nc * in_plane;
    float* dx = a.dx + nc * in_plane;
    std::fill(dx, dx + in_plane, 0.0f);
    for (int p = 0; p < g.p(); ++p)
      for (int q = 0; q < g.q(); ++q) {
        int64_t best = -1;
        for (int i = 0; i < g.window; ++i)
          for (int j = 0; j < g.window; ++j) {
            const int ih = p * g.stride - g.pad + i, iw = q * g.stride - g.pad + j;
            if (ih < 0 || ih >= g.h || iw < 0 || iw >= g.w) continue;
            if (best < 0 || x[ih * g.w + iw] >= x[best]) best = ih * g.w + iw;
          }
        dx[best] += a.dy[nc * out_plane + p * g.q() + q];
      }
  }
}
void softmax_throws(const ExecCtx&, const SoftmaxXentArgs&) { throw std::runtime_error("unsupported shape"); }

template <Op op>
KernelInfo broken(typename OpTraits<op>::Fn fn) {
  return {op, "test", "broken", DeviceKind::cpu, reinterpret_cast<AnyKernelFn>(fn)};
}

OpCase first_case(Op op, bool exact) {
  for (OpCase& c : op_cases(op, CaseSet::test))
    if (c.exact == exact) return c;
  throw std::logic_error("no such case");
}

TEST(KernelsVsRefChecker, RejectsBrokenKernels) {
  auto dev = make_cpu_device(0, 1);
  struct Bad {
    KernelInfo k;
    OpCase c;
    const char* tensor;
  };
  const Bad bad[] = {
      {broken<Op::relu_fwd>(&relu_skips_last), first_case(Op::relu_fwd, true), "y"},
      {broken<Op::conv_fwd>(&conv_one_ulp_off), first_case(Op::conv_fwd, true), "y"},
      {broken<Op::dense_bwd>(&dense_bwd_accumulates), first_case(Op::dense_bwd, true), "dw"},
      {broken<Op::lrn_fwd>(&lrn_alpha_not_divided), first_case(Op::lrn_fwd, false), "y"},
      {broken<Op::pool_bwd>(&pool_bwd_last_max), first_case(Op::pool_bwd, true), "dx"},
  };
  for (const Bad& b : bad) {
    SCOPED_TRACE(op_name(b.k.op));
    const VerifyResult r = verify_kernel(b.k, b.c, *dev);
    EXPECT_FALSE(r.pass) << r.reason;
    EXPECT_EQ(r.worst, b.tensor);
    EXPECT_NE(r.reason.find(b.tensor), std::string::npos) << r.reason;
  }
  const VerifyResult r = verify_kernel(broken<Op::softmax_xent>(&softmax_throws), first_case(Op::softmax_xent, false), *dev);
  EXPECT_FALSE(r.pass);
  EXPECT_EQ(r.reason, "threw: unsupported shape");
}

TEST(KernelsVsRefChecker, ToleranceTable) {
  const OpCase conv = first_case(Op::conv_fwd, true);
  EXPECT_TRUE(tolerance_for(conv, "cpu").exact);
  EXPECT_TRUE(tolerance_for(conv, "cuda").exact);
  EXPECT_FALSE(tolerance_for(conv, "cudnn").exact);  // FFT / Winograd round integer inputs
  EXPECT_FALSE(tolerance_for(first_case(Op::conv_fwd, false), "cpu").exact);
  EXPECT_TRUE(tolerance_for(first_case(Op::pool_bwd, true), "cudnn").exact);
  EXPECT_LE(tolerance_for(first_case(Op::lrn_bwd, false), "cpu").nmse, 1e-9);
}

TEST(KernelsVsRefChecker, VerifyAllRowsForAFilter) {
  const auto rows = verify_all("relu_fwd/cpu/omp", 2);
  ASSERT_EQ(rows.size(), op_cases(Op::relu_fwd, CaseSet::test).size());
  for (const auto& r : rows) {
    EXPECT_EQ(r.kernel, "relu_fwd/cpu/omp");
    EXPECT_TRUE(r.pass) << r.case_name << ": " << r.reason;
    EXPECT_FALSE(r.skipped);
  }
  EXPECT_TRUE(verify_all("no-such-variant", 1).empty());
}

// ---- verify_all after a lost CUDA context, driven with made-up CUDA variants. Their "GPU" is a CPU
// device, so every one of them fails (bind refuses the device kind): the failures the probe is asked about.

void relu_fwd_never_runs(const ExecCtx&, const ReluFwdArgs&) { throw std::logic_error("a CUDA stand-in ran"); }
void relu_bwd_never_runs(const ExecCtx&, const ReluBwdArgs&) { throw std::logic_error("a CUDA stand-in ran"); }

template <Op op>
KernelInfo on_gpu(std::string_view variant, typename OpTraits<op>::Fn fn) {
  return {op, "fake", variant, DeviceKind::cuda, reinterpret_cast<AnyKernelFn>(fn)};
}

struct LossScenario {
  std::vector<KernelInfo> kernels;
  size_t fwd_cases = op_cases(Op::relu_fwd, CaseSet::test).size();
  size_t bwd_cases = op_cases(Op::relu_bwd, CaseSet::test).size();
  LossScenario() {
    const KernelInfo* omp = find_kernel(Op::relu_fwd, "cpu", "omp");
    if (!omp) throw std::logic_error("relu_fwd/cpu/omp is not registered");
    kernels = {on_gpu<Op::relu_fwd>("crash", &relu_fwd_never_runs), *omp,
               on_gpu<Op::relu_bwd>("after", &relu_bwd_never_runs)};
  }
  VerifyOptions options(ContextProbe probe) const {
    VerifyOptions opt;
    opt.cpu_threads = 1;
    opt.kernels = kernels;
    opt.make_gpu = [] { return make_cpu_device(0, 1); };
    opt.context_health = std::move(probe);
    return opt;
  }
};

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

TEST(VerifyContextLoss, LaterGpuRowsAreNotRunAndCpuRowsGoOn) {
  const LossScenario s;
  int probes = 0;
  std::vector<int> probed;
  const std::string lost = "gpu:0: cudaErrorIllegalAddress (an illegal memory access was encountered)";
  const auto rows = verify_all(s.options([&](std::span<const int> gpus) {
    ++probes;
    probed.assign(gpus.begin(), gpus.end());
    return ContextHealth{true, lost};
  }));
  ASSERT_GE(s.fwd_cases, 2u);
  ASSERT_EQ(rows.size(), 2 * s.fwd_cases + s.bwd_cases);
  EXPECT_EQ(probes, 1);  // the loss is known after the first failure: nothing probes again
  EXPECT_EQ(probed, std::vector<int>{0});
  const std::string first_case = op_cases(Op::relu_fwd, CaseSet::test)[0].name;
  const std::string not_run = "not run: CUDA context lost after relu_fwd/fake/crash/" + first_case;
  for (size_t i = 0; i < rows.size(); ++i) {
    const VerifyResult& r = rows[i];
    SCOPED_TRACE(r.kernel + " " + r.case_name);
    if (i == 0) {  // the row after which the context was lost fails and says so
      EXPECT_EQ(r.kernel, "relu_fwd/fake/crash");
      EXPECT_EQ(r.case_name, first_case);
      EXPECT_FALSE(r.pass);
      EXPECT_FALSE(r.skipped);
      EXPECT_FALSE(r.not_run);
      EXPECT_EQ(r.reason.rfind("threw: ", 0), 0u) << r.reason;
      EXPECT_TRUE(ends_with(r.reason, "; CUDA context lost: " + lost)) << r.reason;
    } else if (i < s.fwd_cases) {  // the rest of that variant
      EXPECT_EQ(r.kernel, "relu_fwd/fake/crash");
      EXPECT_TRUE(r.skipped && r.not_run && !r.pass);
      EXPECT_EQ(r.reason, not_run);
    } else if (i < 2 * s.fwd_cases) {  // CPU rows go on
      EXPECT_EQ(r.kernel, "relu_fwd/cpu/omp");
      EXPECT_TRUE(r.pass) << r.reason;
      EXPECT_FALSE(r.skipped);
    } else {  // a later CUDA variant
      EXPECT_EQ(r.kernel, "relu_bwd/fake/after");
      EXPECT_TRUE(r.skipped && r.not_run && !r.pass);
      EXPECT_EQ(r.reason, not_run);
    }
  }
}

TEST(VerifyContextLoss, AHealthyContextAfterAFailureChangesNothing) {
  const LossScenario s;
  int probes = 0;
  const auto rows = verify_all(s.options([&](std::span<const int>) {
    ++probes;
    return ContextHealth{};
  }));
  ASSERT_EQ(rows.size(), 2 * s.fwd_cases + s.bwd_cases);
  EXPECT_EQ(probes, int(s.fwd_cases + s.bwd_cases));  // once per failed CUDA row
  for (const auto& r : rows) {
    SCOPED_TRACE(r.kernel + " " + r.case_name);
    EXPECT_FALSE(r.skipped);
    EXPECT_FALSE(r.not_run);
    EXPECT_EQ(r.pass, r.kernel == "relu_fwd/cpu/omp") << r.reason;
    EXPECT_EQ(r.reason.find("CUDA context lost"), std::string::npos) << r.reason;
  }
}

TEST(VerifyContextLoss, SelectionDecidesWhatRunsNotOnlyWhatPrints) {
  const LossScenario s;
  int probes = 0, gpus_made = 0;
  VerifyOptions opt = s.options([&](std::span<const int>) {
    ++probes;
    return ContextHealth{true, "lost"};
  });
  opt.make_gpu = [&] {
    ++gpus_made;
    return make_cpu_device(0, 1);
  };
  opt.variants = {"relu_fwd/cpu/omp"};
  auto rows = verify_all(opt);
  ASSERT_EQ(rows.size(), s.fwd_cases);  // the CUDA variants never ran: nothing failed, nothing was probed
  for (const auto& r : rows) EXPECT_TRUE(r.pass) << r.kernel << " " << r.reason;
  EXPECT_EQ(probes, 0);
  EXPECT_EQ(gpus_made, 0);

  opt.variants.clear();
  opt.filter = "fake/after";
  rows = verify_all(opt);
  ASSERT_EQ(rows.size(), s.bwd_cases);
  for (const auto& r : rows) EXPECT_EQ(r.kernel, "relu_bwd/fake/after");
  EXPECT_EQ(gpus_made, 1);
  EXPECT_EQ(probes, 1);
}

TEST(VerifyContextLoss, WithoutAGpuCudaRowsAreSkippedNotFailed) {
  const LossScenario s;
  VerifyOptions opt = s.options([](std::span<const int>) { return ContextHealth{true, "must not be asked"}; });
  opt.make_gpu = [] { return std::unique_ptr<Device>(); };
  const auto rows = verify_all(opt);
  ASSERT_EQ(rows.size(), 2 * s.fwd_cases + s.bwd_cases);
  for (const auto& r : rows) {
    if (r.kernel == "relu_fwd/cpu/omp") {
      EXPECT_TRUE(r.pass);
      continue;
    }
    EXPECT_TRUE(r.skipped);
    EXPECT_FALSE(r.not_run);
    EXPECT_EQ(r.reason, "no CUDA device");
  }
}

}  // namespace
}  // namespace cnnb
