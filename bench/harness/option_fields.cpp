#include "bench/harness/option_fields.h"

#include <cstdint>
#include <string>

namespace cnnb {

void add_option_fields(nlohmann::json& object, std::string_view strategy, const StrategyOptions& given,
                       OptionFields which) {
  for (const auto& [spec, value] : option_values(strategy, given)) {
    if (which == OptionFields::changing_results && !spec.changes_results) continue;
    nlohmann::json& field = object[std::string(spec.key)];
    if (spec.type == OptionType::integer)
      field = int64_t(value);
    else
      field = value;
  }
}

}  // namespace cnnb
