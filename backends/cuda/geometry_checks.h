#pragma once
// Host-side checks the CUDA launchers run before a launch. A geometry that cpu-ref refuses would make
// a kernel read out of bounds, a sticky error that ends the process, so it is refused here with a
// message instead. C++17: included by .cu files.
#include "backends/ops.h"
#include "core/error.h"

namespace cnnb::cuda {

inline void check_geometry(const ConvGeom& g, const char* kernel) {
  CNNB_CHECK(g.n > 0 && g.c > 0 && g.h > 0 && g.w > 0 && g.k > 0 && g.r > 0 && g.s > 0 && g.stride > 0 &&
                 g.pad >= 0 && g.p() > 0 && g.q() > 0,
             "{}: bad geometry n={} c={} h={} w={} k={} r={} s={} stride={} pad={}", kernel, g.n, g.c, g.h, g.w, g.k,
             g.r, g.s, g.stride, g.pad);
}

// pad < window keeps a real cell in every window, as cpu-ref requires.
inline void check_geometry(const PoolGeom& g, const char* kernel) {
  CNNB_CHECK(g.n > 0 && g.c > 0 && g.h > 0 && g.w > 0 && g.window > 0 && g.stride > 0 && g.pad >= 0 &&
                 g.pad < g.window && g.p() > 0 && g.q() > 0,
             "{}: bad geometry n={} c={} h={} w={} window={} stride={} pad={}", kernel, g.n, g.c, g.h, g.w, g.window,
             g.stride, g.pad);
}

}  // namespace cnnb::cuda
