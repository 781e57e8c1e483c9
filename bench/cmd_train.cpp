#include <unistd.h>

#include <cstdio>

#include <fmt/format.h>

#include "bench/cli_numbers.h"
#include "bench/commands.h"
#include "bench/harness/run_record.h"
#include "bench/harness/tensorboard.h"
#include "bench/harness/trainer.h"
#include "bench/harness/watchdog.h"
#include "bench/strategy_flags.h"
#include "core/error.h"
#include "core/files.h"
#include "core/model_spec.h"
#include "core/safetensors.h"

namespace cnnb::cli {

namespace {

// Redraws one line in place on a terminal; on a pipe or file, prints a plain line every tenth of an epoch.
class ProgressPrinter {
 public:
  ProgressPrinter() : tty_(::isatty(STDERR_FILENO) == 1) {}
  void operator()(const Progress& p) {
    if (p.evaluating) {
      if (tty_) fmt::print(stderr, "\r\033[Kepoch {}/{}: evaluating on the test set...", p.epoch, p.epochs);
      return;
    }
    const std::string line =
        fmt::format("epoch {}/{} step {}/{} ({:3.0f}%) loss {:.4f} acc {:.2f}% {:.0f} img/s eta {:.0f}s", p.epoch,
                    p.epochs, p.step, p.steps, 100.0 * double(p.step) / double(p.steps), p.loss, 100 * p.accuracy,
                    p.images_per_second, p.eta);
    if (tty_) {
      fmt::print(stderr, "\r\033[K{}", line);
      std::fflush(stderr);
    } else {
      const int tenth = int(10 * p.step / p.steps);
      if (p.epoch != last_epoch_) last_tenth_ = 0, last_epoch_ = p.epoch;
      if (tenth > last_tenth_) {
        last_tenth_ = tenth;
        fmt::print(stderr, "{}\n", line);
      }
    }
  }
  void end_line() {
    if (tty_) fmt::print(stderr, "\r\033[K");
  }

 private:
  bool tty_;
  int last_epoch_ = 0, last_tenth_ = 0;
};

}  // namespace

Command add_train(CLI::App& app) {
  CLI::App* sub = app.add_subcommand("train", "Train one configuration and print a per-epoch table");
  // A flag given twice takes its last value, as in most CLIs (scripts append overrides).
  sub->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  // The flags are read as text, so that a bad number gets cnnbench's message; their defaults are
  // TrainConfig's own, written out for --help.
  struct Opts {
    TrainConfig cfg;
    std::string optimizer = std::string(optimizer_kind_name(cfg.optimizer.kind)), lr = default_text(cfg.optimizer.lr),
                momentum = default_text(cfg.optimizer.momentum), weight_decay = default_text(cfg.optimizer.weight_decay),
                batch = default_text(cfg.batch), epochs = default_text(cfg.epochs), steps = default_text(cfg.steps_per_epoch),
                seed = default_text(cfg.seed), threads = default_text(cfg.threads), warmup = default_text(cfg.warmup_steps),
                test_limit = default_text(cfg.test_limit), comm_timeout = default_text(cfg.comm_timeout), out, checkpoint_every = default_text(cfg.checkpoint_every),
                prefetch_depth = default_text(cfg.prefetch_depth), comm = "auto",
                pipeline = std::string(pipeline_name(cfg.pipeline)), timing = std::string(timing_mode_name(cfg.timing));
    std::vector<std::string> kernels;
    StrategyFlags strategy_flags;
  };
  auto o = std::make_shared<Opts>();
  sub->add_option("--model", o->cfg.model, "Preset (simple, tfcifar) or spec string")->capture_default_str();
  sub->add_option("--dataset", o->cfg.dataset, "fashion-mnist, mnist:DIR, cifar10:DIR, synthetic:n=N,shape=CxHxW,classes=K")
      ->capture_default_str();
  sub->add_option("--backend", o->cfg.backend, "Compute backend (see `cnnbench list`)")->capture_default_str();
  sub->add_option("--kernel", o->kernels, "Override one op's variant: op=variant or op=family/variant (repeatable)");
  sub->add_option("--optimizer", o->optimizer, "sgd or adam")->capture_default_str();
  sub->add_option("--lr", o->lr, "Learning rate")->capture_default_str();
  sub->add_option("--momentum", o->momentum, "SGD momentum")->capture_default_str();
  sub->add_option("--weight-decay", o->weight_decay, "L2 weight decay")->capture_default_str();
  sub->add_option("--batch", o->batch, "Global batch size")->capture_default_str();
  sub->add_option("--epochs", o->epochs, "Epochs")->capture_default_str();
  sub->add_option("--steps", o->steps, "Steps per epoch (0 = a full pass over the training set)")->capture_default_str();
  sub->add_option("--seed", o->seed, "Seed of initialisation and data order")->capture_default_str();
  sub->add_option("--threads", o->threads, "CPU threads (0 = all cores; cpu-ref always uses 1)")->capture_default_str();
  sub->add_option("--warmup", o->warmup, "Steps excluded from the step-time statistics")->capture_default_str();
  sub->add_option("--test-limit", o->test_limit, "Evaluate on the first N test images only (0 = all)")
      ->capture_default_str();
  sub->add_option("--strategy", o->cfg.strategy, "single, allreduce, tower, param-avg or independent (see `cnnbench list`)")
      ->capture_default_str();
  sub->add_option("--devices", o->cfg.devices,
                  "Replica devices of each process: cpu:R, gpu:0,1, gpu:all or gpu:local (default: one of the backend's kind)");
  sub->add_option("--comm", o->comm, "Communicator: auto, threads, mpi or nccl")->capture_default_str();
  o->strategy_flags.add_to(*sub, StrategyFlags::Help::default_shown_by_cli11);
  sub->add_option("--comm-timeout", o->comm_timeout, "Seconds one collective may wait for the other processes")
      ->capture_default_str();
  sub->add_option("--pipeline", o->pipeline,
                  "Data pipeline: direct (each step builds and copies its batch) or prefetch (a thread per replica "
                  "builds and copies the next batches while steps compute)")
      ->capture_default_str();
  sub->add_option("--prefetch-depth", o->prefetch_depth, "prefetch: batches each replica's loader may hold ready")
      ->capture_default_str();
  sub->add_option("--out", o->out, "Write the run record (JSON) to this file");
  sub->add_option("--save", o->cfg.save_weights, "Write the trained weights (PyTorch names) to this .safetensors file");
  sub->add_option("--init", o->cfg.init_weights, "Start from these .safetensors weights (names, shapes, dtypes checked)");
  sub->add_option("--checkpoint-every", o->checkpoint_every, "Write a checkpoint every N global steps (needs --checkpoint-dir)")
      ->capture_default_str();
  sub->add_option("--checkpoint-dir", o->cfg.checkpoint_dir, "Directory of the checkpoints (the newest two are kept)");
  sub->add_option("--resume", o->cfg.resume, "Continue from a checkpoint file, or the newest in a directory");
  sub->add_option("--tensorboard", o->cfg.tensorboard_dir, "Write TensorBoard event files to DIR/<run name>/");
  sub->add_option("--run-name", o->cfg.run_name, "TensorBoard run directory name (default: made from the configuration)");
  sub->add_flag("--check-numerics", o->cfg.check_numerics,
               "Also check every layer's output (and GPU gradients) for NaN/Inf after each step, naming the first bad layer");
  sub->add_option("--timing", o->timing,
                  "How step phases are timed: events (phase marks on the device's stream; one sync after the outputs' "
                  "copy, one after the update) or sync (a sync at the end of every phase); the same on CPU replicas, "
                  "whose ops are synchronous")
      ->capture_default_str();

  return {sub, [o, sub] {
            TrainConfig& cfg = o->cfg;
            cfg.optimizer.kind = parse_optimizer_kind(o->optimizer);
            cfg.optimizer.lr = parse_number<double>("--lr", o->lr, "a positive number");
            cfg.optimizer.momentum = parse_number<double>("--momentum", o->momentum, "a number in [0, 1)");
            cfg.optimizer.weight_decay = parse_number<double>("--weight-decay", o->weight_decay, "a number >= 0");
            cfg.batch = parse_number<int>("--batch", o->batch, "a positive integer");
            cfg.epochs = parse_number<int>("--epochs", o->epochs, "a positive integer");
            cfg.steps_per_epoch = parse_number<int64_t>("--steps", o->steps, "an integer >= 0");
            cfg.seed = parse_number<uint64_t>("--seed", o->seed, "an unsigned integer");
            cfg.threads = parse_number<int>("--threads", o->threads, "an integer >= 0");
            cfg.warmup_steps = parse_number<int>("--warmup", o->warmup, "an integer >= 0");
            cfg.test_limit = parse_number<int64_t>("--test-limit", o->test_limit, "an integer >= 0");
            cfg.strategy_options = o->strategy_flags.given(*sub);
            cfg.comm_timeout = parse_number<double>("--comm-timeout", o->comm_timeout, "a positive number of seconds");
            cfg.checkpoint_every = parse_number<int64_t>("--checkpoint-every", o->checkpoint_every, "an integer >= 0");
            cfg.prefetch_depth = parse_number<int>("--prefetch-depth", o->prefetch_depth, "a positive integer");
            cfg.timing = parse_timing_mode(o->timing, "--timing");
            cfg.pipeline = parse_pipeline(o->pipeline, "--pipeline");
            if (o->comm != "auto") cfg.comm = parse_comm(o->comm);
            for (const auto& k : o->kernels) {
              const auto eq = k.find('=');
              if (eq == std::string::npos || eq == 0 || eq + 1 == k.size())
                fail_input("--kernel {}: expected op=variant, e.g. conv_fwd=im2col_gemm", k);
              cfg.kernels[k.substr(0, eq)] = k.substr(eq + 1);
            }
            validate(cfg);
            // Under mpirun every rank runs this; rank 0 alone prints and writes.
            const auto processes = open_process_group(cfg);
            const bool root = processes->root();
            // Everything that can be refused is checked before the data is loaded and training starts.
            if (root && !o->out.empty()) check_writable(o->out, "--out");
            if (root && !cfg.save_weights.empty()) check_writable(cfg.save_weights, "--save");
            if (root && !cfg.tensorboard_dir.empty()) check_tensorboard_dir(cfg.tensorboard_dir);
            if (!cfg.init_weights.empty()) read_safetensors(cfg.init_weights);
            resolve_backend(cfg.backend, cfg.kernels);
            const ModelSpec spec = parse_model(cfg.model);
            const ParallelPlan pp = plan_parallel(cfg, *processes);

            const Dataset data = load_dataset(cfg.dataset, cfg.seed);
            plan_model(spec, data.shape, data.classes);
            if (root) {
              fmt::print("cnnbench train: model {} on {} ({} train / {} test, {}), backend {}, {}, batch {}", cfg.model,
                         data.name, data.train.count(), data.test.count(), data.shape.str(), cfg.backend,
                         cfg.optimizer.str(), cfg.batch);
              if (cfg.strategy != "single" || pp.world > 1)
                fmt::print(", strategy {} on {} replicas ({}{}, comm {})", cfg.strategy, pp.world, pp.devices.str(),
                           processes->size() > 1 ? fmt::format(" x {} processes", processes->size()) : "",
                           comm_name(pp.comm));
              fmt::print("\n");
              std::fflush(stdout);
            }

            ProgressPrinter printer;
            TrainResult r;
            try {
              r = train(cfg, data, [&](const Progress& p) { printer(p); }, *processes);
            } catch (const TrainingDiverged& e) {
              // An outcome, not a crash: every rank stopped at the same step; the record keeps what finished.
              if (!root) return kDivergedExitCode;
              printer.end_line();
              fmt::print(stderr, "cnnbench: error: {}\n", e.what());
              if (!o->out.empty()) {
                write_file_atomic(o->out, diverged_record(e, data).dump(2) + "\n");
                fmt::print("wrote {} (status diverged)\n", o->out);
              }
              return kDivergedExitCode;
            }
            if (!root) return 0;
            printer.end_line();
            fmt::print("{:>5} {:>10} {:>9} {:>10} {:>9} {:>9} {:>10}\n", "epoch", "train_loss", "train_acc", "test_loss",
                       "test_acc", "seconds", "images/s");
            for (const auto& e : r.epochs)
              fmt::print("{:>5} {:>10.4f} {:>8.2f}% {:>10.4f} {:>8.2f}% {:>9.2f} {:>10.0f}\n", e.epoch, e.train_loss,
                         100 * e.train_accuracy, e.test_loss, 100 * e.test_accuracy, e.seconds, e.images_per_second);
            for (const auto& f : r.fallbacks) fmt::print("note: {}\n", f);
            if (!r.resumed_from.empty()) fmt::print("resumed from {} (step {})\n", r.resumed_from, r.resumed_at_step);
            if (!r.checkpoints.empty())
              fmt::print("wrote {} checkpoints to {} (last {})\n", r.checkpoints.size(), cfg.checkpoint_dir, r.checkpoints.back());
            if (!cfg.save_weights.empty()) fmt::print("wrote {}\n", cfg.save_weights);
            if (!r.tensorboard_file.empty()) fmt::print("wrote {}\n", r.tensorboard_file);
            if (!o->out.empty()) {
              write_file_atomic(o->out, run_record(r, data).dump(2) + "\n");
              fmt::print("wrote {}\n", o->out);
            }
            return 0;
          }};
}

}  // namespace cnnb::cli
