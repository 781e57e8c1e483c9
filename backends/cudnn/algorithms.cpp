#include "backends/cudnn/algorithms.h"

#include "backends/cuda/cuda_ctx.h"
#include "backends/cudnn/plans.h"

namespace cnnb::cudnn {

std::map<std::string, std::string> chosen_algorithms(const ExecCtx& ctx) {
  if (ctx.kind != DeviceKind::cuda || !ctx.cuda) return {};
  return ctx.cuda->cudnn_plans().algorithms();
}

}  // namespace cnnb::cudnn
