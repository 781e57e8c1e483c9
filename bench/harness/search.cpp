#include "bench/harness/search.h"

#include <algorithm>
#include <limits>
#include <chrono>
#include <exception>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <toml++/toml.h>

#include "bench/harness/watchdog.h"
#include "core/error.h"
#include "core/rng.h"
#include "strategies/devices.h"

namespace cnnb {

namespace {

struct GeneRule {
  std::string_view name;
  bool integer;  // else string, or number for lr
  std::string_view expected;
};
constexpr GeneRule kGenes[] = {
    {"conv_blocks", true, "an integer >= 1"}, {"filters", true, "an integer >= 1"},
    {"kernel", true, "an odd integer >= 1"},  {"pooling", false, "one of max2, max3s2, none"},
    {"dense", true, "an integer >= 0"},       {"activation", false, "relu (the only activation the ops support)"},
    {"optimizer", false, "sgd or adam"},      {"lr", false, "a number > 0"},
    {"batch", true, "an integer >= 1"}};

bool valid_choice(std::string_view gene, const nlohmann::json& v) {
  if (gene == "pooling") return v.is_string() && (v == "max2" || v == "max3s2" || v == "none");
  if (gene == "activation") return v == "relu";
  if (gene == "optimizer") return v == "sgd" || v == "adam";
  if (gene == "lr") return v.is_number() && v.get<double>() > 0;
  if (!v.is_number_integer()) return false;
  const int64_t i = v.get<int64_t>();
  if (gene == "dense") return i >= 0 && i <= 1 << 16;
  if (gene == "kernel") return i >= 1 && i % 2 == 1 && i <= 15;
  return i >= 1 && i <= 1 << 16;
}

template <class T>
T gene_or(const SearchSpace& s, const Genome& g, std::string_view name, T fallback) {
  for (size_t i = 0; i < s.genes.size(); ++i)
    if (s.genes[i].name == name) return s.genes[i].choices[size_t(g[i])].get<T>();
  return fallback;
}

Genome random_genome(const SearchSpace& s, Rng& rng) {
  Genome g;
  for (const auto& gene : s.genes) g.push_back(int(rng.below(gene.choices.size())));
  return g;
}

}  // namespace

const Gene* SearchSpace::find(std::string_view name) const {
  for (const auto& g : genes)
    if (g.name == name) return &g;
  return nullptr;
}

SearchSpace parse_search_space(std::string_view text, const std::string& source) {
  toml::table t;
  try {
    t = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    fail_input("{}: not valid TOML: {} (line {})", source, e.description(), e.source().begin.line);
  }
  const toml::table* genes = t["genes"].as_table();
  if (!genes || genes->empty()) fail_input("{}: expected a [genes] table listing the choices of each gene", source);
  SearchSpace s;
  s.source = source;
  for (const auto& [key, node] : *genes) {
    const std::string name(key.str());
    const auto rule = std::find_if(std::begin(kGenes), std::end(kGenes), [&](const GeneRule& r) { return r.name == name; });
    if (rule == std::end(kGenes)) {
      std::vector<std::string_view> names;
      for (const auto& r : kGenes) names.push_back(r.name);
      fail_input("{}: unknown gene '{}'; expected one of: {}", source, name, fmt::join(names, ", "));
    }
    const toml::array* arr = node.as_array();
    if (!arr) fail_input("{}: gene {}: expected an array of choices, e.g. {} = [...]", source, name, name);
    if (arr->empty()) fail_input("{}: gene {}: the list of choices is empty; expected at least one", source, name);
    Gene g;
    g.name = name;
    for (const auto& v : *arr) {
      nlohmann::json j;
      // Type first: toml++'s value<int64_t>() of a float like 1e40 is an out-of-range cast (UB).
      if (v.is_integer()) j = *v.value<int64_t>();
      else if (v.is_floating_point()) j = *v.value<double>();
      else if (v.is_string()) j = *v.value<std::string>();
      else fail_input("{}: gene {}: a choice is not a number or string; expected {}", source, name, rule->expected);
      if (!valid_choice(name, j)) fail_input("{}: gene {}: invalid choice {}; expected {}", source, name, j.dump(), rule->expected);
      g.choices.push_back(j);
    }
    s.genes.push_back(std::move(g));
  }
  return s;
}

SearchSpace read_search_space(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) fail_input("--space {}: cannot open the file", file.string());
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return parse_search_space(text, file.string());
}

nlohmann::json genome_json(const SearchSpace& space, const Genome& g) {
  nlohmann::json j = nlohmann::json::object();
  for (size_t i = 0; i < space.genes.size(); ++i) j[space.genes[i].name] = space.genes[i].choices[size_t(g[i])];
  return j;
}

TrainConfig candidate_config(const SearchSpace& s, const Genome& g, const TrainConfig& base, int classes) {
  TrainConfig c = base;
  const bool shapes = s.find("conv_blocks") || s.find("filters") || s.find("kernel") || s.find("pooling") || s.find("dense");
  if (shapes) {
    const int blocks = gene_or<int>(s, g, "conv_blocks", 2);
    const int filters = gene_or<int>(s, g, "filters", 32);
    const int kernel = gene_or<int>(s, g, "kernel", 3);
    const std::string pool = gene_or<std::string>(s, g, "pooling", "max2");
    const int dense = gene_or<int>(s, g, "dense", 128);
    std::vector<std::string> layers;
    // Filters double with each block, as in the presets (simple: 32, 64).
    for (int b = 0; b < blocks; ++b) {
      // Saturated instead of overflowing: the model spec then refuses the count, naming its limit.
      const int64_t block_filters = b < 32 ? std::min<int64_t>(int64_t(filters) << b, INT32_MAX) : INT32_MAX;
      layers.push_back(fmt::format("conv{}x{}x{}", kernel, kernel, block_filters));
      layers.push_back("relu");
      if (pool != "none") layers.push_back("max" + std::string(pool == "max2" ? "pool2" : "pool3s2"));
    }
    if (dense > 0) layers.push_back(fmt::format("fc{}", dense)), layers.push_back("relu");
    layers.push_back(fmt::format("fc{}", classes));
    c.model = fmt::format("{}", fmt::join(layers, ","));
  }
  if (s.find("optimizer")) c.optimizer.kind = parse_optimizer_kind(gene_or<std::string>(s, g, "optimizer", "adam"));
  if (s.find("lr")) c.optimizer.lr = gene_or<double>(s, g, "lr", c.optimizer.lr);
  if (s.find("batch")) c.batch = gene_or<int>(s, g, "batch", c.batch);
  return c;
}

bool fitter(const Candidate& a, const Candidate& b) {
  if ((a.status == "ok") != (b.status == "ok")) return a.status == "ok";
  if (a.accuracy != b.accuracy) return a.accuracy > b.accuracy;
  // Test loss before time: it is as deterministic as the accuracy, so a seeded search breeds the same
  // generations on any machine; timing only settles what is equal in both.
  const auto loss = [](const Candidate& c) {
    return c.result.epochs.empty() ? std::numeric_limits<double>::infinity() : c.result.epochs.back().test_loss;
  };
  if (loss(a) != loss(b)) return loss(a) < loss(b);
  return a.train_seconds < b.train_seconds;
}

std::vector<SearchSlot> search_slots(const std::string& devices, const TrainConfig& base) {
  const DeviceKind kind = backend_device(base.backend);
  const DeviceList list = parse_devices(devices, kind, 0);
  std::vector<SearchSlot> slots;
  if (list.kind == DeviceKind::cpu) {
    // A CPU slot is a share of the cores, not particular cores (nothing pins threads), so every slot is
    // cpu:1 with its share; cpu-ref runs one thread whatever it is given.
    const int cores = int(std::max(1u, std::thread::hardware_concurrency()));
    const int threads = base.threads > 0 ? base.threads : std::max(1, cores / list.count());
    for (int i = 0; i < list.count(); ++i) slots.push_back({"cpu:1", threads});
  } else {
    for (int id : list.ids) slots.push_back({fmt::format("gpu:{}", id), base.threads});
  }
  return slots;
}

namespace {

// Trains candidates [first, all.size()) of `all`, one per slot at a time, each on its own thread, and
// calls on_result for them in index order as soon as every earlier one is done.
void train_batch(std::vector<Candidate>& all, size_t first, const std::vector<SearchSlot>& slots,
                 const SearchSpace& space, const TrainConfig& base, const Dataset& data, const CandidateFn& on_result) {
  const size_t count = all.size() - first;
  const auto train_one = [&](Candidate& c, const SearchSlot& slot) {
    try {
      TrainConfig cfg = candidate_config(space, c.genome, base, data.classes);
      cfg.devices = slot.devices;
      cfg.threads = slot.threads;
      c.result = train(cfg, data, nullptr);
      c.accuracy = c.result.epochs.back().test_accuracy;
      c.train_seconds = c.result.train_seconds;
    } catch (const TrainingDiverged& e) {
      c.status = "diverged";  // a score like any failure's, but the line says what happened
      c.error = e.what();
    } catch (const Error& e) {
      c.status = "failed";
      c.error = e.what();
    }
  };
  if (slots.size() == 1 || count == 1) {
    for (size_t i = first; i < all.size(); ++i) {
      train_one(all[i], slots.front());
      if (on_result) on_result(all[i]);
    }
    return;
  }
  std::mutex m;
  size_t next = first, reported = first;
  std::vector<char> done(count, 0);
  std::exception_ptr error;
  const auto slot_loop = [&](const SearchSlot& slot) {
    for (;;) {
      size_t i;
      {
        std::lock_guard lock(m);
        if (next == all.size() || error) return;
        i = next++;
      }
      try {
        train_one(all[i], slot);
        std::lock_guard lock(m);
        done[i - first] = 1;
        // Results leave in candidate order: whoever completes the prefix reports it.
        while (reported < all.size() && done[reported - first] && !error) {
          if (on_result) on_result(all[reported]);
          ++reported;
        }
      } catch (...) {
        std::lock_guard lock(m);
        if (!error) error = std::current_exception();
        return;
      }
    }
  };
  {
    std::vector<std::jthread> threads;
    for (size_t s = 0; s < std::min(slots.size(), count); ++s) threads.emplace_back(slot_loop, std::cref(slots[s]));
  }
  if (error) std::rethrow_exception(error);
}

}  // namespace

std::vector<Candidate> run_search(const SearchSpace& space, const SearchOptions& opt, const TrainConfig& base,
                                  const Dataset& data, const CandidateFn& on_result) {
  if (opt.method != "grid" && opt.method != "genetic")
    fail_input("--method must be grid or genetic, got '{}'", opt.method);
  if (opt.budget < 0) fail_input("--budget must be >= 0, got {}", opt.budget);
  if (opt.method == "genetic") {
    if (opt.population < 2) fail_input("--population must be >= 2, got {}", opt.population);
    if (opt.generations < 1) fail_input("--generations must be >= 1, got {}", opt.generations);
    if (opt.tournament < 1 || opt.tournament > opt.population)
      fail_input("--tournament must be in [1, population {}], got {}", opt.population, opt.tournament);
    if (!(opt.mutation >= 0 && opt.mutation <= 1)) fail_input("--mutation must be in [0, 1], got {}", opt.mutation);
  }
  const std::vector<SearchSlot> slots = search_slots(opt.devices, base);
  std::vector<Candidate> all;
  std::map<Genome, size_t> seen;  // a genome met again is not retrained
  const auto budget_left = [&] { return opt.budget == 0 || int64_t(all.size()) < opt.budget; };
  // Queues a candidate for the next batch (or finds the one already there); its index is final at once.
  const auto enqueue = [&](const Genome& g, int generation) -> size_t {
    if (auto it = seen.find(g); it != seen.end()) return it->second;
    Candidate c;
    c.generation = generation;
    c.index = int(all.size());
    c.genome = g;
    seen.emplace(g, all.size());
    all.push_back(std::move(c));
    return all.size() - 1;
  };

  if (opt.method == "grid") {
    Genome g(space.genes.size(), 0);
    while (budget_left()) {
      enqueue(g, 0);
      size_t i = 0;  // odometer over the choices
      for (; i < g.size(); ++i) {
        if (++g[i] < int(space.genes[i].choices.size())) break;
        g[i] = 0;
      }
      if (i == g.size()) break;
    }
    train_batch(all, 0, slots, space, base, data, on_result);
    return all;
  }

  Rng rng = Rng::stream(opt.seed, 0x5ea5c4);
  std::vector<Genome> pop;
  for (int i = 0; i < opt.population; ++i) pop.push_back(random_genome(space, rng));
  for (int gen = 0; gen < opt.generations && budget_left(); ++gen) {
    // The whole generation is trained before it is scored, so breeding never sees a finishing order.
    const size_t first = all.size();
    std::vector<size_t> members;
    for (const Genome& g : pop) {
      if (!budget_left()) break;
      members.push_back(enqueue(g, gen));
    }
    train_batch(all, first, slots, space, base, data, on_result);
    std::vector<Candidate> scored;
    for (size_t i : members) scored.push_back(all[i]);
    if (gen + 1 == opt.generations || scored.empty()) break;
    std::sort(scored.begin(), scored.end(), fitter);
    const auto pick = [&]() -> const Genome& {
      size_t best = rng.below(scored.size());
      for (int k = 1; k < opt.tournament; ++k) {
        const size_t other = rng.below(scored.size());
        if (fitter(scored[other], scored[best])) best = other;
      }
      return scored[best].genome;
    };
    std::vector<Genome> next = {scored.front().genome};  // the best survives unchanged
    while (int(next.size()) < opt.population) {
      const Genome &a = pick(), &b = pick();
      Genome child(a.size());
      for (size_t i = 0; i < a.size(); ++i) {
        child[i] = rng.below(2) ? a[i] : b[i];
        if (rng.uniform() < opt.mutation) child[i] = int(rng.below(space.genes[i].choices.size()));
      }
      next.push_back(std::move(child));
    }
    pop = std::move(next);
  }
  return all;
}

}  // namespace cnnb
