// `cnnbench verify`: every kernel variant against cpu-ref on the shared op cases, on the machine at
// hand. The first command to run on a GPU machine. A variant that loses the CUDA context (an illegal
// address, ...) fails; the CUDA rows after it are reported as not run, since every CUDA call in this
// process now fails, and the CPU rows go on.
#include <string>
#include <vector>

#include <fmt/format.h>

#include "backends/backend.h"
#include "backends/verify.h"
#include "bench/commands.h"
#include "core/device.h"
#include "core/error.h"
#include "core/gpu_module.h"

namespace cnnb::cli {

namespace {

std::string result_text(const VerifyResult& r) {
  if (r.not_run) return r.reason;
  if (r.skipped) return "SKIPPED (" + r.reason + ")";
  if (r.pass) return "pass";
  return "FAIL" + (r.reason.empty() ? "" : " (" + r.reason + ")");
}

void print_rows(const std::vector<VerifyResult>& rows, bool failures_only) {
  fmt::print("{:<16} {:<34} {:<18} {:>11} {:>11} {:<14} {}\n", "op", "variant", "case", "max_abs_err", "nmse",
             "tolerance", "result");
  for (const auto& r : rows) {
    if (failures_only && (r.pass || r.skipped)) continue;
    fmt::print("{:<16} {:<34} {:<18} {:>11.3g} {:>11.3g} {:<14} {}\n", op_name(r.op), r.kernel, r.case_name,
               r.max_abs_err, r.nmse, r.tol.str(), result_text(r));
  }
}

struct Tally {
  int pass = 0, failed = 0, skipped = 0, not_run = 0;  // not_run rows are counted in skipped too
  const VerifyResult* first_not_run = nullptr;
};

Tally tally(const std::vector<VerifyResult>& rows) {
  Tally t;
  for (const auto& r : rows) {
    r.skipped ? ++t.skipped : r.pass ? ++t.pass : ++t.failed;
    if (!r.not_run) continue;
    ++t.not_run;
    if (!t.first_not_run) t.first_not_run = &r;
  }
  return t;
}

}  // namespace

Command add_verify(CLI::App& app) {
  CLI::App* sub = app.add_subcommand("verify", "Check every kernel variant against cpu-ref on this machine");
  auto backend = std::make_shared<std::string>();
  auto filter = std::make_shared<std::string>();
  auto threads = std::make_shared<int>(0);
  auto failures_only = std::make_shared<bool>(false);
  sub->add_option("--backend", *backend, "Run only the variants this backend uses (see `cnnbench list`)");
  sub->add_option("--filter", *filter, "Run only variants whose op/family/variant name contains this text");
  sub->add_option("--threads", *threads, "CPU threads for CPU variants (0 = all cores)");
  sub->add_flag("--failures-only", *failures_only, "Print only failed rows");
  return {sub, [=] {
            if (*threads < 0) fail_input("--threads must be 0 (all cores) or positive, got {}", *threads);
            VerifyOptions opt;
            opt.filter = *filter;
            opt.cpu_threads = *threads;
            if (!backend->empty()) {
              const OpSet<float> set = resolve_backend(*backend);
              opt.variants.assign(set.chosen.begin(), set.chosen.end());
            }
            const auto rows = verify_all(opt);
            print_rows(rows, *failures_only);
            const Tally t = tally(rows);
            // The count only where it was asked for: a CPU verify does not load the GPU module to ask.
            const bool asked = !gpu_module_in_build() || gpu_module_tried();
            fmt::print("\n{} passed, {} failed, {} skipped; CUDA devices: {}\n", t.pass, t.failed, t.skipped,
                       asked ? std::to_string(cuda_device_count()) : std::string("not queried"));
            if (t.first_not_run)
              fmt::print("{} rows {}: run them again in a fresh process (--filter, --backend)\n", t.not_run,
                         t.first_not_run->reason);
            return t.failed == 0 ? 0 : 1;
          }};
}

}  // namespace cnnb::cli
