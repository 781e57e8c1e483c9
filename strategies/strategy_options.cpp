#include "strategies/strategy_options.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/error.h"
#include "strategies/strategy.h"

namespace cnnb {

StrategyOptions& StrategyOptions::set(std::string_view key, double value) {
  given_.insert_or_assign(std::string(key), value);
  return *this;
}

std::optional<double> StrategyOptions::given(std::string_view key) const {
  const auto it = given_.find(key);
  return it == given_.end() ? std::nullopt : std::optional<double>(it->second);
}

std::span<const OptionSpec> options_of(std::string_view strategy) {
#define STRATEGY(id, sname, exchange, description) \
  if (strategy == sname) return id##_strategy_options();
#include "strategies/strategies.def"
  return {};
}

bool takes_option(std::string_view strategy, std::string_view key) {
  const auto opts = options_of(strategy);
  return std::any_of(opts.begin(), opts.end(), [&](const OptionSpec& o) { return o.key == key; });
}

std::vector<DeclaredOption> declared_options() {
  std::vector<DeclaredOption> out;
  for (const StrategyInfo& s : strategy_infos())
    for (const OptionSpec& o : options_of(s.name)) {
      auto it = std::find_if(out.begin(), out.end(), [&](const DeclaredOption& d) { return d.spec.key == o.key; });
      if (it == out.end()) it = out.insert(out.end(), DeclaredOption{o, {}});
      it->strategies.push_back(s.name);
    }
  return out;
}

bool option_value_fits(const OptionSpec& o, double v) {
  if (!std::isfinite(v) || v < o.min || v > o.max) return false;
  return o.type == OptionType::number || v == std::floor(v);
}

std::string option_text(const OptionSpec& o, double v) {
  const bool whole = std::isfinite(v) && v == std::floor(v) && std::abs(v) < 9.2e18;
  return o.type == OptionType::integer && whole ? fmt::format("{}", int64_t(v)) : fmt::format("{}", v);
}

std::string option_key_name(const OptionSpec& o) { return std::string(o.key); }

namespace {

const DeclaredOption& declared(const std::vector<DeclaredOption>& all, std::string_view key) {
  const auto d = std::find_if(all.begin(), all.end(), [&](const DeclaredOption& o) { return o.spec.key == key; });
  CNNB_CHECK(d != all.end(), "internal error: strategy option '{}' is declared by no strategy", key);
  return *d;
}

}  // namespace

void check_option_values(const StrategyOptions& given, const OptionNamer& name_of) {
  const std::vector<DeclaredOption> all = declared_options();
  for (const auto& [key, v] : given.all_given()) {
    const OptionSpec& o = declared(all, key).spec;
    if (!option_value_fits(o, v)) fail_input("{} must be {}, got {}", name_of(o), o.expected, option_text(o, v));
  }
}

void check_strategy_options(std::string_view strategy, const StrategyOptions& given, const OptionNamer& name_of) {
  check_option_values(given, name_of);
  const std::vector<DeclaredOption> all = declared_options();
  for (const auto& [key, v] : given.all_given()) {
    const DeclaredOption* d = &declared(all, key);
    if (v != d->spec.default_value && !takes_option(strategy, key))
      fail_input("{} {} applies to {} only, not to strategy {}", name_of(d->spec), option_text(d->spec, v),
                 fmt::join(d->strategies, " and "), strategy);
  }
}

std::vector<std::pair<OptionSpec, double>> option_values(std::string_view strategy, const StrategyOptions& given) {
  std::vector<std::pair<OptionSpec, double>> out;
  for (const DeclaredOption& d : declared_options())
    out.emplace_back(d.spec, takes_option(strategy, d.spec.key) ? given.value(d.spec) : d.spec.default_value);
  return out;
}

}  // namespace cnnb
