#include "reports/micro.h"

#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.h"

namespace cnnb {

namespace {

double to_us(double t, const std::string& unit) {
  if (unit == "ns") return t * 1e-3;
  if (unit == "ms") return t * 1e3;
  if (unit == "s") return t * 1e6;
  return t;  // us
}

}  // namespace

std::vector<MicroResult> read_micro_json(const std::filesystem::path& file, std::vector<std::string>& warnings) {
  std::ifstream in(file);
  if (!in) fail_input("--micro {}: cannot read the file", file.string());
  nlohmann::json j;
  try {
    std::ostringstream s;
    s << in.rdbuf();
    j = nlohmann::json::parse(s.str());
  } catch (const nlohmann::json::exception& e) {  // parse_error, or out_of_range for a number like 1e400
    fail_input("--micro {}: not valid JSON ({})", file.string(), e.what());
  }
  if (!j.is_object() || !j.contains("benchmarks") || !j["benchmarks"].is_array())
    fail_input("--micro {}: not Google Benchmark JSON (no \"benchmarks\" array); write it with "
               "cnnbench-micro --benchmark_out={} --benchmark_out_format=json",
               file.string(), file.filename().string());
  // name -> (rank of the entry kind: 0 median, 1 mean, 2 iteration), result; iterations are averaged.
  struct Slot {
    int rank = 9;
    MicroResult r;
    int count = 0;
  };
  std::map<std::string, Slot> slots;
  std::vector<std::string> order;
  for (const auto& b : j["benchmarks"]) {
    const std::string run_name = b.value("run_name", b.value("name", ""));
    const std::string type = b.value("run_type", "iteration");
    const std::string agg = b.value("aggregate_name", "");
    int rank = 2;
    if (type == "aggregate") {
      if (agg == "median") rank = 0;
      else if (agg == "mean") rank = 1;
      else continue;  // stddev, cv, min, ...
    }
    // op/family/variant/case, possibly followed by Google Benchmark's own suffixes (/real_time, ...).
    std::vector<std::string> parts;
    std::stringstream ss(run_name);
    for (std::string p; std::getline(ss, p, '/');) parts.push_back(p);
    if (parts.size() < 4) {
      warnings.push_back(fmt::format("{}: benchmark '{}' is not named op/family/variant/case, left out", file.string(),
                                     run_name));
      continue;
    }
    const std::string key = fmt::format("{}/{}/{}/{}", parts[0], parts[1], parts[2], parts[3]);
    MicroResult r;
    r.op = parts[0];
    r.family = parts[1];
    r.variant = parts[2];
    r.kase = parts[3];
    if (b.value("error_occurred", false)) r.error = b.value("error_message", "error");
    if (b.contains("skipped") && b["skipped"].is_boolean() && b["skipped"].get<bool>())
      r.error = b.value("skip_message", "skipped");
    r.gflops = b.contains("GFLOP/s") && b["GFLOP/s"].is_number() ? b["GFLOP/s"].get<double>() : std::nan("");
    r.time_us = to_us(b.value("real_time", 0.0), b.value("time_unit", "ns"));
    auto [it, fresh] = slots.try_emplace(key);
    if (fresh) order.push_back(key);
    Slot& s = it->second;
    if (rank < s.rank) {
      s = {rank, r, 1};
    } else if (rank == s.rank && rank == 2 && r.error.empty() && s.r.error.empty()) {
      // Several iteration entries (--benchmark_repetitions without aggregates): their mean.
      s.r.gflops = (s.r.gflops * s.count + r.gflops) / (s.count + 1);
      s.r.time_us = (s.r.time_us * s.count + r.time_us) / (s.count + 1);
      ++s.count;
    }
  }
  std::vector<MicroResult> out;
  for (const auto& k : order) out.push_back(slots[k].r);
  return out;
}

}  // namespace cnnb
