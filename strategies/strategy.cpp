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

void check_options_apply(std::string_view strategy, const StrategyOptions& o, bool takes_sync_every, bool takes_buckets) {
  if (!takes_sync_every && o.sync_every != 1)
    fail_input("--sync-every {} applies to param-avg only, not to strategy {}", o.sync_every, strategy);
  if (!takes_buckets && o.bucket_mb != 0)
    fail_input("--buckets {} applies to allreduce only, not to strategy {}", o.bucket_mb, strategy);
}

std::unique_ptr<Strategy> make_strategy(std::string_view name, const StrategyOptions& options) {
  check_strategy_name(name);
  if (options.sync_every < 1) fail_input("--sync-every must be a positive integer, got {}", options.sync_every);
  if (!(options.bucket_mb >= 0)) fail_input("--buckets must be a size in MiB >= 0 (0 = one call), got {}", options.bucket_mb);
#define STRATEGY(id, sname, exchange, description) \
  if (name == sname) return make_##id##_strategy(options);
#include "strategies/strategies.def"
  CNNB_ASSERT(false);
  return nullptr;
}

}  // namespace cnnb
