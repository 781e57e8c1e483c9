#pragma once
// Numbers from the command line, read whole: the subcommands' one parser, so that every flag refuses
// "12abc", "" and out-of-range values with the same message; and their defaults written back as text.
#include <charconv>
#include <limits>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>

#include <fmt/format.h>

#include "core/error.h"

namespace cnnb::cli {

// `text` as a T, all of it, and at least `min`; otherwise InputError "FLAG must be EXPECTED, got 'TEXT'".
template <class T>
T parse_number(std::string_view flag, const std::string& text, std::string_view expected,
               T min = std::numeric_limits<T>::lowest()) {
  T v{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v < min)
    fail_input("{} must be {}, got '{}'", flag, expected, text);
  return v;
}

// A default value as the text a flag would give it ("0.001", "64", "300").
template <class T>
  requires(std::is_arithmetic_v<T> && !std::is_same_v<T, bool> && !std::is_same_v<T, char> &&
           !std::is_same_v<T, signed char> && !std::is_same_v<T, unsigned char>)
std::string default_text(T value) {
  return fmt::format("{}", value);
}

}  // namespace cnnb::cli
