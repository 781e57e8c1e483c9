#pragma once
// The strategies' declared options as fields of a JSON object: the run record, the sweep's config hash
// and the checkpoint fingerprint all write them this way, each option with its declared type.
#include <string_view>

#include <nlohmann/json.hpp>

#include "strategies/strategy_options.h"

namespace cnnb {

enum class OptionFields {
  all,              // every declared option: records and config hashes keep one set of fields
  changing_results  // only those that change what training computes: a checkpoint's fingerprint
};

// Adds one field per declared option to `object`: its value for a run of `strategy` (option_values).
void add_option_fields(nlohmann::json& object, std::string_view strategy, const StrategyOptions& given,
                       OptionFields which = OptionFields::all);

}  // namespace cnnb
