// Sweep files (TOML): flat keys named like SweepSpec's fields. Every error names FILE:LINE:COLUMN.
#include <toml++/toml.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "bench/harness/sweep.h"
#include "core/error.h"

namespace cnnb {

namespace {

std::string where(const std::string& source, const toml::source_region& r) {
  return fmt::format("{}:{}:{}", source, r.begin.line, r.begin.column);
}

const char* type_name(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a number";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::array: return "an array";
    case toml::node_type::table: return "a table";
    default: return "a date or time";
  }
}

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

// Reads one key's value; `at` prefixes errors with the location of the value (or of an array element).
class Reader {
 public:
  Reader(const std::string& source, std::string key, const toml::node& node)
      : source_(source), key_(std::move(key)), node_(node) {}

  [[noreturn]] void fail_at(const toml::node& n, const std::string& msg) const {
    fail_input("{}: {}: {}", where(source_, n.source()), key_, msg);
  }

  std::string string() const {
    if (!node_.is_string()) fail_at(node_, fmt::format("expected a string, got {}", type_name(node_)));
    return *node_.value<std::string>();
  }
  int64_t integer(int64_t lo, int64_t hi, std::string_view expected) const { return integer_of(node_, lo, hi, expected); }
  double number(std::string_view expected) const {
    if (!node_.is_number()) fail_at(node_, fmt::format("expected {}, got {}", expected, type_name(node_)));
    return *node_.value<double>();
  }
  // A list of strings; one bare string is a list of one.
  std::vector<std::string> strings(std::string_view expected) const {
    std::vector<std::string> out;
    if (node_.is_string()) return {*node_.value<std::string>()};
    const toml::array* a = node_.as_array();
    if (!a) fail_at(node_, fmt::format("expected an array of {}, got {}", expected, type_name(node_)));
    if (a->empty()) fail_at(node_, fmt::format("the list is empty; give at least one {}", expected));
    for (const auto& e : *a) {
      if (!e.is_string()) fail_at(e, fmt::format("expected {} (a string), got {}", expected, type_name(e)));
      out.push_back(*e.value<std::string>());
    }
    return out;
  }
  std::vector<int> integers(int lo, int hi, std::string_view expected) const {
    std::vector<int> out;
    if (node_.is_integer()) return {int(integer_of(node_, lo, hi, expected))};
    const toml::array* a = node_.as_array();
    if (!a) fail_at(node_, fmt::format("expected an array of {}, got {}", expected, type_name(node_)));
    if (a->empty()) fail_at(node_, fmt::format("the list is empty; give at least one {}", expected));
    for (const auto& e : *a) out.push_back(int(integer_of(e, lo, hi, expected)));
    return out;
  }
  // Device counts: integers, or the string "all".
  std::vector<std::string> device_counts() const {
    std::vector<std::string> out;
    auto one = [&](const toml::node& e) {
      if (e.is_string() && *e.value<std::string>() == "all") return std::string("all");
      return std::to_string(integer_of(e, 1, 256, "a device count in [1, 256] or \"all\""));
    };
    if (!node_.is_array()) return {one(node_)};
    const toml::array& a = *node_.as_array();
    if (a.empty()) fail_at(node_, "the list is empty; give at least one device count");
    for (const auto& e : a) out.push_back(one(e));
    return out;
  }
  // Runs a check that throws InputError; re-throws it with this value's location.
  void check(const std::function<void()>& f) const {
    try {
      f();
    } catch (const InputError& e) {
      fail_input("{}: {}", where(source_, node_.source()), e.what());
    }
  }

 private:
  int64_t integer_of(const toml::node& n, int64_t lo, int64_t hi, std::string_view expected) const {
    if (!n.is_integer()) fail_at(n, fmt::format("expected {}, got {}", expected, type_name(n)));
    const int64_t v = *n.value<int64_t>();
    if (v < lo || v > hi) fail_at(n, fmt::format("{} is out of range; expected {}", v, expected));
    return v;
  }

  const std::string& source_;
  std::string key_;
  const toml::node& node_;
};

using Setter = std::function<void(const Reader&, SweepSpec&)>;

const std::vector<std::pair<std::string_view, Setter>>& setters() {
  static const std::vector<std::pair<std::string_view, Setter>> table = {
      {"name", [](const Reader& r, SweepSpec& s) { s.name = r.string(); }},
      {"out", [](const Reader& r, SweepSpec& s) { s.out = r.string(); }},
      {"models", [](const Reader& r, SweepSpec& s) { s.models = r.strings("model"); }},
      {"datasets", [](const Reader& r, SweepSpec& s) { s.datasets = r.strings("dataset"); }},
      {"backends", [](const Reader& r, SweepSpec& s) { s.backends = r.strings("backend"); }},
      {"strategies", [](const Reader& r, SweepSpec& s) { s.strategies = r.strings("strategy"); }},
      {"devices", [](const Reader& r, SweepSpec& s) { s.devices = r.device_counts(); }},
      {"batches", [](const Reader& r, SweepSpec& s) { s.batches = r.integers(1, 1 << 20, "a positive batch size"); }},
      {"pipelines", [](const Reader& r, SweepSpec& s) { s.pipelines = r.strings("pipeline (direct or prefetch)"); }},
      {"scaling", [](const Reader& r, SweepSpec& s) { s.scaling = r.strings("scaling mode (weak or strong)"); }},
      {"kernels", [](const Reader& r, SweepSpec& s) { s.kernels = r.strings("kernel set (\"op=variant;...\")"); }},
      {"epochs", [](const Reader& r, SweepSpec& s) { s.epochs = int(r.integer(1, 1000000, "a positive integer")); }},
      {"steps", [](const Reader& r, SweepSpec& s) { s.steps = r.integer(0, int64_t(1) << 40, "an integer >= 0"); }},
      {"warmup", [](const Reader& r, SweepSpec& s) { s.warmup = int(r.integer(0, 1000000, "an integer >= 0")); }},
      {"repetitions", [](const Reader& r, SweepSpec& s) { s.repetitions = int(r.integer(1, 100, "an integer in [1, 100]")); }},
      {"test_limit", [](const Reader& r, SweepSpec& s) { s.test_limit = r.integer(0, int64_t(1) << 40, "an integer >= 0"); }},
      {"seed", [](const Reader& r, SweepSpec& s) { s.seed = uint64_t(r.integer(0, INT64_MAX, "an integer >= 0")); }},
      {"threads", [](const Reader& r, SweepSpec& s) { s.threads = int(r.integer(0, 4096, "0 (all cores) or a thread count")); }},
      {"optimizer",
       [](const Reader& r, SweepSpec& s) {
         const std::string k = r.string();
         r.check([&] { s.optimizer.kind = parse_optimizer_kind(k); });
       }},
      {"lr", [](const Reader& r, SweepSpec& s) { s.optimizer.lr = r.number("a positive learning rate"); }},
      {"momentum", [](const Reader& r, SweepSpec& s) { s.optimizer.momentum = r.number("a number in [0, 1)"); }},
      {"weight_decay", [](const Reader& r, SweepSpec& s) { s.optimizer.weight_decay = r.number("a number >= 0"); }},
      {"baseline_steps", [](const Reader& r, SweepSpec& s) { s.baseline_steps = r.integer(0, int64_t(1) << 40, "an integer >= 0"); }},
      {"baseline_epochs", [](const Reader& r, SweepSpec& s) { s.baseline_epochs = int(r.integer(0, 1000000, "an integer >= 0")); }},
  };
  static const auto with_options = [] {
    auto t = table;
    // The strategies' own options after the optimizer's, so that "expected one of" lists the keys by topic.
    auto at = std::find_if(t.begin(), t.end(), [](const auto& s) { return s.first == "weight_decay"; }) + 1;
    for (const DeclaredOption& d : declared_options()) {
      const OptionSpec o = d.spec;
      at = t.insert(at, {o.key, [o](const Reader& r, SweepSpec& s) {
                           const double v = o.type == OptionType::integer
                                                ? double(r.integer(int64_t(o.min), int64_t(o.max), o.expected))
                                                : r.number(o.expected);
                           s.strategy_options.set(o.key, v);
                         }}) + 1;
    }
    return t;
  }();
  return with_options;
}

}  // namespace

SweepSpec parse_sweep_toml_string(std::string_view text, const std::string& source) {
  toml::table tbl;
  try {
    tbl = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    fail_input("{}: {}", where(source, e.source()), e.description());
  }
  SweepSpec spec;
  std::vector<std::string> names;
  for (const auto& [name, set] : setters()) names.emplace_back(name);
  for (auto&& [key, node] : tbl) {
    const std::string k(key.str());
    const auto it = std::find_if(setters().begin(), setters().end(), [&](const auto& s) { return s.first == k; });
    if (it == setters().end()) {
      std::string hint;
      size_t best = 3;
      for (const auto& n : names)
        if (const size_t d = edit_distance(k, n); d < best) best = d, hint = fmt::format(" (did you mean '{}'?)", n);
      fail_input("{}: unknown key '{}'{}; expected one of: {}", where(source, key.source()), k, hint,
                 fmt::join(names, ", "));
    }
    const Reader reader(source, k, node);
    it->second(reader, spec);
    // Values whose meaning is checked beyond their type (names, ranges) are checked here, with the location.
    reader.check([&] {
      SweepSpec probe;  // only this key differs from the defaults, so any error is about it
      it->second(reader, probe);
      validate_sweep(probe);
    });
  }
  return spec;
}

SweepSpec parse_sweep_toml(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) fail_input("--config {}: cannot read the sweep file", file.string());
  std::ostringstream s;
  s << in.rdbuf();
  SweepSpec spec = parse_sweep_toml_string(s.str(), file.string());
  if (spec.name.empty()) spec.name = file.stem().string();
  return spec;
}

}  // namespace cnnb
