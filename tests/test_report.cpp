// cnnbench report: tables from hand-written results (exact speedups and efficiencies), charts written and
// rendered, bad input, kernel-variant JSON, --compare, and the alpha-beta projection against hand values.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cli_runner.h"
#include "backends/recipe.h"
#include "core/error.h"
#include "reports/charts.h"
#include "reports/gnuplot.h"
#include "reports/micro.h"
#include "reports/projection.h"
#include "reports/report.h"
#include "reports/results.h"
#include "reports/search_charts.h"
#include "xml_check.h"

namespace cnnb {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

constexpr const char* kData = "synthetic:n=64,shape=1x8x8,classes=10";

std::string slurp(const fs::path& f) {
  std::ifstream in(f);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// A run record as `cnnbench sweep` writes it, with round numbers.
nlohmann::json rec(const std::string& backend, const std::string& strategy, int n, int batch, double ips,
                   const std::string& hash, const std::string& scaling = "weak", double step_ms = 10) {
  const int global = scaling == "weak" ? batch * n : batch;
  auto phase = [](double m) { return nlohmann::json{{"median", m}, {"p10", m}, {"p90", m}, {"min", m}, {"max", m}}; };
  return {{"schema", "cnnbench.run/1"},
          {"status", "ok"},
          {"reason", nullptr},
          {"config",
           {{"model", "tiny"},
            {"model_spec", "conv3x3x4,relu,fc10"},
            {"dataset", kData},
            {"backend", backend},
            {"strategy", strategy},
            {"devices", fmt::format("cpu:{}", n)},
            {"replicas", n},
            {"batch", global},
            {"threads", 1},
            {"comm", "threads"}}},
          {"model", {{"params", 1000000}}},
          {"timing",
           {{"images_per_second", ips},
            {"step_ms", {{"median", step_ms}, {"p10", step_ms - 1}, {"p90", step_ms + 1}}},
            {"phases_ms",
             {{"data", phase(1)}, {"h2d", phase(0)}, {"forward", phase(3)}, {"backward", phase(5)},
              {"exchange", phase(n > 1 ? 0.5 : 0)}, {"update", phase(0.5)}}}}},
          {"epochs",
           {{{"epoch", 1}, {"seconds", 2.0}, {"wall_seconds", 2.5}, {"train_loss", 1.0}, {"test_loss", 0.9},
             {"test_accuracy", 0.80}},
            {{"epoch", 2}, {"seconds", 2.0}, {"wall_seconds", 5.0}, {"train_loss", 0.6}, {"test_loss", 0.5},
             {"test_accuracy", 0.86}}}},
          {"environment", {{"hostname", "box"}, {"cpu", "Test CPU"}, {"logical_cores", 2}, {"git_commit", "abc"}}},
          {"sweep",
           {{"config_hash", hash},
            {"pipeline", "direct"},
            {"scaling", scaling},
            {"batch", batch},
            {"per_device_batch", global / n},
            {"device_count", n},
            {"kernel_set", ""},
            {"repetitions", {{"count", 3}, {"images_per_second", {{"cv_percent", 1.5}}}}}}}};
}

void write_lines(const fs::path& f, const std::vector<nlohmann::json>& lines, const std::string& tail = "") {
  std::ofstream out(f);
  for (const auto& l : lines) out << l.dump() << "\n";
  out << tail;
}

// baseline 100 img/s; cpu-gemm: 400 on one device, 700 on two, 1200 on four (weak scaling, batch 64 per device).
std::vector<nlohmann::json> sample() {
  return {rec("cpu-ref", "single", 1, 64, 100, "0000000000000001"),
          rec("cpu-gemm", "single", 1, 64, 400, "0000000000000002"),
          rec("cpu-gemm", "allreduce", 2, 64, 700, "0000000000000003"),
          rec("cpu-gemm", "allreduce", 4, 64, 1200, "0000000000000004")};
}

// Makes $CNNB_GNUPLOT point nowhere for one scope: the report must behave as on a machine without gnuplot.
class NoGnuplot {
 public:
  NoGnuplot() {
    if (const char* v = std::getenv("CNNB_GNUPLOT")) saved_ = v;
    ::setenv("CNNB_GNUPLOT", "", 1);
  }
  ~NoGnuplot() {
    if (saved_)
      ::setenv("CNNB_GNUPLOT", saved_->c_str(), 1);
    else
      ::unsetenv("CNNB_GNUPLOT");
  }

 private:
  std::optional<std::string> saved_;
};

// ---- numbers

TEST(ReportNumbers, SpeedupEfficiencyAndTimeToAccuracyAreExact) {
  TempDir dir;
  write_lines(dir / "r.jsonl", sample());
  const ResultSet set = load_results({dir / "r.jsonl"});
  ASSERT_EQ(set.rows.size(), 4u);
  EXPECT_TRUE(set.warnings.empty());
  const RunRow& one = set.rows[1];
  const RunRow& two = set.rows[2];
  const RunRow& four = set.rows[3];
  EXPECT_DOUBLE_EQ(*speedup_vs_baseline(set, one), 4.0);
  EXPECT_DOUBLE_EQ(*speedup_vs_baseline(set, two), 7.0);
  EXPECT_DOUBLE_EQ(*speedup_vs_baseline(set, four), 12.0);
  EXPECT_FALSE(scaling_efficiency(set, one).has_value());
  EXPECT_DOUBLE_EQ(*scaling_efficiency(set, two), 700.0 / (2 * 400));  // 87.5%
  EXPECT_DOUBLE_EQ(*scaling_efficiency(set, four), 1200.0 / (4 * 400));  // 75%
  EXPECT_DOUBLE_EQ(*time_to_accuracy(one, 0.85), 4.0);  // epoch 2, 2 s + 2 s of training
  EXPECT_DOUBLE_EQ(*time_to_accuracy(one, 0.80), 2.0);
  EXPECT_FALSE(time_to_accuracy(one, 0.9).has_value());

  const std::string t = markdown_results_table(set, 0.85);
  EXPECT_NE(t.find("| cpu-ref single x1 b64 | tiny | " + std::string(kData) +
                   " | 100.0 | 10.000 | 9.000–11.000 | 1.00× | – | 4.00 (epoch 2) | 86.00% | 3 (1.5%) |"),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("| cpu-gemm allreduce x2 b64/dev 1 thr | tiny | " + std::string(kData) +
                   " | 700.0 | 10.000 | 9.000–11.000 | 7.00× | 87.5% |"),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("| 12.00× | 75.0% |"), std::string::npos) << t;
  const std::string s = markdown_scaling_table(set);
  EXPECT_NE(s.find("| cpu-gemm | allreduce | weak | 64/device | 4 | 1200.0 | 400.0 | 3.00× | 75.0% | 0.500 |"),
            std::string::npos)
      << s;
}

TEST(ReportNumbers, OneDeviceRunComesFromTheSameFileAndThreadCount) {
  TempDir dir;
  write_lines(dir / "sweep.jsonl", sample());
  // Another file holds a one-device cpu-gemm run of the same setup, measured elsewhere at another
  // speed, and one with 2 threads: neither may become X(1) of the sweep's 2-replica run.
  nlohmann::json other = rec("cpu-gemm", "single", 1, 64, 250, "00000000000000aa");
  nlohmann::json two_threads = rec("cpu-gemm", "single", 1, 64, 900, "00000000000000bb");
  two_threads["config"]["threads"] = 2;
  write_lines(dir / "other.jsonl", {other, two_threads});
  const ResultSet set = load_results({dir / "sweep.jsonl", dir / "other.jsonl"});
  const RunRow* two = nullptr;
  for (const auto& r : set.rows)
    if (r.strategy == "allreduce" && r.replicas == 2) two = &r;
  ASSERT_NE(two, nullptr);
  EXPECT_DOUBLE_EQ(*scaling_efficiency(set, *two), 700.0 / (2 * 400));
  // Without the sweep's own one-device run, the same thread count wins over the faster 2-thread run.
  const ResultSet other_only = load_results({dir / "other.jsonl"});
  RunRow probe = *two;
  probe.source = (dir / "sweep.jsonl").string() + ":3";
  ASSERT_NE(find_one_device(other_only, probe), nullptr);
  EXPECT_DOUBLE_EQ(find_one_device(other_only, probe)->images_per_second, 250.0);
}

TEST(ReportNumbers, StrongScalingUsesTheGlobalBatchAndNoBaselineIsSaid) {
  TempDir dir;
  // No cpu-ref line; strong scaling: X(1) is single at the same global batch.
  write_lines(dir / "r.jsonl", {rec("cpu-gemm", "single", 1, 64, 400, "00000000000000a1", "strong"),
                                rec("cpu-gemm", "tower", 2, 64, 600, "00000000000000a2", "strong")});
  const ResultSet set = load_results({dir / "r.jsonl"});
  EXPECT_EQ(set.rows[1].batch, 64);
  EXPECT_DOUBLE_EQ(*scaling_efficiency(set, set.rows[1]), 0.75);
  EXPECT_FALSE(speedup_vs_baseline(set, set.rows[0]).has_value());
  const std::string t = markdown_results_table(set, 0.85);
  EXPECT_NE(t.find("n/a (no baseline)"), std::string::npos) << t;
}

TEST(ReportNumbers, LastOkLineWinsAndBadLinesAreWarnings) {
  TempDir dir;
  nlohmann::json failed = {{"schema", "cnnbench.run/1"},
                           {"status", "failed"},
                           {"reason", "boom"},
                           {"config", {{"model", "tiny"}, {"dataset", kData}, {"backend", "cpu-gemm"},
                                       {"strategy", "single"}, {"batch", 64}}},
                           {"sweep", {{"config_hash", "0000000000000002"}}},
                           {"environment", {{"hostname", "box"}}}};
  nlohmann::json no_timing = sample()[0];
  no_timing.erase("timing");
  std::vector<nlohmann::json> lines = sample();
  lines.push_back(failed);  // after the ok line of the same hash: ignored
  lines.push_back(no_timing);
  write_lines(dir / "r.jsonl", lines, "not json\n{\"half\": ");
  const ResultSet set = load_results({dir / "r.jsonl"});
  ASSERT_EQ(set.rows.size(), 4u);
  EXPECT_TRUE(set.rows[1].ok());
  ASSERT_EQ(set.warnings.size(), 3u);
  EXPECT_EQ(set.warnings[0], (dir / "r.jsonl").string() +
                                 ":6: not a valid run record (timing.images_per_second is missing), skipped");
  EXPECT_EQ(set.warnings[1].rfind((dir / "r.jsonl").string() + ":7: not valid JSON", 0), 0u) << set.warnings[1];
  EXPECT_EQ(set.warnings[2].rfind((dir / "r.jsonl").string() + ":8: incomplete last line", 0), 0u) << set.warnings[2];

  // A failed line followed by an ok one for the same configuration: the ok one.
  write_lines(dir / "s.jsonl", {failed, sample()[1]});
  const ResultSet s2 = load_results({dir / "s.jsonl"});
  ASSERT_EQ(s2.rows.size(), 1u);
  EXPECT_TRUE(s2.rows[0].ok());
}

TEST(ReportNumbers, ShortDatasetNamesForChartTitles) {
  EXPECT_EQ(short_dataset("synthetic:n=2048,shape=1x28x28,classes=10,test=512"), "synthetic 1x28x28 (n=2048)");
  EXPECT_EQ(short_dataset("cifar10:/data/cifar-10-batches-bin/"), "cifar10:cifar-10-batches-bin");
  EXPECT_EQ(short_dataset("mnist:/data/mnist"), "mnist:mnist");
  EXPECT_EQ(short_dataset("fashion-mnist"), "fashion-mnist");
}

TEST(ReportNumbers, ValidateRecordNamesWhatIsMissing) {
  EXPECT_TRUE(validate_record(sample()[0]).empty());
  nlohmann::json j = sample()[0];
  j["schema"] = "other/1";
  EXPECT_EQ(validate_record(j).at(0), "schema is missing or not cnnbench.run/N (or cnnbench.peer/N)");
  j["schema"] = "cnnbench.peer/1";  // bench/peers/pytorch_cnn.py's record
  EXPECT_TRUE(validate_record(j).empty());
  j = sample()[0];
  j["status"] = "skipped";
  EXPECT_EQ(validate_record(j).at(0), "a skipped line has no reason");
  j = sample()[0];
  j["config"].erase("backend");
  EXPECT_EQ(validate_record(j).at(0), "config.backend is missing or not a string");
}

// ---- the projection model

TEST(Projection, RingAllReduceMatchesHandValues) {
  // N = 8, S = 1 MB, alpha = 5 us, B = 25 GB/s: 2*7*5e-6 + 2*7/8 * 1e6/25e9 = 70 us + 70 us.
  EXPECT_NEAR(ring_allreduce_seconds(8, 1e6, 5e-6, 25e9), 140e-6, 1e-15);
  EXPECT_EQ(ring_allreduce_seconds(1, 1e6, 5e-6, 25e9), 0.0);
  // N = 2: 2 alpha + S/B.
  EXPECT_NEAR(ring_allreduce_seconds(2, 4e6, 1e-6, 2e9), 2e-6 + 2e-3, 1e-15);
  EXPECT_THROW(ring_allreduce_seconds(0, 1, 1, 1), Error);
}

TEST(Projection, WeakAndStrongEfficiencyMatchHandValues) {
  const Link& pcie4 = find_link("pcie4");
  EXPECT_DOUBLE_EQ(pcie4.alpha_us, 5.7);
  EXPECT_DOUBLE_EQ(pcie4.bandwidth_gbps, 31.5);
  // compute 10 ms, S = 4 MB (1M params), N = 8: T = 14 * 5.7 us + 1.75 * 4e6 / 31.5e9 s = 79.8 us + 222.222 us.
  const double t8 = 14 * 5.7e-3 + 1.75 * 4e6 / 31.5e9 * 1e3;  // ms
  const auto w = project_point(pcie4, 8, 10, 4e6, Scaling::weak);
  EXPECT_NEAR(w.exchange_ms, t8, 1e-12);
  EXPECT_NEAR(w.step_ms, 10 + t8, 1e-12);
  EXPECT_NEAR(w.efficiency, 10 / (10 + t8), 1e-12);  // 97.07%
  EXPECT_NEAR(w.speedup, 8 * 10 / (10 + t8), 1e-12);
  const auto s = project_point(pcie4, 8, 10, 4e6, Scaling::strong);
  EXPECT_NEAR(s.step_ms, 1.25 + t8, 1e-12);
  EXPECT_NEAR(s.efficiency, 10 / (8 * (1.25 + t8)), 1e-12);  // 80.54%
  const auto one = project_point(find_link("nvlink4"), 1, 3, 4e6, Scaling::strong);
  EXPECT_EQ(one.exchange_ms, 0.0);
  EXPECT_EQ(one.efficiency, 1.0);
  EXPECT_THROW(find_link("pcie9"), InputError);
  EXPECT_EQ(links().size(), 6u);
}

TEST(Projection, ReportTableUsesTheBestOneDeviceRun) {
  TempDir dir;
  NoGnuplot no_gnuplot;
  write_lines(dir / "r.jsonl", sample());
  ReportOptions opt;
  opt.results = {dir / "r.jsonl"};
  opt.out = dir / "rep";
  write_report(opt);
  const std::string index = slurp(dir / "rep" / "index.md");
  // From cpu-gemm single x1 (the fastest one-device run): compute 10 ms, 1M params; hand values as above,
  // N = 64: T = 126 * 5.7 us + 126/64 * 4e6/31.5e9 s = 0.9682 ms.
  EXPECT_NE(index.find("From **cpu-gemm single x1 b64 1 thr**"), std::string::npos) << index;
  EXPECT_NE(index.find("| PCIe 4.0 x16 | 5.7 | 31.5 | 0.302 | 97.1% | 91.2% | 80.5% | 13.9% |"), std::string::npos)
      << index;
}

// ---- the report directory

TEST(ReportFiles, WithoutGnuplotTheDataAndScriptsAreWrittenAndTheIndexSaysHowToRender) {
  TempDir dir;
  NoGnuplot no_gnuplot;
  ASSERT_FALSE(find_gnuplot().has_value());
  nlohmann::json skipped = {{"schema", "cnnbench.run/1"},
                            {"status", "skipped"},
                            {"reason", "no CUDA GPU on this machine"},
                            {"config", {{"model", "tiny"}, {"dataset", kData}, {"backend", "cudnn"},
                                        {"strategy", "single"}, {"batch", 64}}},
                            {"sweep", {{"config_hash", "00000000000000ff"}}}};
  std::vector<nlohmann::json> lines = sample();
  lines.push_back(skipped);
  write_lines(dir / "r.jsonl", lines);
  ReportOptions opt;
  opt.results = {dir / "r.jsonl"};
  opt.out = dir / "rep";
  const ReportOutcome r = write_report(opt);
  EXPECT_EQ(r.rendered, 0);
  EXPECT_NE(r.render_note.find("gnuplot was not found"), std::string::npos) << r.render_note;
  EXPECT_EQ(r.charts, (std::vector<std::string>{"speedup_1", "scaling_1", "breakdown_1", "curves_1", "projection_1"}));
  for (const auto& c : r.charts) {
    EXPECT_TRUE(fs::exists(dir / "rep" / "charts" / (c + ".dat"))) << c;
    EXPECT_TRUE(fs::exists(dir / "rep" / "charts" / (c + ".gp"))) << c;
    EXPECT_FALSE(fs::exists(dir / "rep" / "charts" / (c + ".svg"))) << c;
  }
  EXPECT_TRUE(fs::exists(dir / "rep" / "charts" / "render.sh"));
  const std::string index = slurp(dir / "rep" / "index.md");
  EXPECT_NE(index.find("gnuplot was not found"), std::string::npos);
  EXPECT_NE(index.find("| cudnn single x1 b64 | tiny | " + std::string(kData) + " | skipped | no CUDA GPU on this machine |"),
            std::string::npos)
      << index;
  // The speedup data: bar, label, speedup, colour, images/s.
  EXPECT_NE(slurp(dir / "rep" / "charts" / "speedup_1.dat").find("3\tcpu-gemm allreduce x2 b64/dev 1 thr\t7\t2062260\t700\n"),
            std::string::npos);
  const std::string scaling = slurp(dir / "rep" / "charts" / "scaling_1.dat");
  EXPECT_NE(scaling.find("2\t700\t87.5\n"), std::string::npos) << scaling;
  EXPECT_NE(scaling.find("4\t1200\t75\n"), std::string::npos) << scaling;
  EXPECT_NE(slurp(dir / "rep" / "charts" / "scaling_1.gp").find("Weak scaling (batch 64 per device)"), std::string::npos);
}

// The step's bookkeeping (`metrics`) and --check-numerics' scan (`numerics`) are phases of their own: the table and
// the stacked chart show them, and a record written before they existed reads 0 for them.
TEST(ReportFiles, BreakdownShowsMetricsAndNumericsAndOlderRecordsReadZero) {
  TempDir dir;
  NoGnuplot no_gnuplot;
  std::vector<nlohmann::json> lines = sample();
  auto phase = [](double m) { return nlohmann::json{{"median", m}, {"p10", m}, {"p90", m}, {"min", m}, {"max", m}}; };
  lines[1]["timing"]["phases_ms"]["metrics"] = phase(0.25);
  lines[1]["timing"]["phases_ms"]["numerics"] = phase(2);
  write_lines(dir / "r.jsonl", lines);
  ReportOptions opt;
  opt.results = {dir / "r.jsonl"};
  opt.out = dir / "rep";
  write_report(opt);
  const std::string index = slurp(dir / "rep" / "index.md");
  EXPECT_NE(index.find("| data | h2d | forward | backward | metrics | numerics | exchange | update | step (median) |\n"
                       "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"),
            std::string::npos)
      << index;
  EXPECT_NE(index.find("| 1.000 | 0.000 | 3.000 | 5.000 | 0.250 | 2.000 | 0.000 | 0.500 | 10.000 |"), std::string::npos)
      << index;
  EXPECT_NE(index.find("| 1.000 | 0.000 | 3.000 | 5.000 | 0.000 | 0.000 | 0.500 | 0.500 | 10.000 |"), std::string::npos)
      << index;
  const std::string dat = slurp(dir / "rep" / "charts" / "breakdown_1.dat");
  EXPECT_NE(dat.find("data_ms\th2d_ms\tforward_ms\tbackward_ms\tmetrics_ms\tnumerics_ms\texchange_ms\tupdate_ms\n"),
            std::string::npos)
      << dat;
  EXPECT_NE(dat.find("\t1\t0\t3\t5\t0.25\t2\t0\t0.5\n"), std::string::npos) << dat;
}

TEST(ReportFiles, RendersSvgAndPngWithGnuplot) {
  if (!find_gnuplot()) GTEST_SKIP() << "gnuplot is not installed";
  TempDir dir;
  write_lines(dir / "r.jsonl", sample());
  // Google Benchmark JSON as cnnbench-micro writes it, with repetitions (the median aggregate wins).
  const nlohmann::json micro = {
      {"context", {{"host_name", "box"}}},
      {"benchmarks",
       {{{"name", "conv_fwd/cpu/ref/c1/real_time"}, {"run_name", "conv_fwd/cpu/ref/c1/real_time"},
         {"run_type", "iteration"}, {"real_time", 2000.0}, {"time_unit", "us"}, {"GFLOP/s", 1.0}},
        {{"name", "conv_fwd/cpu/ref/c1/real_time_median"}, {"run_name", "conv_fwd/cpu/ref/c1/real_time"},
         {"run_type", "aggregate"}, {"aggregate_name", "median"}, {"real_time", 1000.0}, {"time_unit", "us"},
         {"GFLOP/s", 2.0}},
        {{"name", "conv_fwd/cpu/im2col_gemm/c1/real_time"}, {"run_type", "iteration"}, {"real_time", 100.0},
         {"time_unit", "us"}, {"GFLOP/s", 20.0}},
        {{"name", "conv_fwd/cuda/naive/c1/manual_time"}, {"run_type", "iteration"}, {"error_occurred", true},
         {"error_message", "no CUDA device"}},
        {{"name", "relu_fwd/cpu/omp/r1/real_time"}, {"run_type", "iteration"}, {"real_time", 5000.0},
         {"time_unit", "ns"}, {"GFLOP/s", 3.0}},
        {{"name", "BM_Other"}, {"run_type", "iteration"}}}}};
  {
    std::ofstream m(dir / "micro.json");
    m << micro.dump(1);
  }
  std::vector<std::string> warnings;
  const auto results = read_micro_json(dir / "micro.json", warnings);
  ASSERT_EQ(results.size(), 4u);
  EXPECT_DOUBLE_EQ(results[0].gflops, 2.0);  // the median aggregate
  EXPECT_DOUBLE_EQ(results[0].time_us, 1000.0);
  EXPECT_EQ(results[2].error, "no CUDA device");
  EXPECT_DOUBLE_EQ(results[3].time_us, 5.0);
  ASSERT_EQ(warnings.size(), 1u);

  ReportOptions opt;
  opt.results = {dir / "r.jsonl"};
  opt.micro = {dir / "micro.json"};
  opt.out = dir / "rep";
  const ReportOutcome r = write_report(opt);
  EXPECT_TRUE(r.render_note.empty()) << r.render_note;
  ASSERT_EQ(r.rendered, int(r.charts.size())) << (r.warnings.empty() ? "" : r.warnings.back());
  EXPECT_EQ(r.charts.back(), "micro_relu_fwd");
  for (const auto& c : r.charts) {
    const std::string svg = slurp(dir / "rep" / "charts" / (c + ".svg"));
    EXPECT_EQ(svg.rfind("<?xml", 0), 0u) << c;
    EXPECT_NE(svg.find("<svg"), std::string::npos) << c;
    EXPECT_NE(svg.find("</svg>"), std::string::npos) << c;
    EXPECT_EQ(slurp(dir / "rep" / "charts" / (c + ".png")).substr(0, 4), "\x89PNG") << c;
    EXPECT_FALSE(fs::exists(dir / "rep" / "charts" / (c + ".log"))) << slurp(dir / "rep" / "charts" / (c + ".log"));
  }
  const std::string index = slurp(dir / "rep" / "index.md");
  EXPECT_NE(index.find("| conv_fwd | c1 | cpu/im2col_gemm | 20.00 | 100.00 |  |"), std::string::npos) << index;
  EXPECT_NE(index.find("| conv_fwd | c1 | cuda/naive | – | – | no CUDA device |"), std::string::npos) << index;
}

TEST(ReportFiles, ChartTextCannotRunCommands) {
  EXPECT_EQ(gp_quote("data `touch x` \"q\" \\"), "data 'touch x' \\\"q\\\" \\\\");
  EXPECT_EQ(dat_cell("a\tb\nc"), "a b c");
  EXPECT_EQ(dat_cell(""), "-");
}

TEST(ReportFiles, NoBaselineChartSaysSo) {
  TempDir dir;
  write_lines(dir / "r.jsonl", {sample()[1]});
  ReportOptions opt;
  opt.results = {dir / "r.jsonl"};
  opt.out = dir / "rep";
  {
    NoGnuplot no_gnuplot;
    write_report(opt);
  }
  EXPECT_NE(slurp(dir / "rep" / "charts" / "speedup_1.gp").find("No sequential CPU baseline in these results"),
            std::string::npos);
  EXPECT_NE(slurp(dir / "rep" / "index.md").find("No baseline: these results have no cpu-ref single"), std::string::npos);
  if (const auto gp = find_gnuplot()) {
    const RenderResult r = render_chart(*gp, dir / "rep" / "charts", "speedup_1");
    EXPECT_TRUE(r.ok) << r.message;
    EXPECT_FALSE(fs::exists(dir / "rep" / "charts" / "speedup_1.log")) << slurp(dir / "rep" / "charts" / "speedup_1.log");
  }
}

TEST(ReportFiles, EmptyResultsAndBadDirectories) {
  TempDir dir;
  NoGnuplot no_gnuplot;
  write_lines(dir / "empty.jsonl", {});
  ReportOptions opt;
  opt.results = {dir / "empty.jsonl"};
  opt.out = dir / "rep";
  const ReportOutcome r = write_report(opt);
  EXPECT_TRUE(r.charts.empty());
  EXPECT_NE(slurp(dir / "rep" / "index.md").find("The results are empty"), std::string::npos);

  opt.out = "/proc/cnnbench-report";
  EXPECT_THROW(write_report(opt), InputError);
  opt.out = dir / "rep2";
  opt.results = {dir / "missing.jsonl"};
  EXPECT_THROW(write_report(opt), InputError);
}

TEST(ReportCompare, RatiosMatchedByHashAndRegressionsCounted) {
  TempDir dir;
  NoGnuplot no_gnuplot;
  write_lines(dir / "old.jsonl", sample());
  std::vector<nlohmann::json> faster = sample();
  faster[1]["timing"]["images_per_second"] = 500.0;  // 1.25x
  faster[2]["timing"]["images_per_second"] = 560.0;  // 0.8x
  faster.pop_back();                                  // only in old
  write_lines(dir / "new.jsonl", faster);
  CompareOptions c;
  c.old_file = dir / "old.jsonl";
  c.new_file = dir / "new.jsonl";
  c.out = dir / "cmp";
  c.fail_below = 0.95;
  const CompareOutcome r = write_compare(c);
  EXPECT_EQ(r.matched, 3);
  EXPECT_EQ(r.regressions, 1);
  const std::string index = slurp(dir / "cmp" / "index.md");
  EXPECT_NE(index.find("| cpu-gemm single x1 b64 1 thr | tiny | " + std::string(kData) + " | 400.0 | 500.0 | **1.250×** |"),
            std::string::npos)
      << index;
  EXPECT_NE(index.find("**0.800×**"), std::string::npos);
  EXPECT_NE(index.find("cpu-gemm allreduce x4 b64/dev 1 thr (old only)"), std::string::npos);
  EXPECT_TRUE(fs::exists(dir / "cmp" / "charts" / "compare.gp"));

  // Through the CLI: exit status 3 on a regression below --fail-below.
  const auto cli = test::run_cli(fmt::format("report --compare '{}' '{}' --out '{}' --fail-below 0.95 --no-render",
                                             c.old_file.string(), c.new_file.string(), (dir / "cmp2").string()));
  EXPECT_EQ(cli.exit_code, 3) << cli.out;
  const auto bad = test::run_cli(fmt::format("report '{}' --out '{}' --target 85", c.old_file.string(),
                                             (dir / "r3").string()));
  EXPECT_EQ(bad.exit_code, 2) << bad.out;
  EXPECT_NE(bad.out.find("--target must be a test accuracy in (0, 1]"), std::string::npos) << bad.out;
}

// ---- network search

// A search line: the record of `rec` plus the search field `cnnbench search` adds.
nlohmann::json search_line(int candidate, int generation, double accuracy, double seconds, const std::string& genome) {
  nlohmann::json j = rec("cpu-ref", "single", 1, 16, 100, "");
  j.erase("sweep");
  j["config"]["model_spec"] = genome;  // each candidate is another model
  j["search"] = {{"method", "genetic"}, {"space", "s.toml"}, {"seed", 7}, {"devices", "cpu:2"},
                 {"generation", generation}, {"candidate", candidate}, {"genome", {{"filters", candidate}}},
                 {"fitness", {{"test_accuracy", accuracy}, {"train_seconds", seconds}}}};
  return j;
}

TEST(ReportSearch, ParetoFrontIsExactlyTheNonDominatedPoints) {
  const double nan = std::nan("");
  const std::vector<std::pair<double, double>> pts = {
      {10, 0.80},   // 0: front
      {5, 0.70},    // 1: front
      {20, 0.80},   // 2: as accurate as 0, slower
      {12, 0.85},   // 3: front
      {3, 0.60},    // 4: front (fastest)
      {6, 0.65},    // 5: slower and less accurate than 1
      {5, 0.70},    // 6: equal to 1: neither dominates the other
      {nan, 0.99},  // 7: no time, no part
      {30, 0.90},   // 8: front (most accurate)
      {30, 0.60}};  // 9: dominated by everything faster
  EXPECT_EQ(pareto_front(pts), (std::vector<size_t>{4, 1, 6, 0, 3, 8}));
  EXPECT_TRUE(pareto_front({}).empty());
  EXPECT_EQ(pareto_front({{1, 0.5}}), (std::vector<size_t>{0}));
}

TEST(ReportSearch, BestSoFarPerGenerationAndTheFrontFromSearchLines) {
  TempDir dir;
  NoGnuplot no_gnuplot;
  nlohmann::json failed = {{"schema", "cnnbench.run/1"}, {"status", "failed"}, {"reason", "does not fit"},
                           {"config", {{"model", "m"}, {"dataset", kData}, {"backend", "cpu-ref"}, {"strategy", "single"},
                                       {"batch", 16}}},
                           {"search", search_line(4, 2, 0, 0, "m")["search"]}};
  // Generation 0: 50% in 2 s, 70% in 4 s; generation 1: 60% in 1 s, 80% in 6 s; generation 2: one failure.
  write_lines(dir / "s.jsonl", {search_line(0, 0, 0.5, 2, "a"), search_line(1, 0, 0.7, 4, "b"),
                                search_line(2, 1, 0.6, 1, "c"), search_line(3, 1, 0.8, 6, "d"), failed});
  ReportOptions opt;
  opt.results = {dir / "s.jsonl"};
  opt.out = dir / "rep";
  const ReportOutcome r = write_report(opt);
  EXPECT_TRUE(r.warnings.empty()) << r.warnings.front();
  // Only the search charts: each candidate is another model, with no baseline to chart against.
  EXPECT_EQ(r.charts, (std::vector<std::string>{"search_progress_1", "search_pareto_1"}));
  const std::string progress = slurp(dir / "rep" / "charts" / "search_progress_1.dat");
  EXPECT_NE(progress.find("# generation\tbest_accuracy_percent\tbest_candidate\n0\t70\t1\n1\t80\t3\n2\t80\t3\n\n\n"),
            std::string::npos)
      << progress;
  EXPECT_NE(progress.find("1\t60\t2\t{\"filters\":2}\n"), std::string::npos) << progress;
  const std::string pareto = slurp(dir / "rep" / "charts" / "search_pareto_1.dat");
  const std::string front = pareto.substr(pareto.find("# Pareto front"));
  EXPECT_NE(front.find("accuracy_percent\tcandidate\tgenome\n1\t60\t2\t{\"filters\":2}\n4\t70\t1\t{\"filters\":1}\n"
                       "6\t80\t3\t{\"filters\":3}\n"),
            std::string::npos)
      << pareto;
  EXPECT_EQ(front.find("\t0\t{\"filters\":0}"), std::string::npos) << "candidate 0 is dominated by candidate 2";
  const std::string index = slurp(dir / "rep" / "index.md");
  EXPECT_NE(index.find("### genetic search over s.toml (seed 7) on synthetic 1x8x8 (n=64)"), std::string::npos) << index;
  EXPECT_NE(index.find("5 candidates (4 trained, 1 failed) over 3 generation(s); devices cpu:2."), std::string::npos)
      << index;
  EXPECT_NE(index.find("| 3 | 1 | `{\"filters\":3}` | d | 80.00% | 6.00 |"), std::string::npos) << index;
  EXPECT_NE(index.find("Runs: **4 ok**, 1 failed"), std::string::npos) << index;
  EXPECT_NE(index.find("| hostname | box |"), std::string::npos) << "the search lines' environment";
  EXPECT_NE(slurp(dir / "rep" / "charts" / "search_pareto_1.gp").find("Test CPU"), std::string::npos) << "footer";
}

TEST(ReportSearch, ChartsFromARealSearchRenderAsXmlAndIndexLinksThem) {
  if (!find_gnuplot()) GTEST_SKIP() << "gnuplot is not installed";
  TempDir dir;
  { std::ofstream(dir / "s.toml") << "[genes]\nfilters = [2, 4]\ndense = [0, 8]\nconv_blocks = [1]\n"; }
  const auto run = test::run_cli(fmt::format("search --method grid --space {} --out {} --dataset "
                                             "synthetic:n=64,shape=1x8x8,classes=3,test=16 --epochs 1 --steps 2 "
                                             "--backend cpu-ref --devices cpu:2",
                                             (dir / "s.toml").string(), (dir / "s.jsonl").string()));
  ASSERT_EQ(run.exit_code, 0) << run.out;
  ReportOptions opt;
  opt.results = {dir / "s.jsonl"};
  opt.out = dir / "rep";
  const ReportOutcome r = write_report(opt);
  ASSERT_EQ(r.charts, (std::vector<std::string>{"search_progress_1", "search_pareto_1"}));
  ASSERT_EQ(r.rendered, 2) << (r.warnings.empty() ? r.render_note : r.warnings.back());
  const std::string index = slurp(dir / "rep" / "index.md");
  EXPECT_NE(index.find("## Network search"), std::string::npos) << index;
  EXPECT_NE(index.find("4 candidates (4 trained, 0 failed); devices cpu:2."), std::string::npos) << index;
  for (const auto& c : r.charts) {
    EXPECT_NE(index.find(fmt::format("](charts/{}.svg)", c)), std::string::npos) << c;
    EXPECT_NE(index.find(fmt::format("[charts/{0}.png](charts/{0}.png)", c)), std::string::npos) << c;
    const std::string svg = slurp(dir / "rep" / "charts" / (c + ".svg"));
    EXPECT_EQ(svg.rfind("<?xml", 0), 0u) << c;
    EXPECT_EQ(test::xml_problem(svg), "") << c;
    if (c == "search_pareto_1") EXPECT_NE(svg.find("Pareto front"), std::string::npos);
    EXPECT_EQ(slurp(dir / "rep" / "charts" / (c + ".png")).substr(0, 4), "\x89PNG") << c;
    EXPECT_TRUE(fs::exists(dir / "rep" / "charts" / (c + ".dat"))) << c;
    EXPECT_TRUE(fs::exists(dir / "rep" / "charts" / (c + ".gp"))) << c;
  }
}

TEST(ReportLabels, ThreadsPerReplicaTellOneByTwoFromTwoByOne) {
  nlohmann::json one_by_two = rec("cpu-gemm", "single", 1, 64, 400, "00000000000000c1");
  one_by_two["config"]["threads"] = 2;
  const nlohmann::json two_by_one = rec("cpu-gemm", "allreduce", 2, 64, 700, "00000000000000c2");
  EXPECT_EQ(row_from_record(one_by_two, "f:1").label(), "cpu-gemm single x1 b64 2 thr");
  EXPECT_EQ(row_from_record(two_by_one, "f:2").label(), "cpu-gemm allreduce x2 b64/dev 1 thr");
  // cpu-ref is one thread by definition; GPU backends and records without a thread count say nothing.
  EXPECT_EQ(row_from_record(rec("cpu-ref", "single", 1, 64, 100, "00000000000000c3"), "f:3").label(), "cpu-ref single x1 b64");
  nlohmann::json gpu = rec("cudnn", "allreduce", 2, 64, 9000, "00000000000000c4");
  EXPECT_EQ(row_from_record(gpu, "f:4").label(), "cudnn allreduce x2 b64/dev");
  nlohmann::json unknown = rec("cpu-gemm", "single", 1, 64, 400, "00000000000000c5");
  unknown["config"].erase("threads");
  EXPECT_EQ(row_from_record(unknown, "f:5").label(), "cpu-gemm single x1 b64");
}

// ---- backend facts: order, colour and threads come from the recipes; a record from an older or newer
// cnnbench may name a backend this build does not know, and its report still works.

TEST(ReportBackends, DisplayOrderIsTheRecipeTableOrderAndUnknownNamesComeLastByName) {
  std::vector<std::string> expected;
  for (const BackendRecipe& r : backend_recipes()) expected.emplace_back(r.name);
  expected.insert(expected.end(), {"aaa-old", "cpu-future", "zz-new"});
  std::vector<RunRow> rows;
  for (const char* b : {"zz-new", "cudnn", "cpu-future", "cuda-gemm", "aaa-old", "cpu-onednn", "cuda-naive",
                        "cpu-gemm", "cpu-ref"})
    rows.push_back(row_from_record(rec(b, "single", 1, 64, 100, ""), b));
  std::stable_sort(rows.begin(), rows.end(), display_before);
  std::vector<std::string> got;
  for (const RunRow& r : rows) got.push_back(r.backend);
  EXPECT_EQ(got, expected);
}

TEST(ReportBackends, EveryRecipeHasItsOwnColourAndUnknownNamesTheFallback) {
  // The colours charts have always used: a slide made from an older report keeps its legend.
  const std::map<std::string, unsigned> kept = {{"cpu-ref", 0x7f7f7f},   {"cpu-gemm", 0x1f77b4},
                                                {"cpu-onednn", 0x17becf}, {"cuda-naive", 0xff7f0e},
                                                {"cuda-gemm", 0xd62728},  {"cudnn", 0x2ca02c}};
  std::set<unsigned> seen = {kUnknownBackendColor};
  for (const BackendRecipe& r : backend_recipes()) {
    EXPECT_TRUE(seen.insert(r.colour).second) << r.name << " shares its colour";
    EXPECT_EQ(backend_color(r.name), r.colour) << r.name;
    if (kept.contains(std::string(r.name))) EXPECT_EQ(r.colour, kept.at(std::string(r.name))) << r.name;
  }
  EXPECT_EQ(backend_color("zz-new"), kUnknownBackendColor);
}

TEST(ReportBackends, UnknownNamesAreNeitherTheBaselineNorSingleThreaded) {
  nlohmann::json future = rec("cpu-future", "single", 1, 64, 400, "00000000000000d1");
  future["config"]["threads"] = 3;
  const RunRow row = row_from_record(future, "f:1");
  EXPECT_FALSE(row.is_baseline());
  EXPECT_EQ(row.label(), "cpu-future single x1 b64 3 thr");
  EXPECT_TRUE(backend_on_cpu("cpu-future"));
  EXPECT_FALSE(backend_on_cpu("tpu-future"));
  EXPECT_TRUE(row_from_record(rec("cpu-ref", "single", 1, 64, 100, "00000000000000d2"), "f:2").is_baseline());
  EXPECT_FALSE(row_from_record(rec("cpu-ref", "allreduce", 2, 64, 100, "00000000000000d3"), "f:3").is_baseline());
  EXPECT_EQ(backend_display_rank("zz-new"), int(backend_recipes().size()));
}

// ---- environment

// Three machines: two A100s, a CUDA build without a driver, and a CPU-only build from before the cuda
// object existed. The report states each as readable lines, never as JSON.
TEST(ReportEnvironment, CudaFactsAreLinesNotJson) {
  TempDir dir;
  NoGnuplot no_gnuplot;
  nlohmann::json gpu = rec("cudnn", "single", 1, 64, 9000, "00000000000000e1");
  gpu["environment"] = nlohmann::json::parse(R"j({"hostname": "gpubox", "git_commit": "abc", "cuda": {
    "built_with_cuda": true, "driver_version": "13.0", "driver_release": "580.65.06",
    "runtime_version": "13.0", "runtime_built": "13.0",
    "cublas": {"built": "13.1.0", "loaded": "13.1.0"}, "cudnn": {"built": "9.19.0", "loaded": "9.19.0"},
    "nccl": {"built": "2.28.9", "loaded": "2.28.5"}, "visible_devices": null,
    "gpus": [{"ordinal": 0, "name": "NVIDIA A100-SXM4-80GB", "compute_capability": "8.0", "memory_bytes": 85899345920,
              "sm_count": 108, "l2_cache_bytes": 41943040, "pci_bus_id": "0000:07:00.0"},
             {"ordinal": 1, "name": "NVIDIA A100-SXM4-80GB", "compute_capability": "8.0", "memory_bytes": 85899345920,
              "sm_count": 108, "l2_cache_bytes": 41943040, "pci_bus_id": "0000:08:00.0"}],
    "error": null, "reason": null}})j");
  nlohmann::json nodriver = rec("cpu-gemm", "single", 1, 64, 400, "00000000000000e2");
  nodriver["environment"] = nlohmann::json::parse(R"j({"hostname": "devbox", "git_commit": "abc", "cuda": {
    "built_with_cuda": true, "driver_version": null, "driver_release": null, "runtime_version": "13.0",
    "runtime_built": "13.0", "cublas": {"built": "13.1.0", "loaded": "13.1.0"}, "cudnn": null, "nccl": null,
    "visible_devices": null, "gpus": [], "error": "cudaErrorInsufficientDriver",
    "reason": "no NVIDIA driver is installed (cudaErrorInsufficientDriver, and cudaDriverGetVersion reports none)"}})j");
  nlohmann::json cpu = rec("cpu-ref", "single", 1, 64, 100, "00000000000000e3");
  cpu["environment"] = {{"hostname", "cpubox"}, {"git_commit", "abc"}, {"cuda", nullptr}};
  write_lines(dir / "r.jsonl", {gpu, nodriver, cpu});
  ReportOptions opt;
  opt.results = {dir / "r.jsonl"};
  opt.out = dir / "rep";
  write_report(opt);
  const std::string index = slurp(dir / "rep" / "index.md");
  const std::string env = index.substr(index.find("## Environment"));
  // One column per machine, in the order the lines name them.
  EXPECT_NE(env.find("| hostname | gpubox | devbox | cpubox |"), std::string::npos) << env;
  EXPECT_NE(env.find("| CUDA | 2× NVIDIA A100-SXM4-80GB (compute capability 8.0) | no usable GPU (see CUDA below) | "
                     "none (CPU-only build) |\n"),
            std::string::npos)
      << env;
  EXPECT_NE(env.find("### CUDA\n\n"
                     "Machine 1 (gpubox):\n\n"
                     "- gpu:0 NVIDIA A100-SXM4-80GB: compute capability 8.0, 80.0 GiB, 108 SMs, L2 40.0 MiB, PCI "
                     "0000:07:00.0\n"
                     "- gpu:1 NVIDIA A100-SXM4-80GB: compute capability 8.0, 80.0 GiB, 108 SMs, L2 40.0 MiB, PCI "
                     "0000:08:00.0\n"
                     "- driver: 580.65.06, supports CUDA up to 13.0\n"
                     "- CUDA runtime: 13.0 loaded, built against 13.0\n"
                     "- cuBLAS: 13.1.0 loaded, built against 13.1.0\n"
                     "- cuDNN: 9.19.0 loaded, built against 9.19.0\n"
                     "- NCCL: 2.28.5 loaded, built against 2.28.9 (they differ)\n\n"
                     "Machine 2 (devbox):\n\n"
                     "- no usable GPU: no NVIDIA driver is installed (cudaErrorInsufficientDriver, and "
                     "cudaDriverGetVersion reports none)\n"
                     "- driver: none\n"
                     "- CUDA runtime: 13.0 loaded, built against 13.0\n"
                     "- cuBLAS: 13.1.0 loaded, built against 13.1.0\n"
                     "- cuDNN: not in this build\n"
                     "- NCCL: not in this build\n\n"
                     "Machine 3 (cpubox):\n\n"
                     "- no usable GPU: this cnnbench was built without CUDA (configure with the `cuda` preset)\n"),
            std::string::npos)
      << env;
  EXPECT_EQ(env.find("{\""), std::string::npos) << "raw JSON in the environment section:\n" << env;
}

TEST(ProjectCli, PrintsTheTableForGivenNumbers) {
  const auto r = test::run_cli("project --params 1000000 --step-ms 10 --link pcie4 --devices 1,8,64");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("    8 |         10.302 ms  97.1%"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("   64 |         10.968 ms  91.2%"), std::string::npos) << r.out;
  const auto s = test::run_cli("project --params 1000000 --step-ms 10 --link pcie4 --devices 8 --scaling strong");
  EXPECT_NE(s.out.find("    8 |          1.552 ms  80.5%"), std::string::npos) << s.out;
  EXPECT_EQ(test::run_cli("project --params 0 --step-ms 10").exit_code, 2);
  EXPECT_EQ(test::run_cli("project --params 10 --step-ms 10 --link pcie9").exit_code, 2);
}

}  // namespace
}  // namespace cnnb
