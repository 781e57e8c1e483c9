// `cnnbench verify`: every kernel variant against cpu-ref on the shared op cases, on the machine at
// hand. The first command to run on a GPU machine.
#include <algorithm>

#include <fmt/format.h>

#include "backends/backend.h"
#include "backends/verify.h"
#include "bench/commands.h"
#include "core/device.h"
#include "core/error.h"

namespace cnnb::cli {

Command add_verify(CLI::App& app) {
  CLI::App* sub = app.add_subcommand("verify", "Check every kernel variant against cpu-ref on this machine");
  auto backend = std::make_shared<std::string>();
  auto filter = std::make_shared<std::string>();
  auto threads = std::make_shared<int>(0);
  auto failures_only = std::make_shared<bool>(false);
  sub->add_option("--backend", *backend, "Only the variants this backend uses (see `cnnbench list`)");
  sub->add_option("--filter", *filter, "Only variants whose op/family/variant name contains this text");
  sub->add_option("--threads", *threads, "CPU threads for CPU variants (0 = all cores)");
  sub->add_flag("--failures-only", *failures_only, "Print only failed rows");
  return {sub, [=] {
            std::vector<std::string> wanted;  // the variants the backend's recipe resolves to; empty = all
            if (!backend->empty()) {
              const OpSet<float> set = resolve_backend(*backend);
              wanted.assign(set.chosen.begin(), set.chosen.end());
            }
            if (*threads < 0) fail_input("--threads must be 0 (all cores) or positive, got {}", *threads);
            const auto rows = verify_all(*filter, *threads);
            fmt::print("{:<16} {:<34} {:<18} {:>11} {:>11} {:<14} {}\n", "op", "variant", "case", "max_abs_err",
                       "nmse", "tolerance", "result");
            int pass = 0, failed = 0, skipped = 0;
            for (const auto& r : rows) {
              if (!wanted.empty() && std::find(wanted.begin(), wanted.end(), r.kernel) == wanted.end()) continue;
              const std::string result = r.skipped ? "SKIPPED (" + r.reason + ")"
                                         : r.pass  ? "pass"
                                                   : "FAIL" + (r.reason.empty() ? "" : " (" + r.reason + ")");
              r.skipped ? ++skipped : r.pass ? ++pass : ++failed;
              if (*failures_only && (r.pass || r.skipped)) continue;
              fmt::print("{:<16} {:<34} {:<18} {:>11.3g} {:>11.3g} {:<14} {}\n", op_name(r.op), r.kernel, r.case_name,
                         r.max_abs_err, r.nmse, r.tol.str(), result);
            }
            fmt::print("\n{} passed, {} failed, {} skipped; CUDA devices: {}\n", pass, failed, skipped,
                       cuda_device_count());
            return failed == 0 ? 0 : 1;
          }};
}

}  // namespace cnnb::cli
