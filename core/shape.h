#pragma once
// C++17: included by .cu files too.
#include <cstdint>
#include <string>

#include <fmt/format.h>

namespace cnnb {

// Shape of one image or one feature map, channels first (the N of NCHW is the batch, kept apart).
struct Shape {
  int c = 0, h = 0, w = 0;
  int64_t size() const { return int64_t(c) * h * w; }
  bool operator==(const Shape& o) const { return c == o.c && h == o.h && w == o.w; }
  std::string str() const { return fmt::format("{}x{}x{}", c, h, w); }
};

}  // namespace cnnb
