#include "bench/harness/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <thread>

#include <fmt/format.h>

#include "core/error.h"
#include "core/network.h"

namespace cnnb {

namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

int default_threads() { return std::max(1u, std::thread::hardware_concurrency()); }

// Runs the test set through the network in batches; returns {mean loss, accuracy}.
std::pair<double, double> evaluate(Network<float>& net, const Dataset& data, int64_t limit, std::vector<float>& x,
                                   std::vector<int32_t>& y) {
  const Split& test = data.test;
  const int64_t n_total = limit > 0 ? std::min(limit, test.count()) : test.count();
  std::vector<int64_t> idx(size_t(net.max_batch()));
  double loss_sum = 0;
  int64_t correct = 0;
  for (int64_t start = 0; start < n_total; start += net.max_batch()) {
    const int n = int(std::min<int64_t>(net.max_batch(), n_total - start));
    for (int i = 0; i < n; ++i) idx[size_t(i)] = start + i;
    build_batch(test, data.shape, std::span(idx.data(), size_t(n)), x.data(), y.data());
    net.device().upload(net.input(), x.data(), size_t(n) * size_t(data.shape.size()) * sizeof(float));
    net.device().upload(net.labels(), y.data(), size_t(n) * sizeof(int32_t));
    net.forward(n, true);
    loss_sum += net.mean_loss(n) * n;
    const std::vector<float> logits = net.logits(n);
    for (int i = 0; i < n; ++i) {
      const float* row = logits.data() + size_t(i) * size_t(data.classes);
      const int pred = int(std::max_element(row, row + data.classes) - row);
      correct += pred == y[size_t(i)];
    }
  }
  return {loss_sum / double(n_total), double(correct) / double(n_total)};
}

}  // namespace

void validate(const TrainConfig& cfg) {
  if (cfg.batch <= 0) fail_input("--batch must be a positive integer, got {}", cfg.batch);
  if (cfg.epochs <= 0) fail_input("--epochs must be a positive integer, got {}", cfg.epochs);
  if (cfg.steps_per_epoch < 0) fail_input("--steps must be 0 (a full epoch) or positive, got {}", cfg.steps_per_epoch);
  if (!(cfg.optimizer.lr > 0) || !std::isfinite(cfg.optimizer.lr))
    fail_input("--lr must be a positive number, got {}", cfg.optimizer.lr);
  if (!(cfg.optimizer.momentum >= 0 && cfg.optimizer.momentum < 1))
    fail_input("--momentum must be in [0, 1), got {}", cfg.optimizer.momentum);
  if (!(cfg.optimizer.weight_decay >= 0)) fail_input("--weight-decay must be >= 0, got {}", cfg.optimizer.weight_decay);
  if (cfg.threads < 0) fail_input("--threads must be 0 (all cores) or positive, got {}", cfg.threads);
  if (cfg.warmup_steps < 0) fail_input("--warmup must be >= 0, got {}", cfg.warmup_steps);
  if (cfg.test_limit < 0) fail_input("--test-limit must be >= 0, got {}", cfg.test_limit);
}

TrainResult train(const TrainConfig& cfg, const Dataset& data, const ProgressFn& progress) {
  validate(cfg);
  const ModelPlan plan = plan_model(parse_model(cfg.model), data.shape, data.classes);
  const OpSet<float> ops = resolve_backend(cfg.backend, cfg.kernels);
  if (backend_device(cfg.backend) != DeviceKind::cpu)
    fail_input("backend {} runs on a GPU; `cnnbench train` drives CPU replicas only so far", cfg.backend);
  if (data.train.count() < cfg.batch)
    fail_input("--batch {} is larger than the training set of {} ({} images)", cfg.batch, data.name, data.train.count());

  TrainResult r;
  r.config = cfg;
  r.model_spec = plan.spec.str();
  r.param_count = plan.param_count;
  r.forward_macs_per_image = plan.forward_macs();
  for (const auto& l : plan.layers)
    r.layers.push_back(fmt::format("{} {} {} -> {}", l.name, l.spec.str(), l.in.str(), l.out.str()));
  for (int i = 0; i < kOpCount; ++i) r.ops.emplace_back(op_name(Op(i)), ops.chosen[size_t(i)]);
  r.fallbacks = ops.fallbacks;
  r.threads = cfg.backend == "cpu-ref" ? 1 : (cfg.threads > 0 ? cfg.threads : default_threads());

  auto dev = make_cpu_device(0, r.threads);
  Network<float> net(plan, ops, *dev, cfg.batch);
  const std::vector<float> init = init_params(plan, cfg.seed);
  net.device().upload(net.params(), init.data(), init.size() * sizeof(float));
  Optimizer<float> opt(cfg.optimizer, *dev, plan.param_count);

  const int64_t full_steps = data.train.count() / cfg.batch;
  const int64_t steps = cfg.steps_per_epoch > 0 ? std::min(cfg.steps_per_epoch, full_steps) : full_steps;
  const size_t image = size_t(data.shape.size());
  std::vector<float> x(size_t(cfg.batch) * image);
  std::vector<int32_t> y(size_t(cfg.batch));
  const auto t_start = Clock::now();

  for (int epoch = 1; epoch <= cfg.epochs; ++epoch) {
    const std::vector<int64_t> order = epoch_permutation(data.train.count(), cfg.seed, epoch);
    EpochStats es;
    es.epoch = epoch;
    es.steps = steps;
    double loss_sum = 0;
    int64_t correct = 0;
    double epoch_seconds = 0;
    auto last_report = Clock::now() - std::chrono::seconds(1);
    for (int64_t s = 0; s < steps; ++s) {
      StepTimes st;
      auto t = Clock::now();
      build_batch(data.train, data.shape, std::span(order.data() + s * cfg.batch, size_t(cfg.batch)), x.data(), y.data());
      st.data = since(t);
      t = Clock::now();
      net.device().upload(net.input(), x.data(), x.size() * sizeof(float));
      net.device().upload(net.labels(), y.data(), y.size() * sizeof(int32_t));
      net.device().synchronize();
      st.h2d = since(t);
      t = Clock::now();
      net.forward(cfg.batch, true);
      net.device().synchronize();
      st.forward = since(t);
      t = Clock::now();
      net.backward(cfg.batch);
      net.device().synchronize();
      st.backward = since(t);
      t = Clock::now();
      opt.step(ops, net.params(), net.grads());
      net.device().synchronize();
      st.update = since(t);
      r.steps.push_back(st);
      epoch_seconds += st.total();

      // Bookkeeping outside the timed phases: the loss and accuracy of this batch.
      loss_sum += net.mean_loss(cfg.batch);
      const std::vector<float> logits = net.logits(cfg.batch);
      for (int i = 0; i < cfg.batch; ++i) {
        const float* row = logits.data() + size_t(i) * size_t(data.classes);
        correct += int(std::max_element(row, row + data.classes) - row) == y[size_t(i)];
      }
      if (!std::isfinite(loss_sum))
        fail("training diverged at epoch {} step {}: the loss is {} (try a smaller --lr)", epoch, s + 1, loss_sum);
      if (progress && (since(last_report) >= 0.25 || s + 1 == steps)) {
        last_report = Clock::now();
        Progress p;
        p.epoch = epoch;
        p.epochs = cfg.epochs;
        p.step = s + 1;
        p.steps = steps;
        p.loss = loss_sum / double(s + 1);
        p.accuracy = double(correct) / double((s + 1) * cfg.batch);
        p.elapsed = epoch_seconds;
        p.images_per_second = double((s + 1) * cfg.batch) / epoch_seconds;
        p.eta = epoch_seconds / double(s + 1) * double(steps - s - 1);
        progress(p);
      }
    }
    es.train_loss = loss_sum / double(steps);
    es.train_accuracy = double(correct) / double(steps * cfg.batch);
    es.seconds = epoch_seconds;
    es.images_per_second = double(steps * cfg.batch) / epoch_seconds;
    if (progress) {
      Progress p;
      p.epoch = epoch;
      p.epochs = cfg.epochs;
      p.evaluating = true;
      progress(p);
    }
    const auto t_eval = Clock::now();
    std::tie(es.test_loss, es.test_accuracy) = evaluate(net, data, cfg.test_limit, x, y);
    es.eval_seconds = since(t_eval);
    es.wall_seconds = since(t_start);
    r.train_seconds += epoch_seconds;
    r.epochs.push_back(es);
  }
  return r;
}

}  // namespace cnnb
