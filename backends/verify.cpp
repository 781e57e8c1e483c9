#include "backends/verify.h"

#include <algorithm>
#include <cmath>
#include <exception>
#include <limits>
#include <memory>
#include <thread>

#include <fmt/format.h>

#include "core/error.h"

namespace cnnb {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// nmse bound for real-valued cases. A float32 kernel against the double-accumulating reference differs
// by a few ulp per element: measured nmse is 1e-15 .. 1e-13 for cpu/omp and cpu/im2col_gemm, up to 3e-12
// for oneDNN's softmax. A real bug (a wrong index, a missed term, a wrong constant) is far above: one
// element off by 1% among the 65536 of tfcifar_lrn already gives 1.5e-9. 1e-10 sits between the two
// with a margin of about 30x on each side.
constexpr double kNmseBound = 1e-10;

struct Diff {
  double max_abs = 0.0, nmse = 0.0;
};

Diff compare(const std::vector<float>& got, const std::vector<float>& want) {
  if (got.size() != want.size()) return {kInf, kInf};
  if (got.empty()) return {};
  double max_abs = 0.0, err2 = 0.0, ref2 = 0.0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double a = got[i], b = want[i];
    if (!std::isfinite(a) || !std::isfinite(b)) {
      if ((std::isnan(a) && std::isnan(b)) || a == b) continue;  // the same NaN or infinity on both sides
      return {kInf, kInf};
    }
    const double d = a - b;
    max_abs = std::max(max_abs, std::abs(d));
    err2 += d * d;
    ref2 += b * b;
  }
  // An all-zero reference (softmax's loss with one class) has no scale of its own; case values are of
  // order one, so it is measured on the scale 1.
  return {max_abs, err2 / (ref2 > 0.0 ? ref2 : double(got.size()))};
}

}  // namespace

std::string Tolerance::str() const { return exact ? "exact" : fmt::format("nmse <= {:.0e}", nmse); }

Tolerance tolerance_for(const OpCase& c, std::string_view family) {
  const bool conv = c.op == Op::conv_fwd || c.op == Op::conv_bwd_data || c.op == Op::conv_bwd_filter;
  // cuDNN may pick FFT or Winograd convolutions, which round even integer inputs: hold them to nmse.
  if (c.exact && !(conv && family == "cudnn")) return {true, 0.0};
  return {false, c.exact ? 1e-9 : kNmseBound};
}

VerifyResult verify_kernel(const KernelInfo& k, const OpCase& c, Device& dev) {
  VerifyResult r;
  r.op = k.op;
  r.kernel = k.full_name();
  r.case_name = c.name;
  r.geometry = c.geometry();
  r.tol = tolerance_for(c, k.family);

  const KernelInfo* ref = find_kernel(k.op, "cpu", "ref");
  CNNB_CHECK(ref, "verify {}: this build has no {}/cpu/ref to compare with", r.kernel, op_name(k.op));
  auto cpu = make_cpu_device(0, 1);
  CaseTensors want_t(c, *cpu);
  want_t.run(*ref);
  const std::vector<HostTensor> want = want_t.outputs();

  std::vector<HostTensor> got;
  try {
    CaseTensors t(c, dev);
    t.run(k);
    got = t.outputs();
  } catch (const std::exception& e) {
    r.max_abs_err = r.nmse = kInf;
    r.reason = fmt::format("threw: {}", e.what());
    return r;
  }
  CNNB_ASSERT(got.size() == want.size());

  double worst_key = -1.0;
  for (size_t i = 0; i < got.size(); ++i) {
    const Diff d = compare(got[i].values, want[i].values);
    r.max_abs_err = std::max(r.max_abs_err, d.max_abs);
    r.nmse = std::max(r.nmse, d.nmse);
    const double key = r.tol.exact ? d.max_abs : d.nmse;
    if (key > worst_key) {
      worst_key = key;
      r.worst = got[i].name;
    }
  }
  r.pass = r.tol.exact ? r.max_abs_err == 0.0 : r.nmse <= r.tol.nmse;
  if (!r.pass)
    r.reason = r.tol.exact ? fmt::format("{}: max abs error {:.3g}, expected 0 (exact case)", r.worst, r.max_abs_err)
                           : fmt::format("{}: nmse {:.3g} > {:.0e}", r.worst, r.nmse, r.tol.nmse);
  return r;
}

namespace {

bool selected(const KernelInfo& k, const VerifyOptions& opt) {
  if (k.family == "cpu" && k.variant == "ref") return false;
  const std::string name = k.full_name();
  if (!opt.filter.empty() && name.find(opt.filter) == std::string::npos) return false;
  return opt.variants.empty() || std::find(opt.variants.begin(), opt.variants.end(), name) != opt.variants.end();
}

VerifyResult skipped_row(const KernelInfo& k, const OpCase& c, std::string reason, bool not_run) {
  VerifyResult r;
  r.op = k.op;
  r.kernel = k.full_name();
  r.case_name = c.name;
  r.geometry = c.geometry();
  r.tol = tolerance_for(c, k.family);
  r.skipped = true;
  r.not_run = not_run;
  r.reason = std::move(reason);
  return r;
}

// The CPU device and GPU 0, each made when a selected variant first needs it.
class VerifyDevices {
 public:
  explicit VerifyDevices(const VerifyOptions& opt) : opt_(opt) {}

  Device& cpu() {
    if (!cpu_) {
      const int cores = int(std::max(1u, std::thread::hardware_concurrency()));
      cpu_ = make_cpu_device(0, opt_.cpu_threads > 0 ? opt_.cpu_threads : cores);
    }
    return *cpu_;
  }

  Device* gpu() {
    if (!gpu_tried_) {
      gpu_tried_ = true;
      if (opt_.make_gpu)
        gpu_ = opt_.make_gpu();
      else if (cuda_device_count() > 0)
        gpu_ = make_cuda_device(0);
    }
    return gpu_.get();
  }

 private:
  const VerifyOptions& opt_;
  std::unique_ptr<Device> cpu_, gpu_;
  bool gpu_tried_ = false;
};

}  // namespace

std::vector<VerifyResult> verify_all(const VerifyOptions& opt) {
  const std::span<const KernelInfo> kernels = opt.kernels.empty() ? all_kernels() : opt.kernels;
  constexpr int kGpus[] = {0};
  VerifyDevices devices(opt);
  ContextLossGuard context(opt.context_health);
  std::vector<VerifyResult> rows;
  for (const KernelInfo& k : kernels) {
    if (!selected(k, opt)) continue;
    const bool on_gpu = k.device != DeviceKind::cpu;
    for (const OpCase& c : op_cases(k.op, CaseSet::test)) {
      if (on_gpu && context.lost()) {
        rows.push_back(skipped_row(k, c, context.not_run_reason(), true));
        continue;
      }
      Device* dev = on_gpu ? devices.gpu() : &devices.cpu();
      if (!dev) {
        rows.push_back(skipped_row(k, c, "no CUDA device", false));
        continue;
      }
      VerifyResult r = verify_kernel(k, c, *dev);
      if (on_gpu && !r.pass && context.lost_after_failure(r.kernel + "/" + r.case_name, kGpus))
        r.reason += "; CUDA context lost: " + context.error();
      rows.push_back(std::move(r));
    }
  }
  return rows;
}

std::vector<VerifyResult> verify_all(std::string_view filter, int cpu_threads) {
  VerifyOptions opt;
  opt.filter = std::string(filter);
  opt.cpu_threads = cpu_threads;
  return verify_all(opt);
}

}  // namespace cnnb
