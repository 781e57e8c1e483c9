#include <fmt/format.h>

#include "bench/cli_numbers.h"
#include "bench/commands.h"
#include "bench/harness/trainer.h"
#include "core/error.h"
#include "core/safetensors.h"

namespace cnnb::cli {

Command add_eval(CLI::App& app) {
  CLI::App* sub = app.add_subcommand("eval", "Test accuracy and loss of saved weights (safetensors)");
  sub->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  struct Opts {
    EvalConfig cfg;
    std::string dataset = "fashion-mnist", batch = default_text(cfg.batch), threads = default_text(cfg.threads),
                test_limit = default_text(cfg.test_limit), seed = "42";
  };
  auto o = std::make_shared<Opts>();
  sub->add_option("--model", o->cfg.model, "Preset (simple, tfcifar) or spec string the weights were trained with")
      ->capture_default_str();
  sub->add_option("--weights", o->cfg.weights, "Weights file (.safetensors, PyTorch names)")->required();
  sub->add_option("--dataset", o->dataset, "Dataset whose test split to evaluate on")->capture_default_str();
  sub->add_option("--backend", o->cfg.backend, "Compute backend")->capture_default_str();
  sub->add_option("--batch", o->batch, "Images per forward pass")->capture_default_str();
  sub->add_option("--threads", o->threads, "CPU threads (0 = all cores)")->capture_default_str();
  sub->add_option("--test-limit", o->test_limit, "Evaluate the first N test images only (0 = all)")->capture_default_str();
  sub->add_option("--seed", o->seed, "Seed of a synthetic dataset")->capture_default_str();
  return {sub, [o] {
            EvalConfig& cfg = o->cfg;
            cfg.batch = parse_number<int>("--batch", o->batch, "an integer >= 0", 0);
            cfg.threads = parse_number<int>("--threads", o->threads, "an integer >= 0", 0);
            cfg.test_limit = parse_number<int64_t>("--test-limit", o->test_limit, "an integer >= 0", 0);
            if (cfg.batch == 0) fail_input("--batch must be a positive integer, got 0");
            parse_model(cfg.model);
            read_safetensors(cfg.weights);  // a bad file fails before the dataset is loaded
            const Dataset data = load_dataset(o->dataset, parse_number<uint64_t>("--seed", o->seed, "an integer >= 0"));
            const EvalResult r = evaluate_weights(cfg, data);
            fmt::print("cnnbench eval: {} ({}) on {} test images of {}, backend {}\n", cfg.weights, r.model_spec,
                       r.images, data.name, cfg.backend);
            fmt::print("test_loss {:.6f}\ntest_accuracy {:.4f}% ({:.2f} s)\n", r.loss, 100 * r.accuracy, r.seconds);
            return 0;
          }};
}

}  // namespace cnnb::cli
