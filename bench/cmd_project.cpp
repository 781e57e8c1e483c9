// `cnnbench project`: the ring all-reduce alpha-beta projection as a table, from two numbers.
#include <cmath>

#include <fmt/format.h>

#include "bench/commands.h"
#include "bench/harness/sweep.h"
#include "core/error.h"
#include "reports/projection.h"

namespace cnnb::cli {

Command add_project(CLI::App& app) {
  CLI::App* sub = app.add_subcommand(
      "project", "Predict step time and scaling efficiency for N = 1..64 devices over named links (ring all-reduce)");
  struct Opts {
    double params = 0, step_ms = 0, bytes = 0, alpha_us = 0, bandwidth = 0;
    std::string scaling = "weak", devices = "1,2,4,8,16,32,64";
    std::vector<std::string> links;
  };
  auto o = std::make_shared<Opts>();
  sub->add_option("--params", o->params, "Model parameters (the gradient is 4 bytes each)")->required();
  sub->add_option("--step-ms", o->step_ms, "Measured step time of one device, without exchange (ms)")->required();
  sub->add_option("--scaling", o->scaling, "weak (batch per device) or strong (global batch split N ways)")
      ->capture_default_str();
  sub->add_option("--devices", o->devices, "Device counts")->capture_default_str();
  sub->add_option("--link", o->links, "Only these links: pcie4, pcie5, nvlink3, nvlink4, ib-hdr, ib-ndr (repeatable)");
  sub->add_option("--bytes", o->bytes, "Bytes exchanged per step (default 4 x params)");
  sub->add_option("--alpha-us", o->alpha_us, "Add a custom link: latency per ring step (us), with --bandwidth-gbps");
  sub->add_option("--bandwidth-gbps", o->bandwidth, "Add a custom link: GB/s per direction, with --alpha-us");

  return {sub, [o] {
            if (!(o->params > 0) || !std::isfinite(o->params)) fail_input("--params must be positive, got {}", o->params);
            if (!(o->step_ms > 0) || !std::isfinite(o->step_ms))
              fail_input("--step-ms must be a positive time in ms, got {}", o->step_ms);
            if (o->bytes < 0) fail_input("--bytes must be >= 0, got {}", o->bytes);
            if (o->scaling != "weak" && o->scaling != "strong")
              fail_input("--scaling must be weak or strong, got '{}'", o->scaling);
            if ((o->alpha_us > 0) != (o->bandwidth > 0))
              fail_input("a custom link needs both --alpha-us and --bandwidth-gbps (positive)");
            std::vector<int> ns;
            for (const auto& d : split_list(o->devices)) {
              int n = 0;
              try {
                n = std::stoi(d);
              } catch (const std::exception&) {
              }
              if (n < 1 || n > 65536 || std::to_string(n) != d)
                fail_input("--devices: '{}' is not a device count (a positive integer)", d);
              ns.push_back(n);
            }
            std::vector<Link> chosen;
            if (o->links.empty())
              chosen.assign(links().begin(), links().end());
            else
              for (const auto& k : o->links)
                for (const auto& x : split_list(k)) chosen.push_back(find_link(x));
            if (o->alpha_us > 0)
              chosen.push_back({"custom", "custom", o->alpha_us, o->bandwidth, "--alpha-us/--bandwidth-gbps"});
            const double bytes = o->bytes > 0 ? o->bytes : 4 * o->params;
            const Scaling scaling = o->scaling == "weak" ? Scaling::weak : Scaling::strong;

            fmt::print("Ring all-reduce of S = {:.3f} MB per step, compute {:.3f} ms per step on one device, {} scaling\n",
                       bytes / 1e6, o->step_ms,
                       scaling == Scaling::weak ? "weak (batch per device)" : "strong (global batch split N ways)");
            fmt::print("T(N) = 2(N-1)*alpha + 2(N-1)/N * S/B; step = compute{} + T(N); cells: step ms / efficiency\n\n",
                       scaling == Scaling::weak ? "" : "/N");
            fmt::print("{:>5}", "N");
            for (const auto& l : chosen) fmt::print(" | {:>24}", l.name);
            fmt::print("\n{:>5}", "");
            for (const auto& l : chosen)
              fmt::print(" | {:>24}", fmt::format("a={}us B={}GB/s", l.alpha_us, l.bandwidth_gbps));
            fmt::print("\n");
            for (int n : ns) {
              fmt::print("{:>5}", n);
              for (const auto& l : chosen) {
                const auto p = project_point(l, n, o->step_ms, bytes, scaling);
                fmt::print(" | {:>24}", fmt::format("{:.3f} ms {:5.1f}%", p.step_ms, 100 * p.efficiency));
              }
              fmt::print("\n");
            }
            return 0;
          }};
}

}  // namespace cnnb::cli
