// `cnnbench report`: tables and charts from result files; `--compare OLD NEW`: did the change help?
#include <cstdio>

#include <fmt/format.h>

#include "bench/commands.h"
#include "core/error.h"
#include "reports/report.h"

namespace cnnb::cli {

Command add_report(CLI::App& app) {
  CLI::App* sub = app.add_subcommand(
      "report", "Write DIR/index.md and charts (SVG, PNG, with their gnuplot data and scripts) from result files");
  struct Opts {
    std::vector<std::string> results, micro, compare;
    std::string out;
    double target = 0.85;
    double fail_below = 0;
    bool no_render = false;
  };
  auto o = std::make_shared<Opts>();
  sub->add_option("results", o->results, "Result files: .jsonl from `cnnbench sweep`, .json from `cnnbench train --out`");
  sub->add_option("--out", o->out, "Report directory (created if missing)")->required();
  sub->add_option("--target", o->target, "Test accuracy of the time-to-accuracy column, a fraction")->capture_default_str();
  sub->add_option("--micro", o->micro, "cnnbench-micro Google Benchmark JSON (--benchmark_out=FILE.json), repeatable");
  sub->add_option("--compare", o->compare, "OLD NEW: throughput ratio between two result sets matched by config hash")
      ->expected(2);
  sub->add_option("--fail-below", o->fail_below,
                  "With --compare: exit with status 3 when a configuration's new/old ratio is below this (e.g. 0.95)");
  sub->add_flag("--no-render", o->no_render, "Write the .dat and .gp files only, do not run gnuplot");

  return {sub, [o] {
            if (!(o->target > 0 && o->target <= 1))
              fail_input("--target must be a test accuracy in (0, 1], e.g. 0.85 for 85%, got {}", o->target);
            if (o->fail_below < 0) fail_input("--fail-below must be a ratio >= 0, got {}", o->fail_below);
            if (!o->compare.empty()) {
              if (!o->results.empty())
                fail_input("--compare OLD NEW takes its two result files itself; drop the other files ({})",
                           o->results.front());
              CompareOptions c;
              c.old_file = o->compare[0];
              c.new_file = o->compare[1];
              c.out = o->out;
              c.render = !o->no_render;
              c.fail_below = o->fail_below;
              const CompareOutcome r = write_compare(c);
              for (const auto& w : r.report.warnings) fmt::print(stderr, "warning: {}\n", w);
              if (!r.report.render_note.empty()) fmt::print(stderr, "note: {}\n", r.report.render_note);
              fmt::print("wrote {}: {} configurations in both files{}\n", r.report.index.string(), r.matched,
                         o->fail_below > 0 ? fmt::format(", {} below {}", r.regressions, o->fail_below) : "");
              return r.regressions > 0 ? 3 : 0;
            }
            ReportOptions opt;
            for (const auto& f : o->results) opt.results.emplace_back(f);
            for (const auto& f : o->micro) opt.micro.emplace_back(f);
            opt.out = o->out;
            opt.target = o->target;
            opt.render = !o->no_render;
            const ReportOutcome r = write_report(opt);
            for (const auto& w : r.warnings) fmt::print(stderr, "warning: {}\n", w);
            if (!r.render_note.empty()) fmt::print(stderr, "note: {}\n", r.render_note);
            fmt::print("wrote {} with {} charts ({} rendered to SVG and PNG)\n", r.index.string(), r.charts.size(),
                       r.rendered);
            return 0;
          }};
}

}  // namespace cnnb::cli
