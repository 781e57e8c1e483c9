#pragma once
// The report's charts, each built as data + gnuplot script (reports/gnuplot.h) with a title for index.md.
#include <string>
#include <vector>

#include "reports/gnuplot.h"
#include "reports/micro.h"
#include "reports/results.h"

namespace cnnb {

struct BuiltChart {
  ChartSpec spec;
  std::string title;    // heading in index.md
  std::string caption;  // one sentence under it: what is shown, what the baseline is
};

struct ChartContext {
  std::string footer;    // environment line printed on every chart
  double target = 0.85;  // time-to-accuracy target, drawn on the accuracy chart
};

// Rows grouped for charts: the same model, dataset and batch (and host); ok rows in display order.
std::vector<std::vector<const RunRow*>> setup_groups(const ResultSet& set);
// Display order: model, dataset, batch, backend (recipe order), strategy, replicas, pipeline, kernels.
bool display_before(const RunRow& a, const RunRow& b);
std::string setup_title(const RunRow& r);  // "simple on fashion-mnist, batch 64"

std::vector<BuiltChart> speedup_charts(const ResultSet& set, const ChartContext& ctx);
std::vector<BuiltChart> scaling_charts(const ResultSet& set, const ChartContext& ctx);
std::vector<BuiltChart> breakdown_charts(const ResultSet& set, const ChartContext& ctx);
std::vector<BuiltChart> curve_charts(const ResultSet& set, const ChartContext& ctx);
std::vector<BuiltChart> micro_charts(const std::vector<MicroResult>& micro, const ChartContext& ctx);
// The alpha-beta projection from the best one-device run of each model and dataset, measured points on top.
// `table` receives the Markdown table of predicted numbers.
std::vector<BuiltChart> projection_charts(const ResultSet& set, const ChartContext& ctx, std::string& table);

}  // namespace cnnb
