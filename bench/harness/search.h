#pragma once
// Network search (the seeds' brute-force and genetic-algorithm searches): a space of choices per gene, a
// genome = one choice per gene, each candidate trained by train() and scored by test accuracy (ties
// broken by the shorter training time).
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
};

struct Candidate {
  int generation = 0, index = 0;
  Genome genome;
  std::string status = "ok";  // ok, failed (with error)
  std::string error;
  double accuracy = 0, train_seconds = 0;
  TrainResult result;
};
// Higher accuracy first; equal accuracy: less training time first.
bool fitter(const Candidate& a, const Candidate& b);

using CandidateFn = std::function<void(const Candidate&)>;
// Trains the candidates in order, calling on_result after each (the CLI appends a JSONL line). A candidate
// whose configuration cannot run is recorded as failed and the search goes on. Returns every candidate.
std::vector<Candidate> run_search(const SearchSpace& space, const SearchOptions& opt, const TrainConfig& base,
                                  const Dataset& data, const CandidateFn& on_result);

}  // namespace cnnb
