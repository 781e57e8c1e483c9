#include "bench/strategy_flags.h"

#include <cstdint>

#include <fmt/format.h>

#include "bench/cli_numbers.h"
#include "core/error.h"

namespace cnnb::cli {

void StrategyFlags::add_to(CLI::App& sub, Help style) {
  for (const DeclaredOption& d : declared_) {
    const OptionSpec& o = d.spec;
    const std::string dflt = option_text(o, o.default_value);
    std::string& text = texts_[std::string(o.key)];
    if (style == Help::default_shown_by_cli11) {
      text = dflt;
      sub.add_option(std::string(o.flag), text, std::string(o.help))->capture_default_str();
    } else {
      sub.add_option(std::string(o.flag), text, fmt::format("{} (default {})", o.help, dflt));
    }
  }
}

StrategyOptions StrategyFlags::given(const CLI::App& sub) const {
  StrategyOptions out;
  for (const DeclaredOption& d : declared_) {
    const OptionSpec& o = d.spec;
    if (sub.count(std::string(o.flag)) == 0) continue;
    const std::string& text = texts_.find(o.key)->second;
    const double v = o.type == OptionType::integer ? double(parse_number<int64_t>(o.flag, text, o.expected))
                                                   : parse_number<double>(o.flag, text, o.expected);
    if (!option_value_fits(o, v)) fail_input("{} must be {}, got {}", o.flag, o.expected, option_text(o, v));
    out.set(o.key, v);
  }
  return out;
}

}  // namespace cnnb::cli
