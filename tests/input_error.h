#pragma once
// The message of the cnnb::InputError that `f` throws; a test failure (and "") when it throws none.
#include <gtest/gtest.h>

#include <string>

#include "core/error.h"

namespace cnnb::test {

template <class F>
std::string input_error(F&& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected an InputError";
  return "";
}

}  // namespace cnnb::test
