#include "reports/search_charts.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

#include <fmt/format.h>

namespace cnnb {

namespace {

std::string num(double v) { return std::isfinite(v) ? fmt::format("{:.6g}", v) : "?"; }

std::string md(std::string_view s) {
  std::string out;
  for (char c : s) out += c == '|' ? std::string("\\|") : c == '\n' ? std::string(" ") : std::string(1, c);
  return out;
}

bool scored(const RunRow& r) { return r.ok() && r.search && std::isfinite(r.search->accuracy); }

}  // namespace

std::vector<size_t> pareto_front(const std::vector<std::pair<double, double>>& pts) {
  const auto finite = [&](size_t i) { return std::isfinite(pts[i].first) && std::isfinite(pts[i].second); };
  std::vector<size_t> front;
  for (size_t i = 0; i < pts.size(); ++i) {
    if (!finite(i)) continue;
    const double ti = pts[i].first, ai = pts[i].second;  // not a structured binding: clang 14 cannot capture one
    const bool dominated = std::any_of(pts.begin(), pts.end(), [&](const std::pair<double, double>& q) {
      const auto [tq, aq] = q;
      return std::isfinite(tq) && std::isfinite(aq) && tq <= ti && aq >= ai && (tq < ti || aq > ai);
    });
    if (!dominated) front.push_back(i);
  }
  std::stable_sort(front.begin(), front.end(), [&](size_t a, size_t b) { return pts[a].first < pts[b].first; });
  return front;
}

std::vector<std::vector<const RunRow*>> search_groups(const ResultSet& set) {
  std::map<std::pair<std::string, std::string>, std::vector<const RunRow*>> groups;
  for (const auto& r : set.rows)
    // By file, not host: a failed candidate's line has no environment to name the host.
    if (r.search) groups[{r.search->id(), r.source.substr(0, r.source.rfind(':'))}].push_back(&r);
  std::vector<std::vector<const RunRow*>> out;
  for (auto& [k, g] : groups) {
    std::stable_sort(g.begin(), g.end(),
                     [](const RunRow* a, const RunRow* b) { return a->search->candidate < b->search->candidate; });
    out.push_back(std::move(g));
  }
  return out;
}

std::vector<SearchReport> search_reports(const ResultSet& set, const ChartContext& ctx) {
  std::vector<SearchReport> out;
  int index = 0;
  for (const auto& g : search_groups(set)) {
    const SearchCandidate& first = *g.front()->search;
    const bool genetic = first.method == "genetic";
    ++index;
    SearchReport rep;
    const std::string data = g.front()->dataset.empty() ? std::string("?") : short_dataset(g.front()->dataset);
    rep.title = fmt::format("{} search over {} (seed {}) on {}", first.method, first.space, first.seed, data);
    int ok = 0, failed = 0, generations = 0;
    for (const RunRow* r : g) {
      (scored(*r) ? ok : failed)++;
      generations = std::max(generations, r->search->generation + 1);
    }

    // Best so far: per generation for a genetic search (a generation is trained whole before the next is
    // bred), per candidate for a grid (its order is the odometer's).
    BuiltChart progress;
    ChartSpec& c = progress.spec;
    c.name = fmt::format("search_progress_{}", index);
    c.footer = ctx.footer;
    c.width = 1000;
    c.height = 540;
    const std::string axis = genetic ? "generation" : "candidate";
    c.dat = fmt::format("# best test accuracy so far\n# {}\tbest_accuracy_percent\tbest_candidate\n", axis);
    double best = -1;
    int best_index = -1;
    const int steps = genetic ? generations : int(g.back()->search->candidate) + 1;
    size_t k = 0;
    for (int x = 0; x < steps; ++x) {
      for (; k < g.size() && (genetic ? g[k]->search->generation : g[k]->search->candidate) <= x; ++k)
        if (scored(*g[k]) && g[k]->search->accuracy > best) best = g[k]->search->accuracy, best_index = g[k]->search->candidate;
      if (best_index >= 0) c.dat += fmt::format("{}\t{}\t{}\n", x, num(100 * best), best_index);
    }
    c.dat += fmt::format("\n\n# every candidate\n# {}\taccuracy_percent\tcandidate\tgenome\n", axis);
    for (const RunRow* r : g)
      if (scored(*r))
        c.dat += fmt::format("{}\t{}\t{}\t{}\n", genetic ? r->search->generation : r->search->candidate,
                             num(100 * r->search->accuracy), r->search->candidate, dat_cell(r->search->genome));
    progress.title = fmt::format("Best test accuracy so far — {}", rep.title);
    progress.caption = genetic ? "Fitness (test accuracy) of the best candidate trained up to each generation (line) and "
                                 "of every candidate (points)."
                               : "Fitness (test accuracy) of the best candidate among the first N of the grid (line) and "
                                 "of every candidate (points), in the grid's order.";
    c.body = fmt::format(
        "set title \"Best test accuracy so far, per {}\\n{}\"\n"
        "set xlabel \"{}\"\n"
        "set ylabel \"test accuracy (%)\"\n"
        "set xrange [-0.5:{}]\n"
        "set xtics {}\n"
        "set key bottom right\n"
        "plot \"{}.dat\" index 1 using 1:2 with points pt 7 ps 0.9 lc rgb \"#9e9e9e\" title \"candidate\", \\\n"
        "     \"\" index 0 using 1:2 with steps lw 2.5 lc rgb \"#1f77b4\" title \"best so far\", \\\n"
        "     \"\" index 0 using 1:2 with points pt 7 ps 1.2 lc rgb \"#1f77b4\" notitle\n",
        axis, gp_quote(rep.title), axis, num(steps - 0.5), steps > 20 ? "autofreq" : "1", c.name);

    // Accuracy against training time: what a candidate costs, and the candidates nothing beats on both.
    BuiltChart pareto;
    ChartSpec& p = pareto.spec;
    p.name = fmt::format("search_pareto_{}", index);
    p.footer = ctx.footer;
    p.width = 1000;
    p.height = 560;
    std::vector<const RunRow*> pts_rows;
    std::vector<std::pair<double, double>> pts;
    for (const RunRow* r : g)
      if (scored(*r) && std::isfinite(r->search->train_seconds)) {
        pts_rows.push_back(r);
        pts.emplace_back(r->search->train_seconds, r->search->accuracy);
      }
    const std::vector<size_t> front = pareto_front(pts);
    p.dat = "# every candidate\n# train_seconds\taccuracy_percent\tcandidate\tgenome\n";
    for (size_t i = 0; i < pts.size(); ++i)
      p.dat += fmt::format("{}\t{}\t{}\t{}\n", num(pts[i].first), num(100 * pts[i].second),
                           pts_rows[i]->search->candidate, dat_cell(pts_rows[i]->search->genome));
    p.dat += "\n\n# Pareto front (no other candidate is as accurate in less time), fastest first\n"
             "# train_seconds\taccuracy_percent\tcandidate\tgenome\n";
    for (size_t i : front)
      p.dat += fmt::format("{}\t{}\t{}\t{}\n", num(pts[i].first), num(100 * pts[i].second),
                           pts_rows[i]->search->candidate, dat_cell(pts_rows[i]->search->genome));
    pareto.title = fmt::format("Test accuracy against training time — {}", rep.title);
    pareto.caption = "Every candidate (grey) at its training time (evaluation excluded) and final test accuracy; red: "
                     "the Pareto front, the candidates no other beats on both, labelled with their candidate number.";
    p.body = fmt::format(
        "set title \"Test accuracy against training time (red: Pareto front)\\n{}\"\n"
        "set xlabel \"training time (s)\"\n"
        "set ylabel \"test accuracy (%)\"\n"
        "set xrange [0:*]\n"
        "set key bottom right\n"
        "plot \"{}.dat\" index 0 using 1:2 with points pt 7 ps 1 lc rgb \"#9e9e9e\" title \"candidate\", \\\n"
        "     \"\" index 1 using 1:2 with linespoints lw 2 pt 7 ps 1.5 lc rgb \"#d62728\" title \"Pareto front\", \\\n"
        "     \"\" index 1 using 1:2:(sprintf(\"#%d\", $3)) with labels offset 1.2,0.8 left font \",9\" notitle\n",
        gp_quote(rep.title), p.name);

    rep.summary = fmt::format("{} candidates ({} trained, {} failed){}; devices {}.", g.size(), ok, failed,
                              genetic ? fmt::format(" over {} generation(s)", generations) : std::string(),
                              first.devices.empty() ? std::string("one at a time") : first.devices);
    if (!front.empty()) {
      rep.table = "| candidate | generation | genome | model | test accuracy | training s |\n"
                  "|---:|---:|---|---|---:|---:|\n";
      for (size_t i : front) {
        const RunRow& r = *pts_rows[i];
        rep.table += fmt::format("| {} | {} | `{}` | {} | {:.2f}% | {:.2f} |\n", r.search->candidate, r.search->generation,
                                 md(r.search->genome), md(r.model_spec), 100 * r.search->accuracy, r.search->train_seconds);
      }
    }
    rep.charts = {std::move(progress), std::move(pareto)};
    out.push_back(std::move(rep));
  }
  return out;
}

}  // namespace cnnb
