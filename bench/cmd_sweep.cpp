// `cnnbench sweep`: a grid of training runs, appended to a JSON Lines file, resumable.
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "bench/cli_numbers.h"
#include "bench/commands.h"
#include "bench/harness/sweep.h"
#include "bench/strategy_flags.h"
#include "core/error.h"
#include "core/files.h"
#include "reports/results.h"
#include "strategies/comm/process_group.h"

namespace cnnb::cli {

namespace {

namespace fs = std::filesystem;

std::string duration(double s) {
  if (s < 0) return "?";
  const long t = long(s + 0.5);
  if (t < 60) return fmt::format("{}s", t);
  if (t < 3600) return fmt::format("{}m{:02}s", t / 60, t % 60);
  return fmt::format("{}h{:02}m", t / 3600, t % 3600 / 60);
}

// The line cut to the terminal's width (counted in characters, not UTF-8 bytes): a wrapped line cannot be
// redrawn in place.
std::string fit_width(const std::string& line) {
  winsize w{};
  if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &w) != 0 || w.ws_col < 10) return line;
  size_t chars = 0;
  for (size_t i = 0; i < line.size(); ++i) {
    if ((static_cast<unsigned char>(line[i]) & 0xC0) == 0x80) continue;
    if (++chars == w.ws_col) return line.substr(0, i);
  }
  return line;
}

std::string where_runs(const SweepRun& r) { return fmt::format("{} on {}", r.cfg.model, short_dataset(r.cfg.dataset)); }

// Run i of N, what runs now, elapsed and time left: one line redrawn on a terminal, plain lines otherwise.
class SweepPrinter {
 public:
  SweepPrinter() : tty_(::isatty(STDERR_FILENO) == 1) {}

  void operator()(const SweepEvent& e) {
    switch (e.kind) {
      case SweepEvent::Kind::plan:
        clear();
        fmt::print(stderr, "{}\n", e.detail);
        break;
      case SweepEvent::Kind::start:
        if (!tty_)
          fmt::print(stderr, "[{}/{}] {} ({}){} · elapsed {}{}\n", e.index, e.total, e.run->label(), where_runs(*e.run),
                     e.repetitions > 1 ? fmt::format(" rep {}/{}", e.repetition, e.repetitions) : "",
                     duration(e.elapsed), e.eta >= 0 ? fmt::format(", ~{} left", duration(e.eta)) : "");
        else
          redraw(e, "starting");
        break;
      case SweepEvent::Kind::step:
        if (tty_) {
          const Progress& p = *e.progress;
          redraw(e, p.evaluating ? fmt::format("epoch {}/{} evaluating", p.epoch, p.epochs)
                                 : fmt::format("epoch {}/{} step {}/{} loss {:.3f} {:.0f} img/s", p.epoch, p.epochs,
                                               p.step, p.steps, p.loss, p.images_per_second));
        }
        break;
      case SweepEvent::Kind::finish: {
        clear();
        const std::string num = e.index > 0 ? fmt::format("[{}/{}]", e.index, e.total) : "[-]";
        if (e.status == "ok")
          fmt::print(stderr, "{} ok      {} ({}): {} · elapsed {}{}\n", num, e.run->label(), where_runs(*e.run), e.detail,
                     duration(e.elapsed), e.eta >= 0 ? fmt::format(", ~{} left", duration(e.eta)) : "");
        else
          fmt::print(stderr, "{} {:<7} {} ({}){}{}\n", num, e.status, e.run->label(), where_runs(*e.run),
                     e.detail.empty() ? "" : ": ", e.detail);
        break;
      }
    }
    std::fflush(stderr);
  }

  void clear() {
    if (tty_ && drawn_) fmt::print(stderr, "\r\033[K");
    drawn_ = false;
  }

 private:
  void redraw(const SweepEvent& e, const std::string& what) {
    std::string line = fmt::format("[{}/{}] {}{} · {} · elapsed {}{}", e.index, e.total, e.run->label(),
                                   e.repetitions > 1 ? fmt::format(" rep {}/{}", e.repetition, e.repetitions) : "", what,
                                   duration(e.elapsed), e.eta >= 0 ? fmt::format(" · ~{} left", duration(e.eta)) : "");
    fmt::print(stderr, "\r\033[K{}", fit_width(line));
    drawn_ = true;
  }

  bool tty_;
  bool drawn_ = false;
};

// --out: created with its directory when missing; refused at once when it cannot be written.
void prepare_out(const fs::path& out) {
  const fs::path dir = out.parent_path();
  std::error_code ec;
  if (!dir.empty() && !fs::exists(dir, ec)) {
    fs::create_directories(dir, ec);
    if (ec) fail_input("--out {}: cannot create directory {}: {}", out.string(), dir.string(), ec.message());
  }
  check_writable(out, "--out");
  if (fs::exists(out, ec) && ::access(out.c_str(), W_OK) != 0)
    fail_input("--out {}: the file is not writable ({})", out.string(), std::strerror(errno));
}

}  // namespace

Command add_sweep(CLI::App& app) {
  CLI::App* sub = app.add_subcommand(
      "sweep",
      "Run a grid of configurations (models x datasets x backends x strategies x devices x batches x pipelines), "
      "one JSON line per run, resumable");
  sub->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  struct Opts {
    std::string config, out, name, epochs, steps, warmup, repetitions, test_limit, seed, threads, optimizer, lr, momentum,
        weight_decay, baseline_steps, baseline_epochs;
    std::vector<std::string> models, datasets, backends, strategies, devices, batches, pipelines, scaling, kernels;
    bool retry_failed = false, dry_run = false, fail_on_error = false;
    StrategyFlags strategy_flags;
  };
  auto o = std::make_shared<Opts>();
  const SweepSpec d;  // the defaults, shown in --help
  auto list = [&](const char* flag, std::vector<std::string>& v, const std::string& help, const auto& dflt) {
    sub->add_option(flag, v, fmt::format("{} (default {})", help, fmt::join(dflt, ",")))
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
        ->expected(1);
  };
  auto scalar = [&](const char* flag, std::string& v, const std::string& help, const auto& dflt) {
    sub->add_option(flag, v, fmt::format("{} (default {})", help, dflt));
  };
  sub->add_option("--config", o->config, "Sweep file (TOML; see sweeps/*.toml); the flags below override its keys");
  list("--models", o->models, "Models: presets (simple,tfcifar) or spec strings (repeat the flag for several specs)",
       d.models);
  list("--datasets", o->datasets, "Datasets, e.g. fashion-mnist,synthetic:n=2048,shape=1x28x28,classes=10", d.datasets);
  list("--backends", o->backends, "Backends (the ones this machine cannot run are recorded as skipped)", d.backends);
  list("--strategies", o->strategies, "Strategies: single,allreduce,tower,param-avg,independent", d.strategies);
  list("--devices", o->devices, "Replica counts, e.g. 1,2,4 or all (CPU slots for CPU backends, GPUs otherwise)",
       d.devices);
  list("--batches", o->batches, "Batch sizes (per device with --scaling weak, global with strong)", d.batches);
  list("--pipelines", o->pipelines, "Data pipelines: direct,prefetch", d.pipelines);
  list("--scaling", o->scaling, "weak (batch per device) and/or strong (global batch)", d.scaling);
  sub->add_option("--kernels", o->kernels,
                  "A kernel override set 'op=variant;op=variant' (repeatable; '' = the backends' own recipes)")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
      ->expected(1);
  scalar("--epochs", o->epochs, "Epochs per run", d.epochs);
  scalar("--steps", o->steps, "Steps per epoch (0 = a full pass)", d.steps);
  scalar("--warmup", o->warmup, "Steps excluded from the step-time statistics", d.warmup);
  scalar("--repetitions", o->repetitions, "Runs of each configuration (median and spread are kept)", d.repetitions);
  scalar("--test-limit", o->test_limit, "Evaluate on the first N test images only (0 = all)", d.test_limit);
  scalar("--seed", o->seed, "Seed", d.seed);
  scalar("--threads", o->threads, "CPU threads per replica (0 = share all cores)", d.threads);
  scalar("--optimizer", o->optimizer, "sgd or adam", "adam");
  scalar("--lr", o->lr, "Learning rate", d.optimizer.lr);
  scalar("--momentum", o->momentum, "SGD momentum", d.optimizer.momentum);
  scalar("--weight-decay", o->weight_decay, "L2 weight decay", d.optimizer.weight_decay);
  o->strategy_flags.add_to(*sub, StrategyFlags::Help::default_in_text);
  scalar("--baseline-steps", o->baseline_steps, "Steps per epoch of the cpu-ref baseline (0 = as the grid)",
         d.baseline_steps);
  scalar("--baseline-epochs", o->baseline_epochs, "Epochs of the cpu-ref baseline (0 = as the grid)", d.baseline_epochs);
  sub->add_option("--name", o->name, "Sweep name recorded on every line (default: the TOML file's name)");
  sub->add_option("--out", o->out, "Results file, JSON Lines (default: the TOML's out, or results/<name>.jsonl)");
  sub->add_flag("--retry-failed", o->retry_failed, "Run again the configurations whose last line says failed or diverged");
  sub->add_flag("--dry-run", o->dry_run, "Print the grid and what would run, run nothing");
  sub->add_flag("--fail-on-error", o->fail_on_error, "Exit with status 1 when a run failed or diverged");

  return {sub, [o, sub] {
            if (launched_by_mpi())
              fail_input("cnnbench sweep runs in one process; under mpirun, run `cnnbench train ... --out FILE` per "
                         "configuration and give the files to `cnnbench report`");
            SweepSpec spec;
            if (!o->config.empty()) spec = parse_sweep_toml(o->config);
            auto joined = [](const std::vector<std::string>& v, auto split) {
              std::vector<std::string> out;
              for (const auto& s : v)
                for (auto& x : split(s)) out.push_back(std::move(x));
              return out;
            };
            if (!o->models.empty()) spec.models = joined(o->models, split_models);
            if (!o->datasets.empty()) spec.datasets = joined(o->datasets, split_datasets);
            if (!o->backends.empty()) spec.backends = joined(o->backends, split_list);
            if (!o->strategies.empty()) spec.strategies = joined(o->strategies, split_list);
            if (!o->devices.empty()) spec.devices = joined(o->devices, split_list);
            if (!o->pipelines.empty()) spec.pipelines = joined(o->pipelines, split_list);
            if (!o->scaling.empty()) spec.scaling = joined(o->scaling, split_list);
            if (sub->count("--kernels") > 0) spec.kernels = o->kernels;
            if (!o->batches.empty()) {
              spec.batches.clear();
              for (const auto& b : joined(o->batches, split_list))
                spec.batches.push_back(parse_number<int>("--batches", b, "a list of positive integers"));
            }
            if (!o->epochs.empty()) spec.epochs = parse_number<int>("--epochs", o->epochs, "a positive integer");
            if (!o->steps.empty()) spec.steps = parse_number<int64_t>("--steps", o->steps, "an integer >= 0");
            if (!o->warmup.empty()) spec.warmup = parse_number<int>("--warmup", o->warmup, "an integer >= 0");
            if (!o->repetitions.empty())
              spec.repetitions = parse_number<int>("--repetitions", o->repetitions, "an integer in [1, 100]");
            if (!o->test_limit.empty())
              spec.test_limit = parse_number<int64_t>("--test-limit", o->test_limit, "an integer >= 0");
            if (!o->seed.empty()) spec.seed = parse_number<uint64_t>("--seed", o->seed, "an unsigned integer");
            if (!o->threads.empty()) spec.threads = parse_number<int>("--threads", o->threads, "an integer >= 0");
            if (!o->optimizer.empty()) spec.optimizer.kind = parse_optimizer_kind(o->optimizer);
            if (!o->lr.empty()) spec.optimizer.lr = parse_number<double>("--lr", o->lr, "a positive number");
            if (!o->momentum.empty())
              spec.optimizer.momentum = parse_number<double>("--momentum", o->momentum, "a number in [0, 1)");
            if (!o->weight_decay.empty())
              spec.optimizer.weight_decay = parse_number<double>("--weight-decay", o->weight_decay, "a number >= 0");
            const StrategyOptions flags = o->strategy_flags.given(*sub);
            for (const auto& [key, value] : flags.all_given()) spec.strategy_options.set(key, value);
            if (!o->baseline_steps.empty())
              spec.baseline_steps = parse_number<int64_t>("--baseline-steps", o->baseline_steps, "an integer >= 0");
            if (!o->baseline_epochs.empty())
              spec.baseline_epochs = parse_number<int>("--baseline-epochs", o->baseline_epochs, "an integer >= 0");
            if (!o->name.empty()) spec.name = o->name;
            if (spec.name.empty()) spec.name = "sweep";

            const SweepPlan plan = expand_sweep(spec, SweepHost::detect(spec.backends));
            SweepOptions opt;
            opt.out = !o->out.empty() ? fs::path(o->out) : !spec.out.empty() ? fs::path(spec.out)
                                                                              : fs::path("results") / (spec.name + ".jsonl");
            opt.retry_failed = o->retry_failed;
            opt.dry_run = o->dry_run;
            if (!opt.dry_run) prepare_out(opt.out);

            fmt::print("cnnbench sweep '{}': {} configurations{} -> {}\n", spec.name, plan.runs.size(),
                       plan.dropped > 0 ? fmt::format(" ({} combinations of single with more than one device left out)",
                                                      plan.dropped)
                                        : "",
                       opt.out.string());
            std::fflush(stdout);
            SweepPrinter printer;
            const SweepSummary s = run_sweep(plan, spec, opt, [&](const SweepEvent& e) { printer(e); });
            printer.clear();
            if (opt.dry_run) return 0;
            if (!s.stopped.empty()) {
              fmt::print("sweep stopped: {} ok, {} failed, {} diverged, {} skipped, {} already in the file, {} not run. "
                         "Results: {}\n",
                         s.ok, s.failed, s.diverged, s.skipped, s.already_done, s.not_run, opt.out.string());
              std::fflush(stdout);
              fmt::print(stderr, "cnnbench: error: {}\n", s.stopped);
              return 1;
            }
            fmt::print("sweep done: {} ok, {} failed, {} diverged, {} skipped, {} already in the file. Results: {}\n", s.ok,
                       s.failed, s.diverged, s.skipped, s.already_done, opt.out.string());
            fmt::print("next: cnnbench report {} --out reports/{}\n", opt.out.string(), spec.name);
            return o->fail_on_error && s.failed + s.diverged > 0 ? 1 : 0;
          }};
}

}  // namespace cnnb::cli
