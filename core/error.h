#pragma once
// Errors: everything that stops a run throws cnnb::Error with a message that says what and where;
// main() turns it into one line on stderr and a non-zero exit code.
#include <fmt/format.h>

#include <stdexcept>
#include <string>
#include <utility>

namespace cnnb {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Bad input from the user (flags, files, specs): exit code 2 instead of 1, like CLI11's own usage errors.
class InputError : public Error {
 public:
  using Error::Error;
};

template <class... A>
[[noreturn]] void fail(fmt::format_string<A...> f, A&&... a) {
  throw Error(fmt::format(f, std::forward<A>(a)...));
}

template <class... A>
[[noreturn]] void fail_input(fmt::format_string<A...> f, A&&... a) {
  throw InputError(fmt::format(f, std::forward<A>(a)...));
}

}  // namespace cnnb

// Invariant that only a bug can break: names the file and line.
#define CNNB_ASSERT(cond)                                                                      \
  do {                                                                                         \
    if (!(cond)) ::cnnb::fail("internal error at {}:{}: {} does not hold", __FILE__, __LINE__, \
                              #cond);                                                          \
  } while (0)

// Checked condition with a formatted message: CNNB_CHECK(n > 0, "batch must be positive, got {}", n).
#define CNNB_CHECK(cond, ...)                 \
  do {                                        \
    if (!(cond)) ::cnnb::fail(__VA_ARGS__);   \
  } while (0)
