#pragma once
// A strategy's own options, declared in its own file next to its class: name, type, default, range and
// help. The CLI flags, the sweep's TOML keys, validation, the config hash, the checkpoint fingerprint and
// the run record are all made from these declarations, so that a new option touches its strategy's file
// only (docs/ARCHITECTURE.md).
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cnnb {

enum class OptionType { integer, number };

struct OptionSpec {
  std::string_view key;   // snake_case: the sweep TOML key, the record's and the config hash's field
  std::string_view flag;  // the command-line flag of train and sweep
  OptionType type;
  double default_value;
  double min, max;            // inclusive
  std::string_view expected;  // what a message asks for: "a positive integer"
  std::string_view help;
  // Whether the option changes what training computes (param-avg's k does; allreduce's buckets give
  // bit-identical parameters): only such options are part of a checkpoint's fingerprint.
  bool changes_results;
};

// The options given for one run or sweep, by key; an option not given has its declared default.
class StrategyOptions {
 public:
  StrategyOptions& set(std::string_view key, double value);
  std::optional<double> given(std::string_view key) const;
  double value(const OptionSpec& o) const { return given(o.key).value_or(o.default_value); }
  const std::map<std::string, double, std::less<>>& all_given() const { return given_; }
  bool operator==(const StrategyOptions&) const = default;

 private:
  std::map<std::string, double, std::less<>> given_;
};

// One option key with its declaration and the strategies that declare it.
struct DeclaredOption {
  OptionSpec spec;
  std::vector<std::string_view> strategies;
};
// Every option of every strategy, once per key, in the order of strategies.def.
std::vector<DeclaredOption> declared_options();
// The options strategy `name` declares (empty for an unknown name).
std::span<const OptionSpec> options_of(std::string_view strategy);
bool takes_option(std::string_view strategy, std::string_view key);

// Whether `v` has the option's type (a whole number for an integer) and lies in its range.
bool option_value_fits(const OptionSpec& o, double v);
// The value as the option's type prints it ("4", "0.5").
std::string option_text(const OptionSpec& o, double v);

// How an edge names an option in its messages: the CLI by flag, a TOML reader by key.
using OptionNamer = std::function<std::string(const OptionSpec&)>;
// InputError for a given value that is not of its option's type or out of its range.
void check_option_values(const StrategyOptions& given, const OptionNamer& name_of);
// check_option_values, and InputError for an option with a value other than its
// default that strategy `name` does not declare ("NAME VALUE applies to STRATEGIES only, not to
// strategy allreduce"). An unknown key is a bug of the edge that set it.
void check_strategy_options(std::string_view strategy, const StrategyOptions& given, const OptionNamer& name_of);
// The key itself: what the engine calls an option when no edge has named it.
std::string option_key_name(const OptionSpec& o);

// The value of every declared option for a run of `strategy`: what was given where the strategy takes the
// option, the default otherwise, so that every record and hash has the same fields.
std::vector<std::pair<OptionSpec, double>> option_values(std::string_view strategy, const StrategyOptions& given);

}  // namespace cnnb
