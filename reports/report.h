#pragma once
// `cnnbench report`: DIR/index.md (tables) plus charts (gnuplot data + script, rendered to SVG and PNG)
// from result files; and `--compare OLD NEW`, the ratio between two result sets matched by config hash.
#include <filesystem>
#include <string>
#include <vector>

#include "reports/results.h"

namespace cnnb {

struct ReportOptions {
  std::vector<std::filesystem::path> results;
  std::filesystem::path out;
  double target = 0.85;  // test accuracy of time-to-accuracy
  std::vector<std::filesystem::path> micro;  // cnnbench-micro Google Benchmark JSON files
  bool render = true;    // run gnuplot (when found)
};

struct ReportOutcome {
  std::filesystem::path index;
  std::vector<std::string> warnings;
  std::vector<std::string> charts;  // stems under DIR/charts
  int rendered = 0;
  std::string render_note;          // why charts were not rendered and how to render them; empty when all were
};

// InputError when DIR cannot be created or written, or a results file cannot be read.
ReportOutcome write_report(const ReportOptions& opt);

struct CompareOptions {
  std::filesystem::path old_file, new_file, out;
  bool render = true;
  double fail_below = 0;  // a ratio new/old of images/s below this counts as a regression
};

struct CompareOutcome {
  ReportOutcome report;
  int matched = 0, regressions = 0;
};

CompareOutcome write_compare(const CompareOptions& opt);

// The tables of index.md, exposed for tests.
std::string markdown_results_table(const ResultSet& set, double target);
std::string markdown_scaling_table(const ResultSet& set);

}  // namespace cnnb
