#include "backends/cudnn/lrn_params.h"

#include <cudnn.h>

#include <cmath>
#include <string_view>

#include "core/error.h"

namespace cnnb::cudnn {

static_assert(kLrnMinN == CUDNN_LRN_MIN_N && kLrnMaxN == CUDNN_LRN_MAX_N, "cuDNN's LRN window limits changed");
static_assert(kLrnMinK == CUDNN_LRN_MIN_K && kLrnMinBeta == CUDNN_LRN_MIN_BETA, "cuDNN's LRN k/beta limits changed");

LrnParams lrn_params(const LrnGeom& g, const char* kernel) {
  auto refuse = [&](const char* what, auto value, const char* expected) {
    fail_input("{}: cuDNN's LRN takes {} {}, got {} (use --kernel {}=cuda/naive for this layer's parameters)", kernel,
               what, expected, value, std::string_view(kernel).substr(0, std::string_view(kernel).find('/')));
  };
  if (g.size < int(kLrnMinN) || g.size > int(kLrnMaxN)) refuse("size", g.size, "in 1..16");
  if (!(g.k >= kLrnMinK)) refuse("k", g.k, ">= 1e-5");
  if (!(g.beta >= kLrnMinBeta)) refuse("beta", g.beta, ">= 0.01");
  if (!std::isfinite(g.alpha)) refuse("alpha", g.alpha, "finite");
  return {unsigned(g.size), g.alpha, g.beta, g.k};
}

}  // namespace cnnb::cudnn
