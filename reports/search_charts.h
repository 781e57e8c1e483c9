#pragma once
// The report's network-search section: per search (method, space, seed), the best fitness found so far
// and test accuracy against training time with the Pareto front, from `cnnbench search` lines.
#include <string>
#include <utility>
#include <vector>

#include "reports/charts.h"
#include "reports/results.h"

namespace cnnb {

// Indices of the points no other point dominates, by time: a point is dominated when another is at
// least as accurate in at most the same time, and strictly better in one of the two. Points are
// {train_seconds, accuracy}; non-finite ones take no part. Equal points are all on the front.
std::vector<size_t> pareto_front(const std::vector<std::pair<double, double>>& seconds_accuracy);

// One search's candidate rows in candidate order (ok and failed), grouped by SearchCandidate::id() and file.
std::vector<std::vector<const RunRow*>> search_groups(const ResultSet& set);

// Per search: a heading, the Markdown table of its Pareto-front candidates, and two charts
// (search_progress_N: best-so-far test accuracy per generation, or per candidate for a grid;
// search_pareto_N: test accuracy against training time, the front highlighted).
struct SearchReport {
  std::string title, summary, table;
  std::vector<BuiltChart> charts;
};
std::vector<SearchReport> search_reports(const ResultSet& set, const ChartContext& ctx);

}  // namespace cnnb
