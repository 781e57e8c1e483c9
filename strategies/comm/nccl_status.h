#pragma once
// How the nccl communicator reads NCCL's answers on non-blocking communicators: a call is accepted
// when it succeeded or is still in progress, and ncclCommGetAsyncError's answer becomes a PollState
// for poll_until_done. No GPU needed, so the CPU tests check the mapping itself.
#if CNNB_HAVE_NCCL

#include <nccl.h>

#include <string>
#include <string_view>

#include "strategies/comm/deadline.h"

namespace cnnb {

// NCCL's text for rc, followed by its last error message when it has one.
std::string describe_nccl(ncclResult_t rc);

// Throws Error naming `what` unless rc is ncclSuccess or ncclInProgress (non-blocking: finishing later).
void check_nccl_call(ncclResult_t rc, std::string_view what);

// The state of one communicator from ncclCommGetAsyncError: `query` is what the call returned and
// `async` what it wrote. In progress is pending; success is `idle` (done for set-up and finalize,
// pending while a collective's completion event is still outstanding); anything else failed.
PollState nccl_state(ncclResult_t query, ncclResult_t async, PollState::Kind idle = PollState::done);

}  // namespace cnnb

#endif
