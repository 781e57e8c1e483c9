// How the nccl communicator reads NCCL's answers (strategies/comm/nccl_status.h), run against the NCCL
// library itself: part of the GPU module, so this file is in the test binary that links the module.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "core/error.h"
#include "strategies/comm/deadline.h"
#include "strategies/comm/nccl_status.h"

namespace cnnb {
namespace {

using ::testing::HasSubstr;

#if CNNB_HAVE_NCCL
TEST(NcclStatus, InProgressIsPendingSuccessIsIdleAnErrorFails) {
  EXPECT_EQ(nccl_state(ncclSuccess, ncclInProgress).kind, PollState::pending);
  EXPECT_EQ(nccl_state(ncclSuccess, ncclSuccess).kind, PollState::done);
  // While a collective's completion event is outstanding, a quiet communicator is still working.
  EXPECT_EQ(nccl_state(ncclSuccess, ncclSuccess, PollState::pending).kind, PollState::pending);
  const PollState remote = nccl_state(ncclSuccess, ncclRemoteError);
  EXPECT_EQ(remote.kind, PollState::failed);
  EXPECT_THAT(remote.error, HasSubstr(ncclGetErrorString(ncclRemoteError)));
  const PollState query = nccl_state(ncclInvalidArgument, ncclSuccess);
  EXPECT_EQ(query.kind, PollState::failed);
  EXPECT_THAT(query.error, ::testing::StartsWith("ncclCommGetAsyncError: "));
}

TEST(NcclStatus, CallsInProgressAreAcceptedErrorsThrow) {
  EXPECT_NO_THROW(check_nccl_call(ncclSuccess, "ncclAllReduce"));
  EXPECT_NO_THROW(check_nccl_call(ncclInProgress, "ncclAllReduce"));
  EXPECT_THAT([] { check_nccl_call(ncclSystemError, "ncclGroupEnd (ncclAllReduce)"); },
              ::testing::ThrowsMessage<Error>(HasSubstr("nccl: ncclGroupEnd (ncclAllReduce) failed: ")));
}

// The poll loop over NCCL's reading: an asynchronous error ends the wait with NCCL's text and an abort.
TEST(NcclStatus, AsyncErrorThroughThePollLoopAborts) {
  std::vector<ncclResult_t> async = {ncclInProgress, ncclInProgress, ncclRemoteError};
  size_t i = 0;
  bool aborted = false;
  EXPECT_THAT([&] {
    poll_until_done([&] { return nccl_state(ncclSuccess, async[std::min(i++, async.size() - 1)]); }, Deadline(60),
                    "nccl: communicator set-up (ncclCommInitRankConfig)", [&] { aborted = true; });
  }, ::testing::ThrowsMessage<Error>(HasSubstr("communicator set-up (ncclCommInitRankConfig) failed: ")));
  EXPECT_TRUE(aborted);
  EXPECT_EQ(i, 3u);
}
#endif

}  // namespace
}  // namespace cnnb
