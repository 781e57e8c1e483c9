#include "reports/results.h"

#include <algorithm>
#include <cmath>
#include <string_view>

#include <fmt/format.h>

#include "backends/recipe.h"
#include "core/config_hash.h"
#include "core/error.h"
#include "reports/jsonl.h"

namespace cnnb {

namespace {

const nlohmann::json* at(const nlohmann::json& j, std::initializer_list<const char*> path) {
  const nlohmann::json* p = &j;
  for (const char* k : path) {
    if (!p->is_object()) return nullptr;
    const auto it = p->find(k);
    if (it == p->end()) return nullptr;
    p = &*it;
  }
  return p;
}

double num(const nlohmann::json& j, std::initializer_list<const char*> path, double fallback = kNaN) {
  const nlohmann::json* p = at(j, path);
  return p && p->is_number() ? p->get<double>() : fallback;
}

std::string str(const nlohmann::json& j, std::initializer_list<const char*> path, const std::string& fallback = "") {
  const nlohmann::json* p = at(j, path);
  return p && p->is_string() ? p->get<std::string>() : fallback;
}

bool is_number(const nlohmann::json& j, std::initializer_list<const char*> path) {
  const nlohmann::json* p = at(j, path);
  return p && p->is_number();
}

bool is_string(const nlohmann::json& j, std::initializer_list<const char*> path) {
  const nlohmann::json* p = at(j, path);
  return p && p->is_string();
}

bool single_threaded(std::string_view backend) {
  const BackendRecipe* r = find_backend_recipe(backend);
  return r && r->single_threaded;
}

bool same_setup(const RunRow& a, const RunRow& b) {
  return a.model_spec == b.model_spec && a.dataset == b.dataset && a.batch_axis == b.batch_axis && a.host == b.host;
}

}  // namespace

bool backend_on_cpu(std::string_view backend) {
  const BackendRecipe* r = find_backend_recipe(backend);
  return r ? r->device == DeviceKind::cpu : backend.starts_with("cpu");
}

int backend_display_rank(std::string_view backend) {
  const auto& all = backend_recipes();
  const BackendRecipe* r = find_backend_recipe(backend);
  return r ? int(r - all.data()) : int(all.size());
}

bool RunRow::is_baseline() const {
  const BackendRecipe* r = find_backend_recipe(backend);
  return r && r->baseline && strategy == "single" && replicas == 1;
}

std::string SearchCandidate::id() const { return fmt::format("{} {} seed {}", method, space, seed); }

std::string RunRow::label() const {
  std::string s = fmt::format("{} {} x{} b{}", backend, strategy, replicas, batch_axis);
  if (replicas > 1) s += scaling == "weak" ? "/dev" : " global";
  if (threads > 0 && backend_on_cpu(backend) && !single_threaded(backend)) s += fmt::format(" {} thr", threads);
  if (pipeline != "direct") s += " " + pipeline;
  if (!kernel_set.empty()) s += " [" + kernel_set + "]";
  return s;
}

double RunRow::exchange_ms() const {
  const auto it = phases.find("exchange");
  return it == phases.end() || !std::isfinite(it->second) ? 0.0 : it->second;
}

std::vector<std::string> validate_record(const nlohmann::json& j) {
  std::vector<std::string> p;
  if (!j.is_object()) return {"not a JSON object"};
  const std::string schema = str(j, {"schema"});
  // cnnbench.peer/N: the same model trained by a peer framework (bench/peers/), shaped like a run record.
  if (schema.rfind("cnnbench.run/", 0) != 0 && schema.rfind("cnnbench.peer/", 0) != 0)
    p.push_back("schema is missing or not cnnbench.run/N (or cnnbench.peer/N)");
  const std::string status = str(j, {"status"});
  if (status != "ok" && status != "failed" && status != "diverged" && status != "skipped")
    p.push_back(fmt::format("status '{}' is not ok, failed, diverged or skipped", status));
  if (!at(j, {"config"}) || !at(j, {"config"})->is_object()) {
    p.push_back("config is missing");
  } else {
    for (const char* k : {"backend", "strategy", "dataset", "model"})
      if (!is_string(j, {"config", k})) p.push_back(fmt::format("config.{} is missing or not a string", k));
    if (!is_number(j, {"config", "batch"})) p.push_back("config.batch is missing or not a number");
  }
  if (status == "ok") {
    if (!is_number(j, {"timing", "images_per_second"})) p.push_back("timing.images_per_second is missing");
    const nlohmann::json* e = at(j, {"epochs"});
    if (!e || !e->is_array()) p.push_back("epochs is missing or not an array");
    if (!is_number(j, {"model", "params"})) p.push_back("model.params is missing");
  } else if (!status.empty() && !is_string(j, {"reason"})) {
    p.push_back(fmt::format("a {} line has no reason", status));
  }
  if (at(j, {"sweep"}) && !is_string(j, {"sweep", "config_hash"})) p.push_back("sweep.config_hash is missing");
  return p;
}

RunRow row_from_record(const nlohmann::json& j, const std::string& source) {
  RunRow r;
  r.source = source;
  r.status = str(j, {"status"}, "ok");
  r.reason = str(j, {"reason"});
  r.model = str(j, {"config", "model"});
  r.model_spec = str(j, {"config", "model_spec"}, r.model);
  r.dataset = str(j, {"config", "dataset"});
  r.backend = str(j, {"config", "backend"});
  r.strategy = str(j, {"config", "strategy"}, "single");
  r.devices = str(j, {"config", "devices"});
  r.comm = str(j, {"config", "comm"});
  r.replicas = int(num(j, {"config", "replicas"}, 1));
  r.batch = int(num(j, {"config", "batch"}, 0));
  r.threads = int(num(j, {"config", "threads"}, 0));
  r.host = str(j, {"environment", "hostname"});
  if (const nlohmann::json* sw = at(j, {"sweep"}); sw && sw->is_object()) {
    r.from_sweep = true;
    r.key = str(*sw, {"config_hash"});
    r.pipeline = str(*sw, {"pipeline"}, "direct");
    r.scaling = str(*sw, {"scaling"}, "weak");
    r.batch_axis = int(num(*sw, {"batch"}, r.batch));
    r.per_device_batch = int(num(*sw, {"per_device_batch"}, r.batch / std::max(1, r.replicas)));
    r.kernel_set = str(*sw, {"kernel_set"});
    r.repetitions = int(num(*sw, {"repetitions", "count"}, 1));
    r.repetition_cv = num(*sw, {"repetitions", "images_per_second", "cv_percent"}, 0);
  } else {
    // A record from `cnnbench train`: its --batch is the global batch, so several replicas mean strong scaling.
    r.scaling = "strong";
    r.batch_axis = r.batch;
    r.per_device_batch = r.batch / std::max(1, r.replicas);
    if (const nlohmann::json* k = at(j, {"config", "kernel_overrides"}); k && k->is_object())
      for (const auto& [op, v] : k->items()) r.kernel_set += (r.kernel_set.empty() ? "" : ";") + op + "=" + v.get<std::string>();
  }
  if (const nlohmann::json* sr = at(j, {"search"}); sr && sr->is_object()) {
    SearchCandidate c;
    c.method = str(*sr, {"method"});
    c.space = str(*sr, {"space"});
    c.devices = str(*sr, {"devices"});
    c.seed = uint64_t(num(*sr, {"seed"}, 0));
    c.generation = int(num(*sr, {"generation"}, 0));
    c.candidate = int(num(*sr, {"candidate"}, 0));
    if (const nlohmann::json* g = at(*sr, {"genome"})) c.genome = g->dump();
    c.accuracy = num(*sr, {"fitness", "test_accuracy"});
    c.train_seconds = num(*sr, {"fitness", "train_seconds"});
    // Candidates differ in genes the configuration hash does not see (lr, optimizer): each is its own row.
    r.key = config_hash({{"search", c.id()}, {"candidate", c.candidate}});
    r.search = std::move(c);
  }
  if (r.key.empty())
    r.key = config_hash({{"model", r.model_spec}, {"dataset", r.dataset}, {"backend", r.backend},
                         {"strategy", r.strategy}, {"replicas", r.replicas}, {"batch", r.batch},
                         {"kernels", r.kernel_set}, {"pipeline", r.pipeline}});
  r.images_per_second = num(j, {"timing", "images_per_second"});
  r.step_median = num(j, {"timing", "step_ms", "median"});
  r.step_p10 = num(j, {"timing", "step_ms", "p10"});
  r.step_p90 = num(j, {"timing", "step_ms", "p90"});
  for (const char* ph : kStepPhases)
    r.phases[ph] = num(j, {"timing", "phases_ms", ph, "median"}, 0.0);
  r.params = num(j, {"model", "params"}, 0);
  double train_s = 0;
  if (const nlohmann::json* e = at(j, {"epochs"}); e && e->is_array())
    for (const auto& ep : *e) {
      EpochPoint p;
      p.epoch = int(num(ep, {"epoch"}, 0));
      train_s += num(ep, {"seconds"}, 0);
      p.train_seconds = train_s;
      p.wall_seconds = num(ep, {"wall_seconds"}, train_s);
      p.train_loss = num(ep, {"train_loss"});
      p.test_loss = num(ep, {"test_loss"});
      p.test_accuracy = num(ep, {"test_accuracy"});
      r.epochs.push_back(p);
    }
  if (const nlohmann::json* env = at(j, {"environment"})) r.environment = *env;
  return r;
}

ResultSet load_results(const std::vector<std::filesystem::path>& files) {
  ResultSet set;
  std::map<std::string, size_t> index;  // key + host -> row
  for (const auto& f : files) {
    JsonlContents c = read_results_file(f);
    set.files.push_back(f.string());
    // Warnings of this file in line order, whether the line was not JSON or not a run record.
    std::vector<std::pair<int, std::string>> warnings;
    for (size_t i = 0; i < c.warnings.size(); ++i)
      warnings.emplace_back(i < c.warning_lines.size() ? c.warning_lines[i] : 0, std::move(c.warnings[i]));
    for (const auto& rec : c.records) {
      ++set.lines;
      const std::string source = fmt::format("{}:{}", f.string(), rec.line);
      const auto problems = validate_record(rec.value);
      if (!problems.empty()) {
        warnings.emplace_back(rec.line, fmt::format("{}: not a valid run record ({}), skipped", source, problems.front()));
        continue;
      }
      RunRow row = row_from_record(rec.value, source);
      const std::string id = row.key + "@" + row.host;
      if (const auto it = index.find(id); it != index.end()) {
        RunRow& old = set.rows[it->second];
        if (row.ok() || !old.ok()) old = std::move(row);  // an ok line is never replaced by a failed one
      } else {
        index[id] = set.rows.size();
        set.rows.push_back(std::move(row));
      }
    }
    std::stable_sort(warnings.begin(), warnings.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    for (auto& [line, w] : warnings) set.warnings.push_back(std::move(w));
  }
  return set;
}

namespace {

// Rows from one results file were measured together; a row from another file (another day, another
// load) is only the fallback.
bool same_file(const RunRow& a, const RunRow& b) { return a.source.substr(0, a.source.rfind(':')) == b.source.substr(0, b.source.rfind(':')); }

}  // namespace

const RunRow* find_baseline(const ResultSet& set, const RunRow& row) {
  const RunRow* best = nullptr;
  int best_score = -1;
  for (const auto& r : set.rows) {
    if (!r.ok() || !r.is_baseline() || !same_setup(r, row) || !(r.images_per_second > 0)) continue;
    if (!r.kernel_set.empty()) continue;
    const int score = 2 * same_file(r, row) + (r.pipeline == "direct");
    if (score >= best_score) best = &r, best_score = score;
  }
  return best;
}

const RunRow* find_one_device(const ResultSet& set, const RunRow& row) {
  const RunRow* best = nullptr;
  int best_score = -1;
  for (const auto& r : set.rows) {
    if (!r.ok() || r.replicas != 1 || !(r.images_per_second > 0) || !same_setup(r, row)) continue;
    if (r.backend != row.backend || r.pipeline != row.pipeline || r.kernel_set != row.kernel_set) continue;
    if (r.strategy != "single" && r.strategy != row.strategy) continue;
    // Best: measured in the same file, with the same threads per replica (a CPU slot with another
    // thread count is another device), by the single strategy.
    const int score = 4 * same_file(r, row) + 2 * (r.threads == row.threads) + (r.strategy == "single");
    if (score >= best_score) best = &r, best_score = score;
  }
  return best;
}

std::string short_dataset(const std::string& spec) {
  if (spec.rfind("synthetic:", 0) == 0) {
    std::string shape, n;
    std::string_view rest = std::string_view(spec).substr(10);
    while (!rest.empty()) {
      const size_t comma = std::min(rest.find(','), rest.size());
      const std::string piece(rest.substr(0, comma));
      rest.remove_prefix(std::min(comma + 1, rest.size()));
      if (piece.rfind("shape=", 0) == 0) shape = piece.substr(6);
      if (piece.rfind("n=", 0) == 0) n = piece.substr(2);
    }
    return fmt::format("synthetic {} (n={})", shape, n);
  }
  for (const std::string kind : {"mnist:", "cifar10:"})
    if (spec.rfind(kind, 0) == 0) {
      std::filesystem::path dir = std::filesystem::path(spec.substr(kind.size())).lexically_normal();
      if (dir.filename().empty()) dir = dir.parent_path();  // "DIR/" names DIR
      return kind + dir.filename().string();
    }
  return spec;
}

std::optional<double> speedup_vs_baseline(const ResultSet& set, const RunRow& row) {
  if (!row.ok() || !(row.images_per_second > 0)) return std::nullopt;
  const RunRow* b = find_baseline(set, row);
  if (!b) return std::nullopt;
  return row.images_per_second / b->images_per_second;
}

std::optional<double> scaling_efficiency(const ResultSet& set, const RunRow& row) {
  if (!row.ok() || row.replicas <= 1 || !(row.images_per_second > 0)) return std::nullopt;
  const RunRow* one = find_one_device(set, row);
  if (!one) return std::nullopt;
  return row.images_per_second / (row.replicas * one->images_per_second);
}

std::optional<double> time_to_accuracy(const RunRow& row, double target) {
  for (const auto& e : row.epochs)
    if (e.test_accuracy >= target) return e.train_seconds;
  return std::nullopt;
}

}  // namespace cnnb
