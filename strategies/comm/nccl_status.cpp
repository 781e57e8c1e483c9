#include "strategies/comm/nccl_status.h"

#if CNNB_HAVE_NCCL

#include <fmt/format.h>

#include "core/error.h"

namespace cnnb {

std::string describe_nccl(ncclResult_t rc) {
  const char* last = ncclGetLastError(nullptr);
  return fmt::format("{}{}{}", ncclGetErrorString(rc), last && *last ? ": " : "", last ? last : "");
}

void check_nccl_call(ncclResult_t rc, std::string_view what) {
  if (rc != ncclSuccess && rc != ncclInProgress) fail("nccl: {} failed: {}", what, describe_nccl(rc));
}

PollState nccl_state(ncclResult_t query, ncclResult_t async, PollState::Kind idle) {
  if (query != ncclSuccess) return {PollState::failed, fmt::format("ncclCommGetAsyncError: {}", describe_nccl(query))};
  if (async == ncclInProgress) return {PollState::pending, {}};
  if (async == ncclSuccess) return {idle, {}};
  return {PollState::failed, describe_nccl(async)};
}

}  // namespace cnnb

#endif
