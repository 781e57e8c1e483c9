#include "reports/report.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "backends/cuda_environment.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/files.h"
#include "reports/charts.h"
#include "reports/gnuplot.h"
#include "reports/micro.h"
#include "reports/search_charts.h"

namespace cnnb {

namespace fs = std::filesystem;

namespace {

std::string md(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '|') out += "\\|";
    else if (c == '\n') out += ' ';
    else out += c;
  }
  return out;
}

std::string ms(double v) { return std::isfinite(v) ? fmt::format("{:.3f}", v) : "–"; }
std::string ips(double v) { return std::isfinite(v) ? fmt::format("{:.1f}", v) : "–"; }

std::vector<const RunRow*> ordered(const ResultSet& set, bool ok) {
  std::vector<const RunRow*> v;
  for (const auto& r : set.rows)
    if (r.ok() == ok) v.push_back(&r);
  std::sort(v.begin(), v.end(), [](const RunRow* a, const RunRow* b) { return display_before(*a, *b); });
  return v;
}

std::string env_str(const nlohmann::json& env, const char* key) {
  const auto it = env.find(key);
  if (it == env.end() || it->is_null()) return "";
  return it->is_string() ? it->get<std::string>() : it->dump();
}

std::string footer_of(const ResultSet& set) {
  for (const auto& r : set.rows)
    if (r.environment.is_object())
      return fmt::format("cnnbench {} ({}) · {} · {} threads · {}", env_str(r.environment, "cnnbench_version"),
                         env_str(r.environment, "git_commit"), env_str(r.environment, "cpu"),
                         env_str(r.environment, "logical_cores"), env_str(r.environment, "hostname"));
  return "cnnbench";
}

// DIR and DIR/charts, writable; old chart files removed so that index.md and the folder agree.
fs::path prepare_dir(const fs::path& out) {
  std::error_code ec;
  const fs::path charts = out / "charts";
  fs::create_directories(charts, ec);
  if (ec) fail_input("--out {}: cannot create the report directory: {}", out.string(), ec.message());
  if (::access(out.c_str(), W_OK) != 0 || ::access(charts.c_str(), W_OK) != 0)
    fail_input("--out {}: the directory is not writable", out.string());
  for (const auto& e : fs::directory_iterator(charts, ec)) {
    const std::string ext = e.path().extension().string();
    if (ext == ".dat" || ext == ".gp" || ext == ".svg" || ext == ".png" || ext == ".log") fs::remove(e.path(), ec);
  }
  return charts;
}

struct Rendering {
  int rendered = 0;
  std::string note;
};

Rendering write_and_render(const fs::path& charts, const std::vector<BuiltChart>& built, bool render,
                           std::vector<std::string>& warnings) {
  for (const auto& b : built) write_chart(charts, b.spec);
  // render.sh: the same command for every chart, for a user who restyled a .gp file.
  std::string sh =
      "#!/bin/sh\n# Renders every chart of this report again (after editing a .gp file, say).\nset -e\ncd \"$(dirname "
      "\"$0\")\"\nfor gp in *.gp; do\n  gnuplot -e \"fmt='svg'\" \"$gp\"\n  gnuplot -e \"fmt='png'\" \"$gp\"\ndone\n";
  write_file_atomic(charts / "render.sh", sh);
  ::chmod((charts / "render.sh").c_str(), 0755);
  Rendering r;
  if (built.empty()) return r;
  const auto gp = find_gnuplot();
  if (!render) {
    r.note = fmt::format("Charts were not rendered (--no-render); render them with `sh {}/render.sh`.", charts.string());
    return r;
  }
  if (!gp) {
    r.note = fmt::format(
        "gnuplot was not found, so the charts exist as data (.dat) and scripts (.gp) only: install gnuplot "
        "(Debian/Ubuntu: apt-get install gnuplot-nox) and run `sh {}/render.sh`.",
        charts.string());
    return r;
  }
  int failed = 0;
  for (const auto& b : built) {
    const RenderResult res = render_chart(*gp, charts, b.spec.name);
    if (res.ok)
      ++r.rendered;
    else
      ++failed, warnings.push_back(res.message);
  }
  if (failed)
    r.note = fmt::format("{} of {} charts failed to render (see the warnings and charts/*.log).", failed, built.size());
  return r;
}

std::string chart_section(const std::vector<BuiltChart>& charts) {
  std::string s;
  for (const auto& b : charts) {
    s += fmt::format("### {}\n\n{}\n\n![{}](charts/{}.svg)\n\n", md(b.title), b.caption, md(b.title), b.spec.name);
    s += fmt::format("PNG: [charts/{0}.png](charts/{0}.png) · data: [charts/{0}.dat](charts/{0}.dat) · script: "
                     "[charts/{0}.gp](charts/{0}.gp)\n\n",
                     b.spec.name);
  }
  return s;
}

// Null when absent, as CPU-only builds wrote it before the cuda object.
nlohmann::json cuda_of(const nlohmann::json& env) {
  const auto it = env.find("cuda");
  return it == env.end() ? nlohmann::json(nullptr) : *it;
}

// A table cell: which GPUs, or that there were none; the details are lines below the table.
std::string cuda_cell(const nlohmann::json& cuda) {
  if (!cuda.is_object() || !cuda::cuda_flag(cuda, "built_with_cuda", true)) return "none (CPU-only build)";
  if (!cuda::cuda_flag(cuda, "queried", true)) return "not queried (CPU runs)";
  const auto gpus = cuda.find("gpus");
  if (gpus == cuda.end() || !gpus->is_array() || gpus->empty()) return "no usable GPU (see CUDA below)";
  std::vector<std::pair<std::string, int>> kinds;  // "NVIDIA A100 (compute capability 8.0)", count
  for (const auto& g : *gpus) {
    const std::string kind =
        fmt::format("{} (compute capability {})", env_str(g, "name"), env_str(g, "compute_capability"));
    const auto it = std::find_if(kinds.begin(), kinds.end(), [&](const auto& k) { return k.first == kind; });
    if (it == kinds.end()) kinds.emplace_back(kind, 1);
    else ++it->second;
  }
  std::vector<std::string> parts;
  for (const auto& [kind, n] : kinds) parts.push_back(fmt::format("{}× {}", n, kind));
  return fmt::format("{}", fmt::join(parts, ", "));
}

std::string cuda_section(const std::vector<const nlohmann::json*>& envs) {
  std::string s = "\n### CUDA\n";
  for (size_t i = 0; i < envs.size(); ++i) {
    const std::string host = env_str(*envs[i], "hostname");
    s += fmt::format("\nMachine {}{}:\n\n", i + 1, host.empty() ? "" : fmt::format(" ({})", md(host)));
    for (const auto& line : cuda::environment_lines(cuda_of(*envs[i]))) s += "- " + md(line) + "\n";
  }
  return s;
}

std::string environment_table(const ResultSet& set) {
  // One column per distinct machine and build, in the order first seen; of its records, one whose process
  // asked CUDA (a GPU run) over one that did not (a CPU run leaves the GPU module unloaded).
  const auto queried = [](const nlohmann::json& env) { return cuda::cuda_flag(cuda_of(env), "queried", true); };
  std::vector<const nlohmann::json*> envs;
  std::map<std::string, size_t> seen;
  std::string first_ts, last_ts;
  for (const auto& r : set.rows) {
    if (!r.environment.is_object()) continue;
    const std::string ts = env_str(r.environment, "timestamp");
    if (!ts.empty()) {
      if (first_ts.empty() || ts < first_ts) first_ts = ts;
      if (ts > last_ts) last_ts = ts;
    }
    const bool with_cuda = cuda::cuda_flag(cuda_of(r.environment), "built_with_cuda", false);
    const std::string id = env_str(r.environment, "hostname") + "|" + env_str(r.environment, "git_commit") + "|" +
                           env_str(r.environment, "build_type") + "|" + (with_cuda ? "cuda" : "cpu");
    if (const auto [it, added] = seen.emplace(id, envs.size()); added)
      envs.push_back(&r.environment);
    else if (!queried(*envs[it->second]) && queried(r.environment))
      envs[it->second] = &r.environment;
  }
  if (envs.empty()) return "No environment in these results.\n";
  std::string s = "| |";
  for (size_t i = 0; i < envs.size(); ++i) s += fmt::format(" machine {} |", i + 1);
  s += "\n|---|";
  for (size_t i = 0; i < envs.size(); ++i) s += "---|";
  s += "\n";
  auto row = [&](const std::string& name, auto get) {
    s += fmt::format("| {} |", name);
    for (const auto* e : envs) s += fmt::format(" {} |", md(get(*e)));
    s += "\n";
  };
  for (const char* k : {"cpu", "logical_cores", "os", "hostname", "compiler", "cnnbench_version", "git_commit", "build_type"})
    row(k, [&](const nlohmann::json& e) { return env_str(e, k); });
  row("BLAS", [](const nlohmann::json& e) {
    const auto it = e.find("libraries");
    return it != e.end() && it->is_object() ? env_str(*it, "openblas") : std::string();
  });
  row("MPI", [](const nlohmann::json& e) {
    const auto it = e.find("libraries");
    return it != e.end() && it->is_object() ? env_str(*it, "mpi") : std::string();
  });
  row("CUDA", [](const nlohmann::json& e) { return cuda_cell(cuda_of(e)); });
  row("variables", [](const nlohmann::json& e) {
    const auto it = e.find("variables");
    if (it == e.end() || !it->is_object()) return std::string();
    std::string v;
    for (const auto& [k, x] : it->items()) v += (v.empty() ? "" : ", ") + k + "=" + (x.is_string() ? x.get<std::string>() : x.dump());
    return v;
  });
  if (!first_ts.empty()) s += fmt::format("\nRuns measured from {} to {}.\n", first_ts, last_ts);
  return s + cuda_section(envs);
}

std::string not_run_table(const ResultSet& set) {
  const auto rows = ordered(set, false);
  if (rows.empty()) return "";
  std::string s = "## Skipped, failed and diverged runs\n\n| configuration | model | dataset | status | reason | line |\n"
                  "|---|---|---|---|---|---|\n";
  for (const RunRow* r : rows)
    s += fmt::format("| {} | {} | {} | {} | {} | {} |\n", md(r->label()), md(r->model), md(r->dataset), r->status,
                     md(r->reason), md(r->source));
  return s + "\n";
}

std::string breakdown_table(const ResultSet& set) {
  const auto rows = ordered(set, true);
  if (rows.empty()) return "";
  std::string s = "| configuration | model | dataset |";
  for (const char* ph : kStepPhases) s += fmt::format(" {} |", ph);
  s += " step (median) |\n|---|---|---|";
  for (size_t i = 0; i <= kStepPhases.size(); ++i) s += "---:|";
  s += "\n";
  for (const RunRow* r : rows) {
    s += fmt::format("| {} | {} | {} |", md(r->label()), md(r->model), md(r->dataset));
    for (const char* ph : kStepPhases) {
      const auto it = r->phases.find(ph);
      s += fmt::format(" {} |", ms(it == r->phases.end() ? kNaN : it->second));
    }
    s += fmt::format(" {} |\n", ms(r->step_median));
  }
  return s;
}

std::string micro_table(const std::vector<MicroResult>& micro) {
  if (micro.empty()) return "";
  std::string s = "| op | case | variant | GFLOP/s | µs per call | note |\n|---|---|---|---:|---:|---|\n";
  for (const auto& m : micro)
    s += fmt::format("| {} | {} | {} | {} | {} | {} |\n", m.op, md(m.kase), m.variant_name(),
                     m.error.empty() && std::isfinite(m.gflops) ? fmt::format("{:.2f}", m.gflops) : "–",
                     m.error.empty() ? fmt::format("{:.2f}", m.time_us) : "–", md(m.error));
  return s;
}

}  // namespace

std::string markdown_results_table(const ResultSet& set, double target) {
  const auto rows = ordered(set, true);
  if (rows.empty()) return "No successful runs in these results.\n";
  std::string s = fmt::format(
      "| configuration | model | dataset | images/s | step ms (median) | step ms p10–p90 | speedup vs cpu-ref | "
      "efficiency | time to {:.0f}% (s) | final test acc | repetitions (cv) |\n"
      "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
      100 * target);
  bool missing_baseline = false, noisy = false;
  constexpr double kNoisyCv = 10;  // % spread over repetitions beyond which a difference may be noise
  for (const RunRow* r : rows) {
    const auto sp = speedup_vs_baseline(set, *r);
    if (!sp) missing_baseline = true;
    const auto e = scaling_efficiency(set, *r);
    const auto tta = time_to_accuracy(*r, target);
    double best = kNaN;
    for (const auto& ep : r->epochs)
      if (std::isfinite(ep.test_accuracy)) best = std::isfinite(best) ? std::max(best, ep.test_accuracy) : ep.test_accuracy;
    std::string tta_s;
    if (tta) {
      int epoch = 0;
      for (const auto& ep : r->epochs)
        if (ep.test_accuracy >= target) {
          epoch = ep.epoch;
          break;
        }
      tta_s = fmt::format("{:.2f} (epoch {})", *tta, epoch);
    } else {
      tta_s = std::isfinite(best) ? fmt::format("not reached (best {:.1f}%)", 100 * best) : "–";
    }
    const double final_acc = r->epochs.empty() ? kNaN : r->epochs.back().test_accuracy;
    s += fmt::format("| {} | {} | {} | {} | {} | {}–{} | {} | {} | {} | {} | {}{} |\n", md(r->label()), md(r->model),
                     md(r->dataset), ips(r->images_per_second), ms(r->step_median), ms(r->step_p10), ms(r->step_p90),
                     sp ? fmt::format("{:.2f}×", *sp) : "n/a (no baseline)",
                     e ? fmt::format("{:.1f}%", 100 * *e) : (r->replicas > 1 ? "n/a (no 1-device run)" : "–"), tta_s,
                     std::isfinite(final_acc) ? fmt::format("{:.2f}%", 100 * final_acc) : "–", r->repetitions,
                     r->repetitions > 1 ? fmt::format(" ({:.1f}%{})", r->repetition_cv,
                                                      r->repetition_cv > kNoisyCv ? " ⚠" : "")
                                        : "");
    noisy = noisy || (r->repetitions > 1 && r->repetition_cv > kNoisyCv);
  }
  if (noisy)
    s += fmt::format("\n⚠ the images/s of the repetitions spread by more than {:.0f}% (coefficient of variation): the "
                     "machine was busy or the runs are short, and differences of that size are noise.\n",
                     kNoisyCv);
  if (missing_baseline)
    s += "\nn/a (no baseline): these results have no cpu-ref single one-device run with the same model, dataset and "
         "batch; `cnnbench sweep` always adds it.\n";
  return s;
}

std::string markdown_scaling_table(const ResultSet& set) {
  std::vector<const RunRow*> multi;
  for (const auto& r : set.rows)
    if (r.ok() && r.replicas > 1) multi.push_back(&r);
  if (multi.empty()) return "";
  std::sort(multi.begin(), multi.end(), [](const RunRow* a, const RunRow* b) { return display_before(*a, *b); });
  std::string s = "| backend | strategy | scaling | batch | N | images/s | X(1) images/s | speedup vs 1 device | "
                  "efficiency | exchange ms (median) |\n|---|---|---|---:|---:|---:|---:|---:|---:|---:|\n";
  for (const RunRow* r : multi) {
    const RunRow* one = find_one_device(set, *r);
    const auto e = scaling_efficiency(set, *r);
    s += fmt::format("| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n", r->backend, r->strategy, r->scaling,
                     r->scaling == "weak" ? fmt::format("{}/device", r->batch_axis) : fmt::format("{} global", r->batch_axis),
                     r->replicas, ips(r->images_per_second), one ? ips(one->images_per_second) : "–",
                     one ? fmt::format("{:.2f}×", r->images_per_second / one->images_per_second) : "–",
                     e ? fmt::format("{:.1f}%", 100 * *e) : "n/a (no 1-device run)", ms(r->exchange_ms()));
  }
  return s;
}

namespace {

// Everything index.md shows, built from the results before a line of the page is written.
struct ReportContent {
  ResultSet set, searched;  // search candidates get their own section: each is another model
  std::vector<MicroResult> micro;
  std::string footer, environment, projection_table;
  std::vector<BuiltChart> speedup, scaling, breakdown, curves, projection, micro_charts;
  std::vector<SearchReport> searches;
  std::vector<std::string> warnings;

  std::vector<BuiltChart> all_charts() const {
    std::vector<BuiltChart> all;
    for (const auto* v : {&speedup, &scaling, &breakdown, &curves, &projection, &micro_charts})
      all.insert(all.end(), v->begin(), v->end());
    for (const auto& sr : searches) all.insert(all.end(), sr.charts.begin(), sr.charts.end());
    return all;
  }
};

ReportContent build_report(const ReportOptions& opt) {
  ReportContent c;
  c.set = load_results(opt.results);
  c.warnings = c.set.warnings;
  c.footer = footer_of(c.set);
  c.environment = environment_table(c.set);
  // In the speedup, breakdown and projection charts, search candidates would make one chart each, all
  // without a baseline.
  std::erase_if(c.set.rows, [&](RunRow& r) {
    if (!r.search) return false;
    c.searched.rows.push_back(std::move(r));
    return true;
  });
  for (const auto& f : opt.micro) {
    auto m = read_micro_json(f, c.warnings);
    c.micro.insert(c.micro.end(), m.begin(), m.end());
  }
  ChartContext ctx;
  ctx.footer = c.footer;
  ctx.target = opt.target;
  c.speedup = speedup_charts(c.set, ctx);
  c.scaling = scaling_charts(c.set, ctx);
  c.breakdown = breakdown_charts(c.set, ctx);
  c.curves = curve_charts(c.set, ctx);
  c.projection = projection_charts(c.set, ctx, c.projection_table);
  c.micro_charts = micro_charts(c.micro, ctx);
  c.searches = search_reports(c.searched, ctx);
  return c;
}

std::string results_summary(const ReportContent& c) {
  int ok = 0, failed = 0, diverged = 0, skipped = 0;
  for (const auto* rows : {&c.set.rows, &c.searched.rows})
    for (const auto& r : *rows) (r.ok() ? ok : r.status == "failed" ? failed : r.status == "diverged" ? diverged : skipped)++;
  return fmt::format("Generated {} from {} ({} lines). Runs: **{} ok**, {} failed, {} diverged, {} skipped.\n\n",
                     utc_now(UtcStyle::readable),
                     c.set.files.empty()
                         ? std::string("no results files")
                         : fmt::format("{}", fmt::join(std::vector<std::string>(c.set.files.begin(), c.set.files.end()), ", ")),
                     c.set.lines, ok, failed, diverged, skipped);
}

std::string report_page(const ReportContent& c, const ReportOptions& opt, const std::string& render_note) {
  std::string s = "# cnnbench report\n\n" + results_summary(c);
  s += "Speedup is over the **sequential CPU baseline** (backend cpu-ref, strategy single, one device, same model, "
       "dataset and batch). Efficiency is **scaling over one device of the same backend**: E(N) = X(N) / (N·X(1)), "
       "with X = images/s of the measured steps (warm-up excluded). Weak scaling keeps the batch per device; strong "
       "scaling splits one global batch.\n\n";
  if (!render_note.empty()) s += "> **Note:** " + render_note + "\n\n";
  if (!c.warnings.empty()) {
    s += fmt::format("> **{} warning(s)** while reading the results:\n", c.warnings.size());
    for (size_t i = 0; i < c.warnings.size() && i < 20; ++i) s += "> - " + md(c.warnings[i]) + "\n";
    if (c.warnings.size() > 20) s += fmt::format("> - ... and {} more\n", c.warnings.size() - 20);
    s += "\n";
  }
  if (c.set.rows.empty() && c.searched.rows.empty() && opt.micro.empty())
    s += "**The results are empty**: no valid run record was found.\n\n";

  s += "## Results\n\n" +
       (c.set.rows.empty() && !c.searched.rows.empty() ? std::string("Only network-search candidates in these results: see "
                                                                     "Network search below.\n")
                                                       : markdown_results_table(c.set, opt.target)) +
       "\n";
  s += "## Speedup over the sequential CPU baseline\n\n" +
       (c.speedup.empty() ? std::string("No successful runs to chart.\n\n") : chart_section(c.speedup));
  s += "## Scaling over devices\n\n";
  if (c.scaling.empty())
    s += "No configuration ran on more than one device, so there is no scaling chart (sweep `devices = [1, 2, ...]` "
         "with a multi-replica strategy).\n\n";
  else
    s += markdown_scaling_table(c.set) + "\n" + chart_section(c.scaling);
  s += "## Step-time breakdown (median ms per phase)\n\n" + breakdown_table(c.set) + "\n" + chart_section(c.breakdown);
  s += "## Learning curves\n\n" +
       (c.curves.empty() ? std::string("No run has per-epoch test accuracy.\n\n") : chart_section(c.curves));
  s += "## Scaling projection (ring all-reduce α-β model)\n\n";
  if (c.projection.empty())
    s += "No successful one-device run to project from.\n\n";
  else
    s += "T(N) = 2(N−1)·α + 2(N−1)/N · S/B for the gradient all-reduce of S = 4 × parameters bytes, added to the "
         "measured compute time of one step (no overlap). Link constants and their sources: docs/SCALING.md. "
         "Try other numbers with `cnnbench project --params P --step-ms T`.\n" +
         c.projection_table + "\n" + chart_section(c.projection);
  if (!opt.micro.empty())
    s += "## Kernel variants (cnnbench-micro)\n\n" + micro_table(c.micro) + "\n" + chart_section(c.micro_charts);
  if (!c.searches.empty()) {
    s += "## Network search\n\nFitness is the candidate's final test accuracy (ties: the shorter training time wins). "
         "Each search's table lists its Pareto front: the candidates that no other candidate beats on both test "
         "accuracy and training time.\n\n";
    for (const auto& sr : c.searches)
      s += fmt::format("### {}\n\n{}\n\n{}\n", md(sr.title), sr.summary, sr.table) + chart_section(sr.charts);
  }
  s += not_run_table(c.set);
  s += "## Environment\n\n" + c.environment + "\n";
  s += "## Re-rendering the charts\n\nEvery chart is `charts/NAME.dat` (tab-separated data) plus `charts/NAME.gp` "
       "(a gnuplot script). Edit a script for a slide, then run `sh charts/render.sh` (or `gnuplot -e \"fmt='png'\" "
       "NAME.gp` inside charts/).\n";
  return s;
}

}  // namespace

ReportOutcome write_report(const ReportOptions& opt) {
  if (opt.results.empty() && opt.micro.empty())
    fail_input("cnnbench report: give at least one results file (.jsonl from `cnnbench sweep`, .json from `cnnbench "
               "train --out`) or --micro FILE.json");
  // The results are read first: a bad results file leaves no report directory behind.
  ReportContent content = build_report(opt);
  const fs::path charts = prepare_dir(opt.out);
  const std::vector<BuiltChart> all = content.all_charts();
  const Rendering rendering = write_and_render(charts, all, opt.render, content.warnings);
  ReportOutcome outcome;
  outcome.warnings = content.warnings;
  outcome.rendered = rendering.rendered;
  outcome.render_note = rendering.note;
  for (const auto& b : all) outcome.charts.push_back(b.spec.name);
  outcome.index = opt.out / "index.md";
  write_file_atomic(outcome.index, report_page(content, opt, rendering.note));
  return outcome;
}

CompareOutcome write_compare(const CompareOptions& opt) {
  CompareOutcome outcome;
  const ResultSet olds = load_results({opt.old_file});
  const ResultSet news = load_results({opt.new_file});
  outcome.report.warnings = olds.warnings;
  outcome.report.warnings.insert(outcome.report.warnings.end(), news.warnings.begin(), news.warnings.end());
  const fs::path charts = prepare_dir(opt.out);
  ChartContext ctx;
  ctx.footer = footer_of(news);

  std::map<std::string, const RunRow*> old_by_key;
  for (const auto& r : olds.rows)
    if (r.ok()) old_by_key[r.key] = &r;
  struct Pair {
    const RunRow* o;
    const RunRow* n;
    double ratio;
  };
  std::vector<Pair> pairs;
  std::vector<const RunRow*> only_new;
  for (const auto& r : news.rows) {
    if (!r.ok()) continue;
    const auto it = old_by_key.find(r.key);
    if (it == old_by_key.end()) {
      only_new.push_back(&r);
      continue;
    }
    pairs.push_back({it->second, &r, r.images_per_second / it->second->images_per_second});
    old_by_key.erase(it);
  }
  std::sort(pairs.begin(), pairs.end(), [](const Pair& a, const Pair& b) { return display_before(*a.n, *b.n); });
  outcome.matched = int(pairs.size());

  BuiltChart b;
  ChartSpec& c = b.spec;
  c.name = "compare";
  c.footer = ctx.footer;
  c.width = int(std::clamp<size_t>(240 + 80 * pairs.size(), 800, 1800));
  c.height = 600;
  c.dat = "# bar\tconfiguration\tratio_new_over_old\tcolor\told_images_per_second\tnew_images_per_second\n";
  double lo = 1, hi = 1;
  for (size_t i = 0; i < pairs.size(); ++i) {
    const auto& p = pairs[i];
    const bool worse = opt.fail_below > 0 ? p.ratio < opt.fail_below : p.ratio < 1;
    if (opt.fail_below > 0 && p.ratio < opt.fail_below) ++outcome.regressions;
    c.dat += fmt::format("{}\t{}\t{:.6g}\t{}\t{:.6g}\t{:.6g}\n", i + 1, dat_cell(p.n->label()), p.ratio,
                         worse ? 0xd62728 : 0x2ca02c, p.o->images_per_second, p.n->images_per_second);
    if (std::isfinite(p.ratio) && p.ratio > 0) lo = std::min(lo, p.ratio), hi = std::max(hi, p.ratio);
  }
  b.title = "Throughput ratio, new / old";
  b.caption = fmt::format("images/s of {} divided by images/s of {}, configurations matched by config hash; green: "
                          "faster (or not slower than the threshold), red: slower.",
                          opt.new_file.string(), opt.old_file.string());
  if (pairs.empty()) {
    c.body = "set title \"Throughput ratio, new / old\"\nunset border\nunset xtics\nunset ytics\nunset grid\nunset key\n"
             "set label 1 \"No configuration is in both result sets\\n(they are matched by config hash).\" at graph 0.5, "
             "graph 0.5 center\nplot [0:1][0:1] NaN\n";
  } else {
    c.body = fmt::format(
        "set title \"Throughput ratio new / old (images/s; above 1 = faster)\\nnew: {}   old: {}\"\n"
        "set ylabel \"new / old\"\n"
        "set logscale y\n"
        "set yrange [{:.6g}:{:.6g}]\n"
        "set xrange [0.3:{}]\n"
        "set format y \"%gx\"\n"
        "set style fill solid 0.85 border lc rgb \"#333333\"\n"
        "set boxwidth 0.7\n"
        "set xtics rotate by -30 left nomirror noenhanced\n"
        "set bmargin 10\n"
        "unset key\n"
        "plot \"compare.dat\" using 1:3:4:xtic(2) with boxes lc rgb variable, \\\n"
        "     \"\" using 1:3:(sprintf(\"%.3fx\", $3)) with labels offset 0,0.8 font \",9\", \\\n"
        "     1 with lines dt 2 lc rgb \"#444444\"\n",
        gp_quote(opt.new_file.filename().string()), gp_quote(opt.old_file.filename().string()), std::min(lo, 1.0) / 1.3,
        std::max(hi, 1.0) * 1.3, pairs.size() + 0.7);
  }
  const Rendering rendering = write_and_render(charts, {b}, opt.render, outcome.report.warnings);
  outcome.report.rendered = rendering.rendered;
  outcome.report.render_note = rendering.note;
  outcome.report.charts = {"compare"};

  std::string s = "# cnnbench compare\n\n";
  s += fmt::format("Old: `{}` ({} runs) · New: `{}` ({} runs) · {} configurations in both (matched by config hash). "
                   "Generated {}.\n\n",
                   opt.old_file.string(), olds.rows.size(), opt.new_file.string(), news.rows.size(), pairs.size(), utc_now(UtcStyle::readable));
  if (!rendering.note.empty()) s += "> **Note:** " + rendering.note + "\n\n";
  for (const auto& w : outcome.report.warnings) s += "> warning: " + md(w) + "\n";
  if (!outcome.report.warnings.empty()) s += "\n";
  if (opt.fail_below > 0)
    s += fmt::format("Regression threshold: new/old < {:.3f} — **{} regression(s)**.\n\n", opt.fail_below,
                     outcome.regressions);
  s += "| configuration | model | dataset | old images/s | new images/s | new / old | old step ms | new step ms |\n"
       "|---|---|---|---:|---:|---:|---:|---:|\n";
  for (const auto& p : pairs)
    s += fmt::format("| {} | {} | {} | {} | {} | **{:.3f}×** | {} | {} |\n", md(p.n->label()), md(p.n->model),
                     md(p.n->dataset), ips(p.o->images_per_second), ips(p.n->images_per_second), p.ratio,
                     ms(p.o->step_median), ms(p.n->step_median));
  if (!only_new.empty() || !old_by_key.empty()) {
    s += "\nNot in both: ";
    std::vector<std::string> names;
    for (const RunRow* r : only_new) names.push_back(r->label() + " (new only)");
    for (const auto& [k, r] : old_by_key) names.push_back(r->label() + " (old only)");
    s += md(fmt::format("{}", fmt::join(names, "; "))) + ".\n";
  }
  s += "\n" + chart_section({b});
  outcome.report.index = opt.out / "index.md";
  write_file_atomic(outcome.report.index, s);
  return outcome;
}

}  // namespace cnnb
