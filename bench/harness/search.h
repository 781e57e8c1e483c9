#pragma once
// Network search (the seeds' brute-force and genetic-algorithm searches): a space of choices per gene, a
// genome = one choice per gene, each candidate trained by train() and scored by test accuracy (ties
// broken by the lower test loss, then the shorter training time).
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/harness/trainer.h"

namespace cnnb {

// Genes a space may list; every one is optional (a missing gene keeps the base configuration's value):
//   conv_blocks (int >= 1), filters (int), kernel (int, odd), pooling ("max2", "max3s2", "none"),
//   dense (int, 0 = no hidden dense layer), activation ("relu"), optimizer ("sgd", "adam"),
//   lr (number > 0), batch (int)
struct Gene {
  std::string name;
  std::vector<nlohmann::json> choices;
};
struct SearchSpace {
  std::string source;
  std::vector<Gene> genes;
  const Gene* find(std::string_view name) const;
};

// [genes] table of arrays. InputError naming the file, gene and value for an unknown gene, an empty
// list or an invalid choice.
SearchSpace parse_search_space(std::string_view toml_text, const std::string& source);
SearchSpace read_search_space(const std::filesystem::path& file);

using Genome = std::vector<int>;  // choice index per gene

nlohmann::json genome_json(const SearchSpace& space, const Genome& g);
// The base configuration with the genome's genes applied (model spec, optimizer, lr, batch).
TrainConfig candidate_config(const SearchSpace& space, const Genome& g, const TrainConfig& base, int classes);

struct SearchOptions {
  std::string method = "genetic";  // grid or genetic
  int64_t budget = 0;              // candidates trained at most (0 = grid: all; genetic: population x generations)
  int population = 8, generations = 4;
  int tournament = 2;
  double mutation = 0.2;           // probability per gene
  uint64_t seed = 1;
  // Where candidates train, one per device at a time: cpu:R (R candidates at once, each with the cores
  // shared R ways unless the base configuration sets threads), gpu:0,1 or gpu:all (one candidate per
  // GPU); "" = one device of the backend's kind, so candidates run one after another.
  std::string devices;
};

// The device each concurrently trained candidate gets: TrainConfig::devices and threads per slot.
struct SearchSlot {
  std::string devices;  // "cpu:1", "gpu:1"
  int threads = 0;      // 0 = TrainConfig's rule
};
// InputError for a bad --devices (as train's) or one the backend cannot drive.
std::vector<SearchSlot> search_slots(const std::string& devices, const TrainConfig& base);

struct Candidate {
  int generation = 0, index = 0;
  Genome genome;
  std::string status = "ok";  // ok, failed or diverged (with error)
  std::string error;
  double accuracy = 0, train_seconds = 0;
  TrainResult result;
};
// Higher accuracy first; equal accuracy: lower final test loss, then less training time.
bool fitter(const Candidate& a, const Candidate& b);

using CandidateFn = std::function<void(const Candidate&)>;
// Trains the candidates, one per slot at a time (search_slots(opt.devices)), and calls on_result once per
// candidate in candidate order, from one thread at a time (the CLI appends a JSONL line). Which
// candidates run and what each gets depend only on the seed, never on which finishes first: a genetic
// generation is trained whole before the next is bred from it. A candidate whose configuration cannot
// run is recorded as failed and the search goes on. Returns every candidate, in order.
std::vector<Candidate> run_search(const SearchSpace& space, const SearchOptions& opt, const TrainConfig& base,
                                  const Dataset& data, const CandidateFn& on_result);

}  // namespace cnnb
