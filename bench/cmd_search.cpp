#include <fmt/format.h>

#include "bench/cli_numbers.h"
#include "bench/commands.h"
#include "bench/harness/run_record.h"
#include "bench/harness/search.h"
#include "core/error.h"
#include "core/files.h"

namespace cnnb::cli {

Command add_search(CLI::App& app) {
  CLI::App* sub = app.add_subcommand("search", "Search network shapes and training settings (grid or genetic)");
  sub->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  struct Opts {
    TrainConfig base;
    SearchOptions opt;
    std::string space, out, epochs = default_text(base.epochs), budget = default_text(opt.budget),
                population = default_text(opt.population), generations = default_text(opt.generations),
                tournament = default_text(opt.tournament), mutation = default_text(opt.mutation),
                seed = default_text(opt.seed), steps = default_text(base.steps_per_epoch),
                test_limit = default_text(base.test_limit), threads = default_text(base.threads);
  };
  auto o = std::make_shared<Opts>();
  o->base.warmup_steps = 0;
  sub->add_option("--method", o->opt.method, "grid (every combination) or genetic")->capture_default_str();
  sub->add_option("--space", o->space, "Search space (.toml with a [genes] table)")->required();
  sub->add_option("--out", o->out, "Results, one JSON line per candidate (appended)")->required();
  sub->add_option("--epochs", o->epochs, "Training epochs per candidate")->capture_default_str();
  sub->add_option("--budget", o->budget, "Candidates trained at most (0 = grid: all; genetic: population x generations)")
      ->capture_default_str();
  sub->add_option("--population", o->population, "genetic: population size")->capture_default_str();
  sub->add_option("--generations", o->generations, "genetic: generations")->capture_default_str();
  sub->add_option("--tournament", o->tournament, "genetic: tournament size")->capture_default_str();
  sub->add_option("--mutation", o->mutation, "genetic: mutation probability per gene")->capture_default_str();
  sub->add_option("--seed", o->seed, "Seed of the search, the initialisation and the data order")->capture_default_str();
  sub->add_option("--dataset", o->base.dataset, "Dataset")->capture_default_str();
  sub->add_option("--backend", o->base.backend, "Compute backend")->capture_default_str();
  sub->add_option("--model", o->base.model, "Model when the space has no shape genes")->capture_default_str();
  sub->add_option("--steps", o->steps, "Steps per epoch (0 = a full pass)")->capture_default_str();
  sub->add_option("--test-limit", o->test_limit, "Score on the first N test images only (0 = all)")->capture_default_str();
  sub->add_option("--threads", o->threads, "CPU threads per candidate (0 = the cores shared by the candidates running at once)")
      ->capture_default_str();
  sub->add_option("--devices", o->opt.devices,
                  "Candidates trained at once, one per device: cpu:R (R at a time, cores shared), gpu:0,1 or gpu:all");
  return {sub, [o] {
            TrainConfig& base = o->base;
            SearchOptions& opt = o->opt;
            base.epochs = parse_number<int>("--epochs", o->epochs, "a positive integer");
            base.steps_per_epoch = parse_number<int64_t>("--steps", o->steps, "an integer >= 0");
            base.test_limit = parse_number<int64_t>("--test-limit", o->test_limit, "an integer >= 0");
            base.threads = parse_number<int>("--threads", o->threads, "an integer >= 0");
            base.seed = parse_number<uint64_t>("--seed", o->seed, "an unsigned integer");
            opt.seed = base.seed;
            opt.budget = parse_number<int64_t>("--budget", o->budget, "an integer >= 0");
            opt.population = parse_number<int>("--population", o->population, "an integer >= 2");
            opt.generations = parse_number<int>("--generations", o->generations, "an integer >= 1");
            opt.tournament = parse_number<int>("--tournament", o->tournament, "a positive integer");
            opt.mutation = parse_number<double>("--mutation", o->mutation, "a probability in [0, 1]");
            validate(base);
            const std::vector<SearchSlot> slots = search_slots(opt.devices, base);
            check_writable(o->out, "--out");
            const SearchSpace space = read_search_space(o->space);
            const Dataset data = load_dataset(base.dataset, base.seed);
            fmt::print("cnnbench search: {} over {} ({} genes) on {}, {} epoch(s) per candidate, backend {}, {} at a time "
                       "({})\n",
                       opt.method, space.source, space.genes.size(), data.name, base.epochs, base.backend, slots.size(),
                       opt.devices.empty() ? slots.front().devices : opt.devices);
            fmt::print("{:>4} {:>4} {:>9} {:>9}  {}\n", "gen", "#", "test_acc", "train_s", "genome");
            const std::vector<Candidate> all = run_search(space, opt, base, data, [&](const Candidate& c) {
              nlohmann::json line;
              if (c.status == "ok") {
                line = run_record(c.result, data);
              } else {
                // Enough of the configuration for `cnnbench report` to place the line.
                TrainConfig cfg = base;
                try {
                  cfg = candidate_config(space, c.genome, base, data.classes);
                } catch (const Error&) {
                }
                line = {{"schema", kRunSchema},
                        {"status", c.status},
                        {"reason", c.error},
                        {"config",
                         {{"model", cfg.model}, {"dataset", cfg.dataset}, {"backend", cfg.backend},
                          {"strategy", cfg.strategy}, {"batch", cfg.batch}}}};
              }
              line["search"] = {{"method", opt.method}, {"space", space.source}, {"seed", opt.seed},
                                {"devices", opt.devices}, {"generation", c.generation}, {"candidate", c.index},
                                {"genome", genome_json(space, c.genome)},
                                {"fitness", {{"test_accuracy", c.accuracy}, {"train_seconds", c.train_seconds}}}};
              append_line_durable(o->out, line.dump());
              fmt::print("{:>4} {:>4} {:>8.2f}% {:>9.2f}  {}{}\n", c.generation, c.index, 100 * c.accuracy,
                         c.train_seconds, genome_json(space, c.genome).dump(),
                         c.status == "ok" ? "" : fmt::format(" {}: {}", c.status == "diverged" ? "DIVERGED" : "FAILED", c.error));
              std::fflush(stdout);
            });
            const auto best = std::min_element(all.begin(), all.end(), fitter);
            if (best == all.end() || best->status != "ok") fail("search: no candidate trained successfully");
            fmt::print("best: {:.2f}% test accuracy in {:.2f} s: {} (model {})\nwrote {} candidates to {}\n",
                       100 * best->accuracy, best->train_seconds, genome_json(space, best->genome).dump(),
                       best->result.model_spec, all.size(), o->out);
            return 0;
          }};
}

}  // namespace cnnb::cli
