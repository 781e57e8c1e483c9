#include "strategies/strategy.h"

#include <fmt/format.h>

#include "core/error.h"

namespace cnnb {

std::vector<StrategyInfo> strategy_infos() {
  return {
#define STRATEGY(id, name, exchange, description) StrategyInfo{name, description, ExchangePath::exchange},
#include "strategies/strategies.def"
  };
}

StrategyInfo strategy_info(std::string_view name) {
  std::string valid;
  for (const auto& s : strategy_infos()) {
    if (s.name == name) return s;
    valid += valid.empty() ? std::string(s.name) : fmt::format(", {}", s.name);
  }
  fail_input("unknown strategy '{}'; expected one of: {}", name, valid);
}

void check_strategy_name(std::string_view name) { (void)strategy_info(name); }

std::unique_ptr<Strategy> make_strategy(std::string_view name, const StrategyOptions& options) {
  check_strategy_name(name);
  check_strategy_options(name, options, option_key_name);
#define STRATEGY(id, sname, exchange, description) \
  if (name == sname) return make_##id##_strategy(options);
#include "strategies/strategies.def"
  CNNB_ASSERT(false);
  return nullptr;
}

}  // namespace cnnb
