#pragma once
// The strategies' declared options as flags of `train` and `sweep`: made from the declarations
// (strategies/strategy_options.h), read as text and parsed with the flag's name in every message.
#include <map>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "strategies/strategy_options.h"

namespace cnnb::cli {

class StrategyFlags {
 public:
  enum class Help { default_shown_by_cli11, default_in_text };
  // One flag per declared option, in the order of strategies.def.
  void add_to(CLI::App& sub, Help style);
  // The options given on the command line; InputError "--flag must be EXPECTED, got 'TEXT'" for text that
  // is not a number of the option's type, "... got VALUE" for a value out of its range.
  StrategyOptions given(const CLI::App& sub) const;

 private:
  std::vector<DeclaredOption> declared_ = declared_options();
  std::map<std::string, std::string, std::less<>> texts_;  // by key; stable addresses for CLI11
};

}  // namespace cnnb::cli
