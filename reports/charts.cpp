#include "reports/charts.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "reports/projection.h"

namespace cnnb {

namespace {

// "?" is the .dat files' missing value.
std::string num(double v) { return std::isfinite(v) ? fmt::format("{:.6g}", v) : "?"; }

int strategy_rank(const std::string& s) {
  static const std::vector<std::string> order = {"single", "allreduce", "tower", "param-avg", "independent"};
  const auto it = std::find(order.begin(), order.end(), s);
  return it == order.end() ? int(order.size()) : int(it - order.begin());
}

int bar_chart_width(size_t bars) { return int(std::clamp<size_t>(240 + 80 * bars, 800, 1800)); }

std::string gp_string_array(const std::string& name, const std::vector<std::string>& items) {
  std::vector<std::string> q;
  for (const auto& s : items) q.push_back(fmt::format("\"{}\"", gp_quote(s)));
  return fmt::format("array {}[{}] = [{}]\n", name, items.size(), fmt::join(q, ", "));
}

std::string rotate_xtics() { return "set xtics rotate by -30 left nomirror noenhanced\nset bmargin 10\n"; }

}  // namespace

bool display_before(const RunRow& a, const RunRow& b) {
  auto key = [](const RunRow& r) {
    return std::make_tuple(r.model_spec, r.dataset, r.batch_axis, backend_display_rank(r.backend), r.backend,
                           strategy_rank(r.strategy), r.replicas, r.scaling, r.pipeline, r.kernel_set);
  };
  return key(a) < key(b);
}

std::string setup_title(const RunRow& r) {
  return fmt::format("{} on {}, batch {}", r.model.empty() ? r.model_spec : r.model, short_dataset(r.dataset),
                     r.batch_axis);
}

std::vector<std::vector<const RunRow*>> setup_groups(const ResultSet& set) {
  std::map<std::tuple<std::string, std::string, int, std::string>, std::vector<const RunRow*>> groups;
  for (const auto& r : set.rows)
    if (r.ok()) groups[{r.model_spec, r.dataset, r.batch_axis, r.host}].push_back(&r);
  std::vector<std::vector<const RunRow*>> out;
  for (auto& [k, g] : groups) {
    std::sort(g.begin(), g.end(), [](const RunRow* a, const RunRow* b) { return display_before(*a, *b); });
    out.push_back(std::move(g));
  }
  return out;
}

std::vector<BuiltChart> speedup_charts(const ResultSet& set, const ChartContext& ctx) {
  std::vector<BuiltChart> out;
  int index = 0;
  for (const auto& g : setup_groups(set)) {
    const RunRow* base = find_baseline(set, *g.front());
    BuiltChart b;
    ChartSpec& c = b.spec;
    c.name = fmt::format("speedup_{}", ++index);
    c.footer = ctx.footer;
    c.width = bar_chart_width(g.size());
    c.height = 600;
    c.dat = "# bar\tconfiguration\tspeedup_vs_cpu_ref\tcolor\timages_per_second\n";
    double lo = 1, hi = 1;
    int n = 0;
    for (const RunRow* r : g) {
      const double s = base ? r->images_per_second / base->images_per_second : kNaN;
      c.dat += fmt::format("{}\t{}\t{}\t{}\t{}\n", ++n, dat_cell(r->label()), num(s), backend_color(r->backend),
                           num(r->images_per_second));
      if (std::isfinite(s) && s > 0) lo = std::min(lo, s), hi = std::max(hi, s);
    }
    b.title = fmt::format("Speedup over the sequential CPU baseline — {}", setup_title(*g.front()));
    if (base) {
      b.caption = fmt::format(
          "Images/s of each configuration divided by the baseline's (cpu-ref, single, one device: {:.1f} images/s), "
          "log scale; bar colour = backend.",
          base->images_per_second);
      c.body = fmt::format(
          "set title \"Speedup over the sequential CPU baseline\\n{}\\n(cpu-ref single = 1 = {:.1f} images/s; higher "
          "is better)\"\n"
          "set ylabel \"speedup vs cpu-ref (log scale)\"\n"
          "set logscale y\n"
          "set yrange [{}:{}]\n"
          "set xrange [0.3:{}]\n"
          "set format y \"%gx\"\n"
          "set style fill solid 0.85 border lc rgb \"#333333\"\n"
          "set boxwidth 0.7\n"
          "{}"
          "unset key\n"
          "plot \"{}.dat\" using 1:3:4:xtic(2) with boxes lc rgb variable, \\\n"
          "     \"\" using 1:3:(sprintf(\"%.2fx\", $3)) with labels offset 0,0.8 font \",9\", \\\n"
          "     1 with lines dt 2 lc rgb \"#444444\"\n",
          gp_quote(setup_title(*g.front())), base->images_per_second, num(lo / 2), num(hi * 3), n + 0.7, rotate_xtics(),
          c.name);
    } else {
      b.caption = "No baseline: these results have no cpu-ref single one-device run of this model, dataset and batch, "
                  "so no speedup is shown (a `cnnbench sweep` always adds it).";
      c.body = fmt::format(
          "set title \"Speedup over the sequential CPU baseline: {}\"\n"
          "unset border\nunset xtics\nunset ytics\nunset grid\nunset key\n"
          "set label 1 \"No sequential CPU baseline in these results\\n(cpu-ref, single, 1 device, same model, dataset "
          "and batch),\\nso there is no speedup to show.\\n\\nRun 'cnnbench sweep' (it always adds the baseline) or\\n"
          "'cnnbench train --backend cpu-ref ... --out FILE' and report again.\" at graph 0.5, graph 0.5 center\n"
          "plot [0:1][0:1] NaN\n",
          gp_quote(setup_title(*g.front())));
    }
    out.push_back(std::move(b));
  }
  return out;
}

std::vector<BuiltChart> scaling_charts(const ResultSet& set, const ChartContext& ctx) {
  // Groups of multi-device rows: same setup, backend, pipeline, kernels and scaling mode.
  std::map<std::tuple<std::string, std::string, int, std::string, std::string, std::string, std::string, std::string>,
           std::vector<const RunRow*>>
      groups;
  for (const auto& r : set.rows)
    if (r.ok() && r.replicas > 1 && r.images_per_second > 0)
      groups[{r.model_spec, r.dataset, r.batch_axis, r.host, r.backend, r.pipeline, r.kernel_set, r.scaling}].push_back(&r);
  std::vector<BuiltChart> out;
  int index = 0;
  for (const auto& [key, rows] : groups) {
    const RunRow& first = *rows.front();
    std::vector<std::string> strategies;
    for (const RunRow* r : rows)
      if (std::find(strategies.begin(), strategies.end(), r->strategy) == strategies.end()) strategies.push_back(r->strategy);
    std::sort(strategies.begin(), strategies.end(),
              [](const std::string& a, const std::string& b) { return strategy_rank(a) < strategy_rank(b); });
    // (N, strategy) -> (X, E); N = 1 from the one-device run each strategy is measured against.
    std::map<int, std::map<std::string, std::pair<double, double>>> table;
    double x1_ideal = kNaN;
    for (const auto& s : strategies) {
      const RunRow* probe = *std::find_if(rows.begin(), rows.end(), [&](const RunRow* r) { return r->strategy == s; });
      const RunRow* one = find_one_device(set, *probe);
      if (one) {
        table[1][s] = {one->images_per_second, 1.0};
        if (!std::isfinite(x1_ideal) || one->strategy == "single") x1_ideal = one->images_per_second;
      }
    }
    for (const RunRow* r : rows) {
      const auto e = scaling_efficiency(set, *r);
      table[r->replicas][r->strategy] = {r->images_per_second, e ? *e : kNaN};
    }
    BuiltChart b;
    ChartSpec& c = b.spec;
    c.name = fmt::format("scaling_{}", ++index);
    c.footer = ctx.footer;
    c.width = 1200;
    c.height = 540;
    c.dat = "# N";
    for (const auto& s : strategies) c.dat += fmt::format("\t{}_images_per_second\t{}_efficiency_percent", s, s);
    c.dat += "\n";
    double max_e = 100;
    std::vector<int> ns;
    for (const auto& [n, cols] : table) {
      ns.push_back(n);
      c.dat += std::to_string(n);
      for (const auto& s : strategies) {
        const auto it = cols.find(s);
        const double x = it == cols.end() ? kNaN : it->second.first;
        const double e = it == cols.end() ? kNaN : 100 * it->second.second;
        if (std::isfinite(e)) max_e = std::max(max_e, e);
        c.dat += fmt::format("\t{}\t{}", num(x), num(e));
      }
      c.dat += "\n";
    }
    const bool weak = first.scaling == "weak";
    const std::string mode = weak ? fmt::format("Weak scaling (batch {} per device)", first.batch_axis)
                                  : fmt::format("Strong scaling (global batch {})", first.batch_axis);
    b.title = fmt::format("{} — {}, {} on {}", mode, first.backend, first.model, short_dataset(first.dataset));
    b.caption = fmt::format(
        "Throughput X(N) and efficiency E(N) = X(N) / (N·X(1)) against one device of {} (dashed: ideal){}.",
        first.backend, weak ? "; weak scaling keeps the batch per device, so the global batch grows with N"
                            : "; strong scaling splits one global batch over the N devices");
    std::string xt;
    for (int n : ns) xt += (xt.empty() ? "" : ",") + std::to_string(n);
    std::string plot_x, plot_e;
    for (size_t i = 0; i < strategies.size(); ++i) {
      plot_x += fmt::format(", \\\n     \"{}.dat\" using 1:{} with linespoints lw 2 pt 7 title \"{}\"", c.name, 2 + 2 * i,
                            gp_quote(strategies[i]));
      plot_e += fmt::format(", \\\n     \"{}.dat\" using 1:{} with linespoints lw 2 pt 7 title \"{}\"", c.name, 3 + 2 * i,
                            gp_quote(strategies[i]));
    }
    c.body = fmt::format(
        "set multiplot layout 1,2 title \"{}: {}, {} on {}\"\n"
        "set logscale x 2\n"
        "set xrange [0.8:{}]\n"
        "set xtics ({})\n"
        "set xlabel \"devices N\"\n"
        "set key top left\n"
        "set title \"throughput\"\n"
        "set ylabel \"images/s\"\n"
        "set yrange [0:*]\n"
        "plot {} * x with lines dt 2 lw 1.5 lc rgb \"#888888\" title \"ideal N·X(1)\"{}\n"
        "set title \"scaling efficiency E(N) = X(N) / (N·X(1))\"\n"
        "set ylabel \"efficiency (%)\"\n"
        "set yrange [0:{}]\n"
        "set key bottom left\n"
        "plot 100 with lines dt 2 lw 1.5 lc rgb \"#888888\" title \"ideal\"{}\n"
        "unset multiplot\n",
        gp_quote(mode), gp_quote(first.backend), gp_quote(first.model), gp_quote(short_dataset(first.dataset)),
        num(ns.back() * 1.25), xt,
        num(std::isfinite(x1_ideal) ? x1_ideal : 0), plot_x, num(std::ceil(max_e * 1.1 / 10) * 10), plot_e);
    out.push_back(std::move(b));
  }
  return out;
}

std::vector<BuiltChart> breakdown_charts(const ResultSet& set, const ChartContext& ctx) {
  static const std::vector<std::pair<std::string, std::string>> phases = {
      {"data", "data wait"}, {"h2d", "H2D copy"},         {"forward", "forward"},   {"backward", "backward"},
      {"metrics", "loss/accuracy"}, {"numerics", "numerics check"}, {"exchange", "exchange"}, {"update", "update"}};
  static const std::vector<std::string> colors = {"#8c564b", "#e377c2", "#1f77b4", "#ff7f0e",
                                                  "#bcbd22", "#7f7f7f", "#d62728", "#2ca02c"};
  std::vector<BuiltChart> out;
  int index = 0;
  for (const auto& g : setup_groups(set)) {
    BuiltChart b;
    ChartSpec& c = b.spec;
    c.name = fmt::format("breakdown_{}", ++index);
    c.footer = ctx.footer;
    c.width = bar_chart_width(g.size()) + 160;
    c.height = 600;
    c.dat = "# configuration";
    for (const auto& [k, title] : phases) c.dat += fmt::format("\t{}_ms", k);
    c.dat += "\n";
    for (const RunRow* r : g) {
      c.dat += dat_cell(r->label());
      for (const auto& [k, title] : phases) {
        const auto it = r->phases.find(k);
        c.dat += fmt::format("\t{}", num(it == r->phases.end() ? 0.0 : it->second));
      }
      c.dat += "\n";
    }
    b.title = fmt::format("Step-time breakdown — {}", setup_title(*g.front()));
    b.caption = "Median milliseconds of each phase of a training step, stacked (a multi-device step counts its slowest "
                "replica; the sum of medians is close to, not equal to, the median step).";
    std::string plot;
    for (size_t i = 0; i < phases.size(); ++i)
      plot += fmt::format("{}\"{}\" using {}{} title \"{}\" lc rgb \"{}\"", i == 0 ? "plot " : ", \\\n     ",
                          i == 0 ? c.name + ".dat" : "", i + 2, i == 0 ? ":xtic(1)" : "", phases[i].second, colors[i]);
    c.body = fmt::format(
        "set title \"Step-time breakdown (median ms per phase, stacked)\\n{}\"\n"
        "set style data histograms\n"
        "set style histogram rowstacked\n"
        "set style fill solid 0.9 border lc rgb \"#333333\"\n"
        "set boxwidth 0.7\n"
        "set ylabel \"ms per step\"\n"
        "set yrange [0:*]\n"
        "{}"
        "set key outside right top vertical\n"
        "{}\n",
        gp_quote(setup_title(*g.front())), rotate_xtics(), plot);
    out.push_back(std::move(b));
  }
  return out;
}

std::vector<BuiltChart> curve_charts(const ResultSet& set, const ChartContext& ctx) {
  constexpr size_t kMaxCurves = 10;
  std::vector<BuiltChart> out;
  int index = 0;
  for (const auto& g : setup_groups(set)) {
    std::vector<const RunRow*> rows;
    for (const RunRow* r : g)
      if (!r->epochs.empty() && std::isfinite(r->epochs.back().test_accuracy)) rows.push_back(r);
    if (rows.empty()) continue;
    size_t left_out = 0;
    if (rows.size() > kMaxCurves) {
      // The best final accuracies tell the story; the table has the others.
      std::stable_sort(rows.begin(), rows.end(), [](const RunRow* a, const RunRow* b) {
        return a->epochs.back().test_accuracy > b->epochs.back().test_accuracy;
      });
      left_out = rows.size() - kMaxCurves;
      rows.resize(kMaxCurves);
    }
    BuiltChart b;
    ChartSpec& c = b.spec;
    c.name = fmt::format("curves_{}", ++index);
    c.footer = ctx.footer;
    c.width = 1200;
    c.height = 540;
    std::vector<std::string> titles;
    for (const RunRow* r : rows) {
      titles.push_back(r->label());
      c.dat += fmt::format("# {}\n# wall_seconds\ttrain_loss\ttest_loss\ttest_accuracy_percent\n", dat_cell(r->label()));
      for (const auto& e : r->epochs)
        c.dat += fmt::format("{}\t{}\t{}\t{}\n", num(e.wall_seconds), num(e.train_loss), num(e.test_loss),
                             num(100 * e.test_accuracy));
      c.dat += "\n\n";
    }
    b.title = fmt::format("Loss and test accuracy against wall time — {}", setup_title(*g.front()));
    b.caption = fmt::format("One point per epoch, at the wall time after its evaluation; dashed: train loss{}.",
                            left_out ? fmt::format("; the {} best of {} configurations by final accuracy", kMaxCurves,
                                                   kMaxCurves + left_out)
                                     : "");
    c.body = fmt::format(
        "{}"
        "set multiplot layout 1,2 title \"Learning curves against wall time (evaluation included): {}\"\n"
        "set xlabel \"wall time (s)\"\n"
        "set xrange [0:*]\n"
        "set title \"loss (solid: test, dashed: train)\"\n"
        "set ylabel \"cross-entropy loss\"\n"
        "set key top right\n"
        "plot for [i=1:{}] \"{}.dat\" index (i-1) using 1:3 with linespoints lw 2 pt 7 lc i title T[i], \\\n"
        "     for [i=1:{}] \"{}.dat\" index (i-1) using 1:2 with lines dt 2 lc i notitle\n"
        "set title \"test accuracy\"\n"
        "set ylabel \"test accuracy (%)\"\n"
        "set yrange [0:100]\n"
        "set key bottom right\n"
        "plot for [i=1:{}] \"{}.dat\" index (i-1) using 1:4 with linespoints lw 2 pt 7 lc i title T[i], \\\n"
        "     {} with lines dt 3 lc rgb \"#444444\" title \"target {:.0f}%\"\n"
        "unset multiplot\n",
        gp_string_array("T", titles), gp_quote(setup_title(*g.front())), rows.size(), c.name, rows.size(), c.name,
        rows.size(), c.name, num(100 * ctx.target), 100 * ctx.target);
    out.push_back(std::move(b));
  }
  return out;
}

std::vector<BuiltChart> micro_charts(const std::vector<MicroResult>& micro, const ChartContext& ctx) {
  std::vector<std::string> ops;
  for (const auto& m : micro)
    if (std::find(ops.begin(), ops.end(), m.op) == ops.end()) ops.push_back(m.op);
  std::vector<BuiltChart> out;
  for (const auto& op : ops) {
    std::vector<std::string> cases, variants;
    std::map<std::pair<std::string, std::string>, double> v;
    for (const auto& m : micro) {
      if (m.op != op) continue;
      if (std::find(cases.begin(), cases.end(), m.kase) == cases.end()) cases.push_back(m.kase);
      if (std::find(variants.begin(), variants.end(), m.variant_name()) == variants.end())
        variants.push_back(m.variant_name());
      v[{m.kase, m.variant_name()}] = m.error.empty() ? m.gflops : kNaN;
    }
    // A variant that ran on no case has no bar anywhere (the table lists why).
    std::erase_if(variants, [&](const std::string& var) {
      return std::none_of(cases.begin(), cases.end(), [&](const std::string& k) {
        const auto it = v.find({k, var});
        return it != v.end() && std::isfinite(it->second);
      });
    });
    double lo = kNaN, hi = kNaN;
    for (const auto& [k, g] : v)
      if (std::isfinite(g) && g > 0) lo = std::isfinite(lo) ? std::min(lo, g) : g, hi = std::isfinite(hi) ? std::max(hi, g) : g;
    if (!std::isfinite(lo)) continue;  // nothing ran for this op (e.g. GPU variants without a GPU)
    BuiltChart b;
    ChartSpec& c = b.spec;
    c.name = "micro_" + op;
    c.footer = ctx.footer;
    c.width = int(std::clamp<size_t>(300 + cases.size() * (40 + 22 * variants.size()), 800, 1800));
    c.height = 560;
    c.dat = "case";
    for (const auto& var : variants) c.dat += fmt::format("\t{}", var);
    c.dat += "\n";
    for (const auto& k : cases) {
      c.dat += dat_cell(k);
      for (const auto& var : variants) {
        const auto it = v.find({k, var});
        c.dat += fmt::format("\t{}", num(it == v.end() ? kNaN : it->second));
      }
      c.dat += "\n";
    }
    b.title = fmt::format("Kernel variants of {} (cnnbench-micro)", op);
    b.caption = "GFLOP/s of every variant on every case of this op (the same FLOP count for every variant), log scale; "
                "a missing bar did not run (see the table).";
    c.body = fmt::format(
        "set title \"{}: GFLOP/s per kernel variant (higher is better)\"\n"
        "set style data histograms\n"
        "set style histogram clustered gap 1\n"
        "set style fill solid 0.9 border lc rgb \"#333333\"\n"
        "set logscale y\n"
        "set yrange [{}:{}]\n"
        "set ylabel \"GFLOP/s (log scale)\"\n"
        "{}"
        "set key outside right top vertical noenhanced\n"
        "plot for [i=2:{}] \"{}.dat\" using i:xtic(1) title columnheader(i)\n",
        gp_quote(op), num(lo / 2), num(hi * 2), rotate_xtics(), variants.size() + 1, c.name);
    out.push_back(std::move(b));
  }
  return out;
}

std::vector<BuiltChart> projection_charts(const ResultSet& set, const ChartContext& ctx, std::string& table) {
  // The best one-device run of each model and dataset: a GPU backend if any, then the highest throughput.
  std::map<std::tuple<std::string, std::string, std::string>, const RunRow*> best;
  for (const auto& r : set.rows) {
    if (!r.ok() || r.replicas != 1 || !(r.images_per_second > 0) || !(r.step_median > 0) || r.params <= 0) continue;
    const RunRow*& b = best[{r.model_spec, r.dataset, r.host}];
    const auto rank = [](const RunRow* x) { return std::make_pair(!backend_on_cpu(x->backend), x->images_per_second); };
    if (!b || rank(&r) > rank(b)) b = &r;
  }
  std::vector<BuiltChart> out;
  const std::vector<int> ns = device_counts_1_to_64();
  int index = 0;
  for (const auto& [key, run] : best) {
    const double compute_ms = std::max(1e-6, run->step_median - run->exchange_ms());
    const double bytes = 4.0 * run->params;
    BuiltChart b;
    ChartSpec& c = b.spec;
    c.name = fmt::format("projection_{}", ++index);
    c.footer = ctx.footer;
    c.width = 1200;
    c.height = 560;
    c.dat = "# predicted efficiency (%) of a ring all-reduce data-parallel step, from " + dat_cell(run->label()) + "\n# N";
    for (const Link& l : links()) c.dat += fmt::format("\tweak_{}", l.key);
    for (const Link& l : links()) c.dat += fmt::format("\tstrong_{}", l.key);
    c.dat += "\n";
    for (int n : ns) {
      c.dat += std::to_string(n);
      for (Scaling s : {Scaling::weak, Scaling::strong})
        for (const Link& l : links()) c.dat += fmt::format("\t{}", num(100 * project_point(l, n, compute_ms, bytes, s).efficiency));
      c.dat += "\n";
    }
    // Measured points on top: the same backend, model, dataset and batch on more than one device.
    std::string measured;
    bool has[2] = {false, false};
    for (const auto& r : set.rows) {
      if (!r.ok() || r.replicas <= 1 || r.backend != run->backend || r.model_spec != run->model_spec ||
          r.dataset != run->dataset || r.batch_axis != run->batch_axis || r.host != run->host)
        continue;
      const auto e = scaling_efficiency(set, r);
      if (!e) continue;
      has[r.scaling == "weak" ? 0 : 1] = true;
      measured += fmt::format("{}\t{}\t{}\t{}\n", r.replicas, num(100 * *e), r.scaling == "weak" ? "weak" : "strong",
                              dat_cell(r.label()));
    }
    c.dat += "\n\n# measured: N\tefficiency_percent\tscaling\tconfiguration\n" + measured;
    std::vector<std::string> names;
    for (const Link& l : links()) names.emplace_back(l.name);
    const std::string mb = bytes >= 1e6 ? fmt::format("{:.2f} MB", bytes / 1e6) : fmt::format("{:.1f} kB", bytes / 1e3);
    b.title = fmt::format("Scaling projection — {} from {}", run->model, run->label());
    b.caption = fmt::format(
        "Ring all-reduce model T(N) = 2(N-1)α + 2(N-1)/N·S/B with S = 4 × {:.0f} parameters = {} and the measured "
        "compute of {:.3f} ms per step, no overlap (docs/SCALING.md); black points: measured on this machine "
        "(its own communicator, not these links).",
        run->params, mb, compute_ms);
    const int k = int(links().size());
    auto panel = [&](int offset, int block, const std::string& title) {
      std::string p = fmt::format("set title \"{}\"\nplot for [i=1:{}] \"{}.dat\" index 0 using 1:(column(i+{})) "
                                  "with lines lw 2 title L[i]",
                                  title, k, c.name, offset);
      if (has[block - 1])
        p += fmt::format(", \\\n     \"{}.dat\" index 1 using 1:(strcol(3) eq \"{}\" ? $2 : NaN) with points pt 7 "
                         "ps 1.4 lc rgb \"black\" title \"measured here\"",
                         c.name, block == 1 ? "weak" : "strong");
      return p + "\n";
    };
    c.body = gp_string_array("L", names) +
             fmt::format("set multiplot layout 1,2 title \"Projected efficiency of {} ({} of gradients per step, "
                         "compute {:.3f} ms/step)\"\n"
                         "set logscale x 2\n"
                         "set xrange [1:64]\n"
                         "set xtics (1,2,4,8,16,32,64)\n"
                         "set yrange [0:105]\n"
                         "set xlabel \"devices N\"\n"
                         "set ylabel \"efficiency (%)\"\n"
                         "set key bottom left font \",9\"\n",
                         gp_quote(run->label()), mb, compute_ms) +
             panel(1, 1, fmt::format("weak scaling (batch {} per device)", run->batch)) +
             panel(1 + k, 2, fmt::format("strong scaling (global batch {} split N ways)", run->batch)) +
             "unset multiplot\n";
    out.push_back(std::move(b));

    table += fmt::format("\nFrom **{}** ({}, {} on {}): compute {:.3f} ms per step, S = {} of gradients per step.\n\n",
                         run->label(), run->source, run->model, run->dataset, compute_ms, mb);
    table += "| link | α per step (µs) | B (GB/s) | all-reduce at N=8 (ms) | E weak N=8 | E weak N=64 | E strong N=8 | "
             "E strong N=64 |\n|---|---:|---:|---:|---:|---:|---:|---:|\n";
    for (const Link& l : links()) {
      const auto w8 = project_point(l, 8, compute_ms, bytes, Scaling::weak);
      const auto w64 = project_point(l, 64, compute_ms, bytes, Scaling::weak);
      const auto s8 = project_point(l, 8, compute_ms, bytes, Scaling::strong);
      const auto s64 = project_point(l, 64, compute_ms, bytes, Scaling::strong);
      table += fmt::format("| {} | {:.1f} | {:.1f} | {:.3f} | {:.1f}% | {:.1f}% | {:.1f}% | {:.1f}% |\n", l.name, l.alpha_us,
                           l.bandwidth_gbps, w8.exchange_ms, 100 * w8.efficiency, 100 * w64.efficiency,
                           100 * s8.efficiency, 100 * s64.efficiency);
    }
  }
  return out;
}

}  // namespace cnnb
