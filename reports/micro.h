#pragma once
// cnnbench-micro's Google Benchmark JSON (--benchmark_out=FILE --benchmark_out_format=json): one entry per
// kernel variant and case, named op/family/variant/case, with a "GFLOP/s" counter.
#include <filesystem>
#include <string>
#include <vector>

namespace cnnb {

struct MicroResult {
  std::string op, family, variant, kase;
  double gflops = 0;     // NaN when the benchmark did not run
  double time_us = 0;    // real time per iteration
  std::string error;     // the benchmark's error or skip message
  std::string variant_name() const { return family + "/" + variant; }
};

// Aggregates (median, then mean) win over single iterations when the file has repetitions. Entries whose
// name is not op/family/variant/case are left out with a warning. InputError when the file cannot be read
// or is not Google Benchmark JSON.
std::vector<MicroResult> read_micro_json(const std::filesystem::path& file, std::vector<std::string>& warnings);

}  // namespace cnnb
