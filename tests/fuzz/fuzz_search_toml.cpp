// Search spaces (TOML [genes]): parse, then turn the first and the last genome of the space into a
// training configuration and its JSON, as the search does before training a candidate.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "bench/harness/search.h"
#include "core/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const cnnb::SearchSpace space = cnnb::parse_search_space(text, "fuzz.toml");
    cnnb::Genome first(space.genes.size(), 0), last;
    for (const auto& g : space.genes) {
      if (g.choices.empty()) __builtin_trap();  // an empty list must have been refused
      last.push_back(int(g.choices.size()) - 1);
    }
    const cnnb::TrainConfig base;
    for (const auto& genome : {first, last}) {
      (void)cnnb::genome_json(space, genome);
      (void)cnnb::candidate_config(space, genome, base, 10);
    }
  } catch (const cnnb::InputError&) {
  }
  return 0;
}
