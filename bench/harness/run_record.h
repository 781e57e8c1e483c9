#pragma once
// The run record: one JSON object per run, schema "cnnbench.run/1" (documented in docs/RECORD.md).
#include <nlohmann/json.hpp>

#include "bench/harness/trainer.h"

namespace cnnb {

inline constexpr const char* kRunSchema = "cnnbench.run/1";

// CPU, cores, OS, compiler, library versions, GPUs (when built with CUDA), git commit, time.
nlohmann::json environment_json();

nlohmann::json run_record(const TrainResult& r, const Dataset& data);

// One entry of the record's `epochs` array (checkpoints store finished epochs the same way).
nlohmann::json epoch_json(const EpochStats& e);

// Peak resident set size of this process in MiB (VmHWM), or -1 where /proc is missing.
double peak_rss_mib();

}  // namespace cnnb
