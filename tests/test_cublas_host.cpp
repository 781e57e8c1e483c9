// The host-side logic of the cuda-gemm and cudnn backends, which cannot run their GPU half here:
//   - cuda-gemm's per-thread bodies (im2col/col2im over a chunk of images, bias broadcast, the phases of
//     the bias-gradient block reduction) over whole grids against lowering.h's host loops and sums;
//   - the production flows of cuda-gemm (backends/cublas/flows.h: chunking, the 1x1 branch, one GEMM
//     per image, bias and its gradient) run with a CPU executor, whose GEMM reads the very arguments
//     cublasSgemm would get the way cuBLAS defines them, on every op case against cpu-ref;
//   - the cublasSgemm arguments made from each GemmCall: hand-checked values and cuBLAS's own validity
//     rules on every shared test case;
//   - the workspace growth rule, the column chunking and the error naming;
//   - the cudnn softmax_xent bodies against cpu-ref;
//   - the cuDNN algorithm choice on made-up perf lists, the LRN parameter mapping and its limits, and
//     cuDNN's own descriptors (host calls that need no GPU): output sizes against ops.h for every test
//     case, the LRN settings read back.
// Integer inputs where results are exact (compared with ==), a tight relative bound otherwise.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "backends/cpu/ref.h"
#include "backends/cublas/flows.h"
#include "backends/cublas/lowering_bodies.h"
#include "backends/cuda/host_grid.h"
#include "backends/cudnn/softmax_xent_body.h"
#include "backends/lowering.h"
#include "backends/op_cases.h"
#include "backends/registry.h"
#include "backends/verify.h"
#include "core/device.h"
#include "core/error.h"
#include "core/rng.h"

#if CNNB_HAVE_CUDA
#include "backends/cublas/sgemm.h"
#include "backends/cuda/cuda_ctx.h"
#endif
#if CNNB_HAVE_CUDNN
#include "backends/cudnn/algo_choice.h"
#include "backends/cudnn/algorithms.h"
#include "backends/cudnn/lrn_params.h"
#include "backends/cudnn/plans.h"
#endif

namespace cnnb {
namespace {

using lowering::ConvIdx;

const float kNaN = std::numeric_limits<float>::quiet_NaN();
const ExecCtx kCpu{};

std::vector<float> integers(int64_t n, int lo, int hi, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = float(lo + int64_t(rng.below(uint64_t(hi - lo + 1))));
  return v;
}

std::vector<float> reals(int64_t n, double lo, double hi, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = float(rng.uniform(lo, hi));
  return v;
}

ConvGeom conv_geom(int n, int c, int h, int w, int k, int r, int s, int stride, int pad) {
  ConvGeom g;
  g.n = n, g.c = c, g.h = h, g.w = w, g.k = k, g.r = r, g.s = s, g.stride = stride, g.pad = pad;
  return g;
}

// Shapes whose edges differ: padding wider than the stride, a stride that skips input columns, a
// non-square filter, a 1x1 layer and the first layer of each preset.
std::vector<ConvGeom> edge_geoms() {
  return {conv_geom(3, 2, 7, 6, 3, 3, 2, 2, 1), conv_geom(2, 3, 9, 9, 2, 5, 4, 3, 2),
          conv_geom(2, 4, 5, 5, 3, 1, 1, 1, 0), conv_geom(3, 1, 28, 28, 4, 3, 3, 1, 0),
          conv_geom(2, 3, 12, 12, 5, 5, 5, 1, 2)};
}

void expect_same(const std::vector<float>& got, const std::vector<float>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  size_t bad = 0, first = 0;
  for (size_t i = 0; i < got.size(); ++i)
    if (!(got[i] == want[i]) && bad++ == 0) first = i;
  EXPECT_EQ(bad, 0u) << what << ": first at " << first << ", got " << got[first] << ", want " << want[first];
}

// ---- cuda-gemm's per-thread bodies

TEST(CublasBodies, Im2colChunkIsEachImagesColumnMatrixInTurn) {
  for (const ConvGeom& g : edge_geoms()) {
    SCOPED_TRACE(fmt::format("c{} {}x{} {}x{} stride {} pad {}", g.c, g.h, g.w, g.r, g.s, g.stride, g.pad));
    const ConvIdx ix = lowering::conv_idx(g);
    const auto x = integers(g.x_size(), -9, 9, 1);
    const int64_t per = ix.rows() * ix.cols();
    std::vector<float> want(size_t(g.n * per), kNaN), got(want.size(), kNaN);
    for (int n = 0; n < g.n; ++n) lowering::im2col(ix, x.data() + n * ix.image(), want.data() + n * per);
    for (int64_t e = 0; e < int64_t(got.size()); ++e) got[size_t(e)] = cublas::im2col_chunk_at(ix, x.data(), e);
    expect_same(got, want, "im2col");
  }
}

TEST(CublasBodies, Col2imChunkFoldsEachImagesColumnsBack) {
  for (const ConvGeom& g : edge_geoms()) {
    SCOPED_TRACE(fmt::format("c{} {}x{} {}x{} stride {} pad {}", g.c, g.h, g.w, g.r, g.s, g.stride, g.pad));
    const ConvIdx ix = lowering::conv_idx(g);
    const int64_t per = ix.rows() * ix.cols();
    const auto cols = integers(g.n * per, -9, 9, 2);
    std::vector<float> want(size_t(g.x_size()), kNaN), got(want.size(), kNaN);
    for (int n = 0; n < g.n; ++n) lowering::col2im(ix, cols.data() + n * per, want.data() + n * ix.image());
    for (int64_t e = 0; e < g.x_size(); ++e) got[size_t(e)] = cublas::col2im_chunk_at(ix, cols.data(), e);
    expect_same(got, want, "col2im");
  }
}

TEST(CublasBodies, BiasChannelOfAnElement) {
  // y [n=2 x k=3 x pq=4]: element (1, 2, 3) is at (1*3 + 2)*4 + 3 = 23.
  EXPECT_EQ(cublas::bias_channel(23, 3, 4), 2);
  EXPECT_EQ(cublas::bias_channel(12, 3, 4), 0);  // (1, 0, 0)
  EXPECT_EQ(cublas::bias_channel(7, 3, 4), 1);   // (0, 1, 3)
  // Dense [n x out]: pq = 1, the channel is the column.
  EXPECT_EQ(cublas::bias_channel(17, 5, 1), 2);
}

// The block reduction, every phase run for every lane before the next as the kernel's barriers
// guarantee, gives every channel's exact sum: with fewer elements than lanes, with a count that is not a
// multiple of the lanes, and for dense (pq 1). Channels not asked for are left alone.
TEST(CublasBodies, BiasGradBlocksSumEachChannelOnce) {
  struct Shape { int n, k; int64_t pq; };
  for (const Shape s : {Shape{2, 3, 5}, Shape{4, 5, 169}, Shape{7, 10, 1}, Shape{3, 2, 700}}) {
    SCOPED_TRACE(fmt::format("n{} k{} pq{}", s.n, s.k, s.pq));
    const auto dy = integers(int64_t(s.n) * s.k * s.pq, -50, 50, 3);
    std::vector<float> want(size_t(s.k), kNaN), got(size_t(s.k) + 1, kNaN);
    for (int ch = 0; ch < s.k; ++ch) {
      double sum = 0.0;
      for (int n = 0; n < s.n; ++n)
        for (int64_t i = 0; i < s.pq; ++i) sum += dy[size_t((int64_t(n) * s.k + ch) * s.pq + i)];
      want[size_t(ch)] = float(sum);
    }
    cuda::run_blocks_on_host(s.k, cublas::BiasGrad{dy.data(), got.data(), s.n, s.k, s.pq});
    EXPECT_TRUE(std::isnan(got.back())) << "written past the last channel";
    got.pop_back();
    expect_same(got, want, "dbias");
  }
}

TEST(CublasBodies, ColumnChunksFitTheBudget) {
  // 1000 floats = 4000 B per image.
  const auto two = cublas::column_chunks(10, 1000, 10000);
  EXPECT_EQ(two.images, 2);
  EXPECT_EQ(two.bytes, 8000u);
  const auto one = cublas::column_chunks(10, 1000, 100);  // less than one image: still one
  EXPECT_EQ(one.images, 1);
  EXPECT_EQ(one.bytes, 4000u);
  const auto all = cublas::column_chunks(10, 1000, size_t(1) << 30);
  EXPECT_EQ(all.images, 10);
  EXPECT_EQ(all.bytes, 40000u);
  // A tfcifar conv2 image: 64*5*5 x 16*16 floats = 1,638,400 B; 64 MiB holds 40 of them.
  EXPECT_EQ(cublas::column_chunks(256, int64_t(64) * 25 * 256, size_t(64) << 20).images, 40);
}

// ---- cudnn softmax_xent bodies

// logp as cudnnSoftmaxForward(LOG) returns it: z - logsumexp(z) per row, rounded to float.
std::vector<float> log_softmax(const std::vector<float>& z, int n, int classes) {
  std::vector<float> out(z.size());
  for (int i = 0; i < n; ++i) {
    const float* row = z.data() + int64_t(i) * classes;
    double m = row[0], sum = 0.0;
    for (int j = 1; j < classes; ++j) m = std::max(m, double(row[j]));
    for (int j = 0; j < classes; ++j) sum += std::exp(double(row[j]) - m);
    for (int j = 0; j < classes; ++j) out[size_t(int64_t(i) * classes + j)] = float(double(row[j]) - m - std::log(sum));
  }
  return out;
}

TEST(CudnnBodies, SoftmaxXentFromLogProbabilitiesMatchesRef) {
  const int n = 6, classes = 7;
  auto z = reals(int64_t(n) * classes, -4.0, 4.0, 4);
  z[3] = 60.0f;   // a dominant logit: its row's other probabilities are below 1e-26
  z[9] = -60.0f;
  const std::vector<int32_t> labels = {0, 6, 3, 2, 5, 1};  // row 0's label is not its dominant class
  std::vector<float> want_loss(n, kNaN), want_dz(z.size(), kNaN);
  ref::softmax_xent<float>(kCpu, {n, classes, z.data(), labels.data(), want_loss.data(), want_dz.data()});

  const auto logp = log_softmax(z, n, classes);
  for (int i = 0; i < n; ++i) {
    const float got = cudnn::xent_loss_at(logp.data(), labels.data(), classes, i);
    EXPECT_NEAR(got, want_loss[size_t(i)], 1e-6 * std::max(1.0f, std::abs(want_loss[size_t(i)]))) << "loss " << i;
  }
  EXPECT_NEAR(cudnn::xent_loss_at(logp.data(), labels.data(), classes, 0), 60.0f - z[0], 1e-4)
      << "the loss of a row whose label lost by 60 must not saturate";
  for (int64_t e = 0; e < int64_t(z.size()); ++e)
    EXPECT_NEAR(cudnn::xent_dlogit_at(logp.data(), labels.data(), n, classes, e), want_dz[size_t(e)], 1e-7)
        << "dlogits " << e;
}

// The launcher behind the cuDNN call: each output only when asked for, and then all of it.
TEST(CudnnBodies, XentFromLogpWritesOnlyTheOutputsAskedFor) {
  const int n = 3, classes = 4;
  const auto z = reals(int64_t(n) * classes, -3.0, 3.0, 5);
  const std::vector<int32_t> labels = {2, 0, 3};
  std::vector<float> want_loss(n, kNaN), want_dz(z.size(), kNaN);
  ref::softmax_xent<float>(kCpu, {n, classes, z.data(), labels.data(), want_loss.data(), want_dz.data()});
  const auto logp = log_softmax(z, n, classes);
  const cuda::HostGrid grid{"softmax_xent/cudnn/cudnn"};
  for (const bool with_loss : {true, false})
    for (const bool with_dz : {true, false}) {
      SCOPED_TRACE(fmt::format("loss {} dlogits {}", with_loss, with_dz));
      std::vector<float> loss(n, kNaN), dz(z.size(), kNaN);
      cudnn::xent_from_logp_on(grid, logp.data(), labels.data(), n, classes, with_loss ? loss.data() : nullptr,
                               with_dz ? dz.data() : nullptr);
      for (int i = 0; i < n; ++i)
        if (with_loss)
          EXPECT_NEAR(loss[size_t(i)], want_loss[size_t(i)], 1e-5) << i;
        else
          EXPECT_TRUE(std::isnan(loss[size_t(i)])) << i;
      for (size_t e = 0; e < dz.size(); ++e)
        if (with_dz)
          EXPECT_NEAR(dz[e], want_dz[e], 1e-6) << e;
        else
          EXPECT_TRUE(std::isnan(dz[e])) << e;
    }
}

TEST(CudnnBodies, SoftmaxXentLabelOutOfRangeGivesNaN) {
  const std::vector<float> logp = {-1.0f, -0.5f, -2.0f};
  for (int32_t bad : {-1, 3}) {
    const std::vector<int32_t> labels = {bad};
    EXPECT_TRUE(std::isnan(cudnn::xent_loss_at(logp.data(), labels.data(), 3, 0))) << bad;
    EXPECT_TRUE(std::isnan(cudnn::xent_dlogit_at(logp.data(), labels.data(), 1, 3, 1))) << bad;
  }
}

// ---- cuda-gemm's flows (backends/cublas/flows.h), run with a CPU executor

// One GEMM as issued: under CUDA the cublasSgemm arguments themselves (checked_sgemm_args, which refuses
// what cuBLAS refuses), else the GemmCall they are made from field for field.
struct IssuedGemm {
  bool ta, tb;
  int m, n, k, lda, ldb, ldc;
  float alpha, beta;
};
IssuedGemm issued(const lowering::GemmCall& g) {
#if CNNB_HAVE_CUDA
  const cublas::SgemmArgs s = cublas::checked_sgemm_args(g);
  return {s.transa == CUBLAS_OP_T, s.transb == CUBLAS_OP_T, s.m, s.n, s.k, s.lda, s.ldb, s.ldc, s.alpha, s.beta};
#else
  return {g.trans_a, g.trans_b, g.m, g.n, g.k, g.lda, g.ldb, g.ldc, g.alpha, g.beta};
#endif
}

// C = alpha op(A) op(B) + beta C read the way the cuBLAS documentation defines it (column-major; op(X) = X
// for CUBLAS_OP_N, X^T for CUBLAS_OP_T), in double; C is not read when beta is 0.
void gemm_as_cublas(const lowering::GemmCall& call, const float* a, const float* b, float* c) {
  const IssuedGemm s = issued(call);
  for (int j = 0; j < s.n; ++j)
    for (int i = 0; i < s.m; ++i) {
      double sum = 0.0;
      for (int l = 0; l < s.k; ++l) {
        const double av = s.ta ? a[l + int64_t(i) * s.lda] : a[i + int64_t(l) * s.lda];
        const double bv = s.tb ? b[j + int64_t(l) * s.ldb] : b[l + int64_t(j) * s.ldb];
        sum += av * bv;
      }
      float& out = c[i + int64_t(j) * s.ldc];
      out = float(s.alpha * sum + (s.beta == 0.0f ? 0.0 : double(s.beta) * out));
    }
}

// The CPU executor: that GEMM, the functors run by the host grid and block runner, a NaN-filled vector as
// the workspace (a column the flow forgot to build cannot pass). It counts what it is asked for.
struct HostExec {
  const char* kernel = "cuda-gemm host executor";
  std::vector<float> ws;
  int workspace_calls = 0, gemms = 0, grids = 0, block_runs = 0;

  float* workspace(size_t bytes) {
    ++workspace_calls;
    ws.assign(bytes / sizeof(float), kNaN);
    return ws.data();
  }
  void gemm(const lowering::GemmCall& g, const float* a, const float* b, float* c) {
    ++gemms;
    gemm_as_cublas(g, a, b, c);
  }
  template <class F>
  void grid(int64_t n, const F& f) {
    ++grids;
    cuda::HostGrid{kernel}(n, f);
  }
  void blocks(int count, const cublas::BiasGrad& f) {
    ++block_runs;
    cuda::run_blocks_on_host(count, f);
  }
};

// A column budget of two images: chunks of two, and a shorter last one for an odd batch.
size_t two_images(const ConvGeom& g) {
  const ConvIdx ix = lowering::conv_idx(g);
  return size_t(2 * ix.rows() * ix.cols()) * sizeof(float);
}

void conv_fwd_on_host(const ExecCtx&, const ConvFwdArgs& a) {
  HostExec ex;
  cublas::conv_fwd_im2col_gemm_on(ex, a);
}
void conv_fwd_on_host_chunked(const ExecCtx&, const ConvFwdArgs& a) {
  HostExec ex;
  cublas::conv_fwd_im2col_gemm_on(ex, a, two_images(a.g));
}
void conv_bwd_data_on_host(const ExecCtx&, const ConvBwdDataArgs& a) {
  HostExec ex;
  cublas::conv_bwd_data_im2col_gemm_on(ex, a);
}
void conv_bwd_data_on_host_chunked(const ExecCtx&, const ConvBwdDataArgs& a) {
  HostExec ex;
  cublas::conv_bwd_data_im2col_gemm_on(ex, a, two_images(a.g));
}
void conv_bwd_filter_on_host(const ExecCtx&, const ConvBwdFilterArgs& a) {
  HostExec ex;
  cublas::conv_bwd_filter_im2col_gemm_on(ex, a);
}
void conv_bwd_filter_on_host_chunked(const ExecCtx&, const ConvBwdFilterArgs& a) {
  HostExec ex;
  cublas::conv_bwd_filter_im2col_gemm_on(ex, a, two_images(a.g));
}
void dense_fwd_on_host(const ExecCtx&, const DenseFwdArgs& a) {
  HostExec ex;
  cublas::dense_fwd_gemm_on(ex, a);
}
void dense_bwd_on_host(const ExecCtx&, const DenseBwdArgs& a) {
  HostExec ex;
  cublas::dense_bwd_gemm_on(ex, a);
}

// Family "cublas" so that the tolerances are cuda-gemm's (exact on integer cases).
template <Op op>
KernelInfo flow(const char* variant, typename OpTraits<op>::Fn fn) {
  return {op, "cublas", variant, DeviceKind::cpu, reinterpret_cast<AnyKernelFn>(fn)};
}

struct FlowCase {
  KernelInfo kernel;
  OpCase c;
};

void PrintTo(const FlowCase& f, std::ostream* os) { *os << f.kernel.full_name() << " on " << f.c.name; }

std::vector<FlowCase> flow_cases() {
  const KernelInfo kernels[] = {
      flow<Op::conv_fwd>("im2col_gemm", &conv_fwd_on_host),
      flow<Op::conv_fwd>("im2col_gemm_chunks_of_2", &conv_fwd_on_host_chunked),
      flow<Op::conv_bwd_data>("im2col_gemm", &conv_bwd_data_on_host),
      flow<Op::conv_bwd_data>("im2col_gemm_chunks_of_2", &conv_bwd_data_on_host_chunked),
      flow<Op::conv_bwd_filter>("im2col_gemm", &conv_bwd_filter_on_host),
      flow<Op::conv_bwd_filter>("im2col_gemm_chunks_of_2", &conv_bwd_filter_on_host_chunked),
      flow<Op::dense_fwd>("gemm", &dense_fwd_on_host),
      flow<Op::dense_bwd>("gemm", &dense_bwd_on_host),
  };
  std::vector<FlowCase> out;
  for (const KernelInfo& k : kernels)
    for (OpCase& c : op_cases(k.op, CaseSet::test)) out.push_back({k, std::move(c)});
  return out;
}

std::string flow_name(const ::testing::TestParamInfo<FlowCase>& info) {
  std::string s = info.param.kernel.full_name() + "__" + info.param.c.name;
  for (char& ch : s)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return s;
}

class CublasFlows : public ::testing::TestWithParam<FlowCase> {};

TEST_P(CublasFlows, MatchRef) {
  const auto& [k, c] = GetParam();
  auto cpu = make_cpu_device(0, 1);
  const VerifyResult r = verify_kernel(k, c, *cpu);
  EXPECT_TRUE(r.pass) << r.kernel << " on " << r.case_name << " (" << r.geometry << "): " << r.reason
                      << " [tolerance " << r.tol.str() << "]";
}

INSTANTIATE_TEST_SUITE_P(, CublasFlows, ::testing::ValuesIn(flow_cases()), flow_name);

// What the flows ask of the executor: 1x1 stride-1 unpadded layers use no columns at all; others one
// workspace, one im2col or col2im grid per chunk and one GEMM per image; bias steps only with a bias.
TEST(CublasFlowSteps, OneByOneSkipsTheColumnMatrices) {
  const ConvGeom g = conv_geom(3, 4, 5, 5, 2, 1, 1, 1, 0);
  std::vector<float> x(size_t(g.x_size())), w(size_t(g.w_size())), b(size_t(g.k)), y(size_t(g.y_size()));
  HostExec fwd;
  cublas::conv_fwd_im2col_gemm_on(fwd, ConvFwdArgs{g, x.data(), w.data(), b.data(), y.data()});
  EXPECT_EQ(fwd.workspace_calls, 0);
  EXPECT_EQ(fwd.gemms, 3);
  EXPECT_EQ(fwd.grids, 1);  // the bias
  HostExec data;
  cublas::conv_bwd_data_im2col_gemm_on(data, ConvBwdDataArgs{g, y.data(), w.data(), x.data()});
  EXPECT_EQ(data.workspace_calls + data.grids, 0);
  EXPECT_EQ(data.gemms, 3);
  HostExec filter;
  cublas::conv_bwd_filter_im2col_gemm_on(filter, ConvBwdFilterArgs{g, x.data(), y.data(), w.data(), nullptr});
  EXPECT_EQ(filter.workspace_calls + filter.grids + filter.block_runs, 0);
  EXPECT_EQ(filter.gemms, 3);
}

TEST(CublasFlowSteps, ChunksOfTwoImagesAndOneGemmPerImage) {
  const ConvGeom g = conv_geom(5, 2, 6, 6, 3, 3, 3, 1, 1);
  std::vector<float> x(size_t(g.x_size())), w(size_t(g.w_size())), y(size_t(g.y_size())), db(size_t(g.k));
  HostExec fwd;
  cublas::conv_fwd_im2col_gemm_on(fwd, ConvFwdArgs{g, x.data(), w.data(), nullptr, y.data()}, two_images(g));
  EXPECT_EQ(fwd.workspace_calls, 1);
  EXPECT_EQ(fwd.grids, 3);  // im2col of images {0,1}, {2,3}, {4}; no bias
  EXPECT_EQ(fwd.gemms, 5);
  EXPECT_EQ(fwd.ws.size(), size_t(2 * 18 * 36));
  HostExec data;
  cublas::conv_bwd_data_im2col_gemm_on(data, ConvBwdDataArgs{g, y.data(), w.data(), x.data()}, two_images(g));
  EXPECT_EQ(data.grids, 3);  // col2im per chunk
  EXPECT_EQ(data.gemms, 5);
  HostExec filter;
  cublas::conv_bwd_filter_im2col_gemm_on(filter, ConvBwdFilterArgs{g, x.data(), y.data(), w.data(), db.data()});
  EXPECT_EQ(filter.grids, 1);  // all five images in one chunk under the default budget
  EXPECT_EQ(filter.gemms, 5);
  EXPECT_EQ(filter.block_runs, 1);
}

TEST(CublasFlowSteps, DenseBackwardSkipsNullOutputs) {
  const DenseGeom g{3, 5, 7};
  std::vector<float> buf(64);
  HostExec all;
  cublas::dense_bwd_gemm_on(all, DenseBwdArgs{g, buf.data(), buf.data(), buf.data(), buf.data(), buf.data(), buf.data()});
  EXPECT_EQ(all.gemms, 2);
  EXPECT_EQ(all.block_runs, 1);
  HostExec first_layer;
  cublas::dense_bwd_gemm_on(first_layer,
                            DenseBwdArgs{g, buf.data(), buf.data(), buf.data(), nullptr, buf.data(), nullptr});
  EXPECT_EQ(first_layer.gemms, 1);
  EXPECT_EQ(first_layer.block_runs, 0);
}

#if CNNB_HAVE_CUDA

// ---- the cublasSgemm arguments

TEST(CublasSgemmArgs, HandComputedForAConvAndADenseLayer) {
  // 3x3 pad 1 on 5x5: P = Q = 5, PQ = 25, CRS = 3*9 = 27, K = 4.
  const ConvGeom g = conv_geom(2, 3, 5, 5, 4, 3, 3, 1, 1);
  auto check = [](const cublas::SgemmArgs& s, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, int lda,
                  int ldb, int ldc, float beta) {
    EXPECT_EQ(s.transa, ta);
    EXPECT_EQ(s.transb, tb);
    EXPECT_EQ(s.m, m);
    EXPECT_EQ(s.n, n);
    EXPECT_EQ(s.k, k);
    EXPECT_EQ(s.lda, lda);
    EXPECT_EQ(s.ldb, ldb);
    EXPECT_EQ(s.ldc, ldc);
    EXPECT_EQ(s.alpha, 1.0f);
    EXPECT_EQ(s.beta, beta);
  };
  // y_n^T (PQ x K) = cols^T (PQ x CRS) * w^T (CRS x K)
  check(cublas::sgemm_args(lowering::conv_fwd(g)), CUBLAS_OP_N, CUBLAS_OP_N, 25, 4, 27, 25, 27, 25, 0.0f);
  // dcols^T (PQ x CRS) = dy_n^T (PQ x K) * w (K x CRS, stored CRS x K)
  check(cublas::sgemm_args(lowering::conv_bwd_data(g)), CUBLAS_OP_N, CUBLAS_OP_T, 25, 27, 4, 25, 27, 25, 0.0f);
  // dw^T (CRS x K) (+)= cols (CRS x PQ, stored PQ x CRS) * dy_n^T (PQ x K)
  check(cublas::sgemm_args(lowering::conv_bwd_filter(g, false)), CUBLAS_OP_T, CUBLAS_OP_N, 27, 4, 25, 25, 25, 27, 0.0f);
  check(cublas::sgemm_args(lowering::conv_bwd_filter(g, true)), CUBLAS_OP_T, CUBLAS_OP_N, 27, 4, 25, 25, 25, 27, 1.0f);
  // Dense n=8, in=5, out=3: the notes' FC lines (gpu-api-notes.md section 2.2).
  const DenseGeom d{8, 5, 3};
  check(cublas::sgemm_args(lowering::dense_fwd(d)), CUBLAS_OP_T, CUBLAS_OP_N, 3, 8, 5, 5, 5, 3, 0.0f);
  check(cublas::sgemm_args(lowering::dense_bwd_weights(d)), CUBLAS_OP_N, CUBLAS_OP_T, 5, 3, 8, 5, 3, 5, 0.0f);
  check(cublas::sgemm_args(lowering::dense_bwd_data(d)), CUBLAS_OP_N, CUBLAS_OP_N, 5, 8, 3, 5, 3, 5, 0.0f);
}

// Every GEMM the backend issues on the shared test cases is one cuBLAS accepts.
TEST(CublasSgemmArgs, ValidForCublasOnEveryTestCase) {
  int checked = 0;
  for (Op op : {Op::conv_fwd, Op::conv_bwd_data, Op::conv_bwd_filter})
    for (const OpCase& c : op_cases(op, CaseSet::test)) {
      for (const auto& call : {lowering::conv_fwd(c.conv), lowering::conv_bwd_data(c.conv),
                               lowering::conv_bwd_filter(c.conv, false), lowering::conv_bwd_filter(c.conv, true)})
        EXPECT_EQ(cublas::invalid_reason(cublas::sgemm_args(call)), "") << c.name;
      ++checked;
    }
  for (Op op : {Op::dense_fwd, Op::dense_bwd})
    for (const OpCase& c : op_cases(op, CaseSet::test)) {
      for (const auto& call :
           {lowering::dense_fwd(c.dense), lowering::dense_bwd_data(c.dense), lowering::dense_bwd_weights(c.dense)})
        EXPECT_EQ(cublas::invalid_reason(cublas::sgemm_args(call)), "") << c.name;
      ++checked;
    }
  EXPECT_GT(checked, 10);
}

TEST(CublasSgemmArgs, InvalidReasonNamesWhatCublasRefuses) {
  cublas::SgemmArgs s;
  s.m = 4, s.n = 3, s.k = 5, s.lda = 4, s.ldb = 5, s.ldc = 4;
  EXPECT_EQ(cublas::invalid_reason(s), "");
  auto with = [&](auto change) {
    cublas::SgemmArgs t = s;
    change(t);
    return cublas::invalid_reason(t);
  };
  EXPECT_NE(with([](auto& t) { t.lda = 3; }).find("lda=3 < 4"), std::string::npos);
  // Transposed A is stored k x m: lda must reach k = 5.
  EXPECT_NE(with([](auto& t) { t.transa = CUBLAS_OP_T; }).find("lda=4 < 5"), std::string::npos);
  EXPECT_NE(with([](auto& t) { t.ldb = 4; }).find("ldb=4 < 5"), std::string::npos);
  // Transposed B is stored n x k: ldb = 5 reaches n = 3.
  EXPECT_EQ(with([](auto& t) { t.transb = CUBLAS_OP_T; }), "");
  EXPECT_NE(with([](auto& t) { t.ldc = 2; }).find("ldc=2 < m=4"), std::string::npos);
  EXPECT_NE(with([](auto& t) { t.k = 0; }).find("positive"), std::string::npos);
}

// ---- the replica's workspace and error naming

TEST(CudaCtxHost, WorkspaceGrowsInWholeMiBAndNeverShrinks) {
  constexpr size_t MiB = size_t(1) << 20;
  EXPECT_EQ(cuda::workspace_growth(0, 0), 0u);
  EXPECT_EQ(cuda::workspace_growth(0, 1), MiB);
  EXPECT_EQ(cuda::workspace_growth(MiB, MiB), 0u);
  EXPECT_EQ(cuda::workspace_growth(MiB, MiB + 1), 2 * MiB);
  EXPECT_EQ(cuda::workspace_growth(4 * MiB, 3 * MiB), 0u);
  EXPECT_EQ(cuda::workspace_growth(0, 5 * MiB), 5 * MiB);
}

TEST(CudaCtxHost, RethrowInNamesTheKernelOnceAndKeepsTheType) {
  auto run = [](auto thrower) {
    try {
      try {
        thrower();
      } catch (...) {
        cuda::rethrow_in("conv_fwd/cudnn/cudnn");
      }
    } catch (const InputError& e) {
      return "input: " + std::string(e.what());
    } catch (const Error& e) {
      return "error: " + std::string(e.what());
    }
    return std::string("nothing thrown");
  };
  EXPECT_EQ(run([] { fail("cudnnConvolutionForward(...) failed: BAD_PARAM"); }),
            "error: conv_fwd/cudnn/cudnn: cudnnConvolutionForward(...) failed: BAD_PARAM");
  EXPECT_EQ(run([] { fail_input("size 17"); }), "input: conv_fwd/cudnn/cudnn: size 17");
  EXPECT_EQ(run([] { fail("conv_fwd/cudnn/cudnn: bad geometry"); }), "error: conv_fwd/cudnn/cudnn: bad geometry");
}

#endif  // CNNB_HAVE_CUDA

#if CNNB_HAVE_CUDNN

// ---- the cuDNN algorithm choice on made-up perf lists

cudnnConvolutionBwdFilterAlgoPerf_t filter_perf(cudnnConvolutionBwdFilterAlgo_t algo, cudnnStatus_t status, size_t memory,
                                                cudnnDeterminism_t det, cudnnMathType_t math) {
  cudnnConvolutionBwdFilterAlgoPerf_t p{};
  p.algo = algo, p.status = status, p.time = -1.0f, p.memory = memory, p.determinism = det, p.mathType = math;
  return p;
}

// The probe as cuDNN would answer it: the reported memory, or a refusal for the algorithms listed.
auto probe_refusing(std::vector<cudnnConvolutionBwdFilterAlgo_t> refused, size_t bytes = 1000) {
  return [refused, bytes](cudnnConvolutionBwdFilterAlgo_t a) -> std::optional<size_t> {
    for (auto r : refused)
      if (r == a) return std::nullopt;
    return bytes;
  };
}

TEST(CudnnAlgoChoice, SkipsFailedTensorCoreAndOversizedEntries) {
  const std::vector<cudnnConvolutionBwdFilterAlgoPerf_t> perf = {
      filter_perf(CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT, CUDNN_STATUS_NOT_SUPPORTED, 0, CUDNN_DETERMINISTIC,
                  CUDNN_FMA_MATH),
      filter_perf(CUDNN_CONVOLUTION_BWD_FILTER_ALGO_WINOGRAD_NONFUSED, CUDNN_STATUS_SUCCESS, 0, CUDNN_DETERMINISTIC,
                  CUDNN_TENSOR_OP_MATH),
      filter_perf(CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT_TILING, CUDNN_STATUS_SUCCESS, 5000, CUDNN_DETERMINISTIC,
                  CUDNN_FMA_MATH),
      filter_perf(CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1, CUDNN_STATUS_SUCCESS, 100, CUDNN_DETERMINISTIC, CUDNN_FMA_MATH),
  };
  const auto c = cudnn::choose_algo(perf.data(), int(perf.size()), 4096, probe_refusing({}, 100));
  EXPECT_EQ(c.index, 3);
  EXPECT_EQ(c.workspace, 100u);
  EXPECT_TRUE(c.deterministic);
  EXPECT_NE(c.passed_over.find("FFT: CUDNN_STATUS_NOT_SUPPORTED"), std::string::npos) << c.passed_over;
  EXPECT_NE(c.passed_over.find("WINOGRAD_NONFUSED: TENSOR_OP (Tensor Cores)"), std::string::npos) << c.passed_over;
  EXPECT_NE(c.passed_over.find("FFT_TILING: needs 5000 B of workspace, budget 4096 B"), std::string::npos)
      << c.passed_over;
}

TEST(CudnnAlgoChoice, PrefersDeterministicThenFallsBackToTheFirstOther) {
  const auto algo0 = filter_perf(CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0, CUDNN_STATUS_SUCCESS, 0, CUDNN_NON_DETERMINISTIC,
                                 CUDNN_FMA_MATH);
  const auto algo3 = filter_perf(CUDNN_CONVOLUTION_BWD_FILTER_ALGO_3, CUDNN_STATUS_SUCCESS, 0, CUDNN_NON_DETERMINISTIC,
                                 CUDNN_DEFAULT_MATH);
  const auto algo1 =
      filter_perf(CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1, CUDNN_STATUS_SUCCESS, 0, CUDNN_DETERMINISTIC, CUDNN_DEFAULT_MATH);
  {
    const std::vector perf = {algo0, algo3, algo1};
    const auto c = cudnn::choose_algo(perf.data(), 3, 1 << 20, probe_refusing({}));
    EXPECT_EQ(c.index, 2) << "the deterministic ALGO_1, ranked last, over the faster nondeterministic ones";
    EXPECT_TRUE(c.deterministic);
    EXPECT_EQ(c.passed_over, "ALGO_0: nondeterministic; ALGO_3: nondeterministic");
  }
  {
    const std::vector perf = {algo0, algo3, algo1};
    // ALGO_1 refused under FMA math: the first nondeterministic entry is taken and flagged.
    const auto c = cudnn::choose_algo(perf.data(), 3, 1 << 20, probe_refusing({CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1}));
    EXPECT_EQ(c.index, 0);
    EXPECT_FALSE(c.deterministic);
    EXPECT_EQ(c.passed_over, "ALGO_1: refused under CUDNN_FMA_MATH");
  }
}

TEST(CudnnAlgoChoice, ProbeDecidesTheWorkspaceAndCanRefuse) {
  const std::vector perf = {
      filter_perf(CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT, CUDNN_STATUS_SUCCESS, 10, CUDNN_DETERMINISTIC, CUDNN_FMA_MATH),
      filter_perf(CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1, CUDNN_STATUS_SUCCESS, 10, CUDNN_DETERMINISTIC, CUDNN_FMA_MATH)};
  // Under FMA math the FFT asks for more than the budget, although its perf entry said 10 B.
  auto probe = [](cudnnConvolutionBwdFilterAlgo_t a) -> std::optional<size_t> {
    return a == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT ? size_t(1) << 30 : size_t(64);
  };
  const auto c = cudnn::choose_algo(perf.data(), 2, 1 << 20, probe);
  EXPECT_EQ(c.index, 1);
  EXPECT_EQ(c.workspace, 64u);
  EXPECT_NE(c.passed_over.find("FFT: needs 1073741824 B of workspace under FMA math"), std::string::npos)
      << c.passed_over;
}

TEST(CudnnAlgoChoice, NothingQualifiesListsEveryEntry) {
  cudnnConvolutionFwdAlgoPerf_t a{}, b{};
  a.algo = CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD, a.status = CUDNN_STATUS_NOT_SUPPORTED;
  b.algo = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM, b.status = CUDNN_STATUS_SUCCESS;
  b.mathType = CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION, b.determinism = CUDNN_DETERMINISTIC;
  const std::vector perf = {a, b};
  const auto c = cudnn::choose_algo(perf.data(), 2, 1 << 20, [](cudnnConvolutionFwdAlgo_t) { return std::optional<size_t>(0); });
  EXPECT_EQ(c.index, -1);
  EXPECT_NE(c.passed_over.find("WINOGRAD: CUDNN_STATUS_NOT_SUPPORTED"), std::string::npos) << c.passed_over;
  EXPECT_NE(c.passed_over.find("IMPLICIT_PRECOMP_GEMM: TENSOR_OP_ALLOW_CONVERSION"), std::string::npos) << c.passed_over;
  EXPECT_EQ(cudnn::choose_algo(perf.data(), 0, 1 << 20, [](cudnnConvolutionFwdAlgo_t) { return std::optional<size_t>(0); })
                .index,
            -1);
}

TEST(CudnnAlgoChoice, EveryAlgorithmHasItsOwnName) {
  auto distinct = [](auto count, auto name_of) {
    std::vector<std::string> names;
    for (int i = 0; i < int(count); ++i) names.emplace_back(name_of(i));
    for (size_t i = 0; i < names.size(); ++i) {
      EXPECT_NE(names[i], "UNKNOWN") << i;
      for (size_t j = i + 1; j < names.size(); ++j) EXPECT_NE(names[i], names[j]);
    }
  };
  distinct(CUDNN_CONVOLUTION_FWD_ALGO_COUNT, [](int i) { return cudnn::algo_name(cudnnConvolutionFwdAlgo_t(i)); });
  distinct(CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, [](int i) { return cudnn::algo_name(cudnnConvolutionBwdDataAlgo_t(i)); });
  distinct(CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT,
           [](int i) { return cudnn::algo_name(cudnnConvolutionBwdFilterAlgo_t(i)); });
  EXPECT_STREQ(cudnn::algo_name(CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM), "IMPLICIT_PRECOMP_GEMM");
  EXPECT_STREQ(cudnn::math_name(CUDNN_FMA_MATH), "FMA");
}

// ---- LRN: the parameters and their limits

TEST(CudnnLrn, ParametersPassThroughAlphaNotDivided) {
  LrnGeom tf{4, 64, 16, 16, 9, 0.001, 0.75, 1.0};  // TF cifar10: depth_radius 4, alpha 0.001/9 there
  const auto p = cudnn::lrn_params(tf, "lrn_fwd/cudnn/cudnn");
  EXPECT_EQ(p.n, 9u);
  EXPECT_EQ(p.alpha, 0.001) << "cuDNN divides alpha by n itself";
  EXPECT_EQ(p.beta, 0.75);
  EXPECT_EQ(p.k, 1.0);
  const auto d = cudnn::lrn_params(LrnGeom{}, "lrn_fwd/cudnn/cudnn");  // cuDNN's own defaults (Krizhevsky)
  EXPECT_EQ(d.n, 5u);
  EXPECT_EQ(d.alpha, 1e-4);
  EXPECT_EQ(d.beta, 0.75);
  EXPECT_EQ(d.k, 2.0);
}

TEST(CudnnLrn, WindowIsOpsHsForEverySizeCudnnTakes) {
  for (int size = 1; size <= 16; ++size) {
    LrnGeom g;
    g.size = size;
    const auto p = cudnn::lrn_params(g, "lrn_fwd/cudnn/cudnn");
    EXPECT_EQ(p.look_behind(), g.look_behind()) << size;
    EXPECT_EQ(p.look_ahead(), g.look_ahead()) << size;
  }
  LrnGeom even;
  even.size = 4;  // asymmetric: one channel behind, two ahead
  EXPECT_EQ(cudnn::lrn_params(even, "x").look_behind(), 1);
  EXPECT_EQ(cudnn::lrn_params(even, "x").look_ahead(), 2);
}

TEST(CudnnLrn, RefusesWhatCudnnRefusesNamingTheLimit) {
  auto refusal = [](auto change) {
    LrnGeom g;
    change(g);
    try {
      cudnn::lrn_params(g, "lrn_bwd/cudnn/cudnn");
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  const std::string big = refusal([](LrnGeom& g) { g.size = 17; });
  EXPECT_NE(big.find("size in 1..16, got 17"), std::string::npos) << big;
  EXPECT_NE(big.find("--kernel lrn_bwd=cuda/naive"), std::string::npos) << big;
  EXPECT_NE(refusal([](LrnGeom& g) { g.size = 0; }).find("size in 1..16, got 0"), std::string::npos);
  EXPECT_NE(refusal([](LrnGeom& g) { g.k = 1e-6; }).find("k >= 1e-5"), std::string::npos);
  EXPECT_NE(refusal([](LrnGeom& g) { g.beta = 0.005; }).find("beta >= 0.01"), std::string::npos);
  EXPECT_EQ(refusal([](LrnGeom& g) { g.size = 16, g.k = 1e-5, g.beta = 0.01; }), "accepted");
}

// ---- cuDNN's own descriptors: host calls, no GPU needed

TEST(CudnnDescriptors, ConvolutionOutputSizesAreOpsHsOnEveryTestCase) {
  int checked = 0;
  for (Op op : {Op::conv_fwd, Op::conv_bwd_data, Op::conv_bwd_filter})
    for (const OpCase& c : op_cases(op, CaseSet::test)) {
      const auto plan = cudnn::conv_descriptors(c.conv, "conv_fwd/cudnn/cudnn");  // throws on a mismatch
      cudnnMathType_t math{};
      ASSERT_EQ(cudnnGetConvolutionMathType(plan.conv.get(), &math), CUDNN_STATUS_SUCCESS);
      EXPECT_EQ(math, CUDNN_FMA_MATH) << c.name;
      cudnnDataType_t type{};
      cudnnTensorFormat_t format{};
      int k = 0, ch = 0, r = 0, s = 0;
      ASSERT_EQ(cudnnGetFilter4dDescriptor(plan.w.get(), &type, &format, &k, &ch, &r, &s), CUDNN_STATUS_SUCCESS);
      EXPECT_EQ(type, CUDNN_DATA_FLOAT);
      EXPECT_EQ(format, CUDNN_TENSOR_NCHW);
      EXPECT_EQ(std::vector<int>({k, ch, r, s}), std::vector<int>({c.conv.k, c.conv.c, c.conv.r, c.conv.s})) << c.name;
      ++checked;
    }
  EXPECT_GT(checked, 5);
}

TEST(CudnnDescriptors, PoolingOutputSizesAreOpsHsOnEveryTestCase) {
  int checked = 0;
  for (Op op : {Op::pool_fwd, Op::pool_bwd})
    for (const OpCase& c : op_cases(op, CaseSet::test)) {
      const auto plan = cudnn::pool_plan(c.pool, "pool_fwd/cudnn/cudnn");  // throws on a mismatch
      cudnnPoolingMode_t mode{};
      cudnnNanPropagation_t nan{};
      int wh = 0, ww = 0, ph = 0, pw = 0, sh = 0, sw = 0;
      ASSERT_EQ(cudnnGetPooling2dDescriptor(plan.pool.get(), &mode, &nan, &wh, &ww, &ph, &pw, &sh, &sw),
                CUDNN_STATUS_SUCCESS);
      EXPECT_EQ(mode, CUDNN_POOLING_MAX_DETERMINISTIC);
      EXPECT_EQ(std::vector<int>({wh, ww, ph, pw, sh, sw}),
                std::vector<int>({c.pool.window, c.pool.window, c.pool.pad, c.pool.pad, c.pool.stride, c.pool.stride}))
          << c.name;
      ++checked;
    }
  EXPECT_GT(checked, 3);
}

TEST(CudnnDescriptors, LrnSettingsReadBackUndivided) {
  const LrnGeom g{4, 64, 16, 16, 9, 0.001, 0.75, 1.0};
  const auto plan = cudnn::lrn_plan(g, "lrn_fwd/cudnn/cudnn");
  unsigned n = 0;
  double alpha = 0, beta = 0, k = 0;
  ASSERT_EQ(cudnnGetLRNDescriptor(plan.lrn.get(), &n, &alpha, &beta, &k), CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(n, 9u);
  EXPECT_EQ(alpha, 0.001);
  EXPECT_EQ(beta, 0.75);
  EXPECT_EQ(k, 1.0);
}

TEST(CudnnDescriptors, NoAlgorithmsRecordedForACpuContext) {
  EXPECT_TRUE(cudnn::chosen_algorithms(kCpu).empty());
  cudnn::Plans plans;
  EXPECT_TRUE(plans.algorithms().empty());
}

#endif  // CNNB_HAVE_CUDNN

}  // namespace
}  // namespace cnnb
