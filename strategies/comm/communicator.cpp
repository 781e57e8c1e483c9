#include "strategies/comm/communicator.h"

#include <fmt/format.h>

#include "core/error.h"
#include "core/gpu_module.h"

namespace cnnb {

namespace {

#if CNNB_HAVE_MPI
constexpr bool kHaveMpi = true;
#else
constexpr bool kHaveMpi = false;
#endif
#if CNNB_HAVE_NCCL
constexpr bool kHaveNccl = true;
#else
constexpr bool kHaveNccl = false;
#endif

constexpr bool in_build(std::string_view build) { return build == "ALWAYS" || (build == "MPI" && kHaveMpi) || (build == "NCCL" && kHaveNccl); }

constexpr std::string_view requirement(std::string_view build) {
  return build == "MPI" ? "MPI (libopenmpi-dev)" : build == "NCCL" ? "CUDA and NCCL (the cuda preset)" : "";
}

}  // namespace

std::vector<CommInfo> communicator_infos() {
  return {
#define COMMUNICATOR(id, name, build, description) \
  CommInfo{CommKind::id, name, description, in_build(#build), requirement(#build)},
#include "strategies/strategies.def"
  };
}

std::string_view comm_name(CommKind k) {
  for (const auto& c : communicator_infos())
    if (c.kind == k) return c.name;
  return "?";
}

void require_comm_built(CommKind kind) {
  for (const auto& c : communicator_infos())
    if (c.kind == kind && !c.available) fail_input("--comm {}: this cnnbench was built without {}", c.name, c.requirement);
}

CommKind parse_comm(std::string_view name) {
  std::string valid;
  for (const auto& c : communicator_infos()) {
    if (c.name == name) {
      require_comm_built(c.kind);
      return c.kind;
    }
    valid += valid.empty() ? std::string(c.name) : fmt::format(", {}", c.name);
  }
  fail_input("unknown communicator '{}'; expected one of: {}", name, valid);
}

Communicator::Communicator(ProcessGroup& processes, std::vector<Device*> devices)
    : pg_(processes), devices_(std::move(devices)) {
  CNNB_CHECK(!devices_.empty(), "a communicator needs at least one local replica");
}

void Communicator::check_buffers(std::span<float* const> bufs, int64_t count, std::string_view what) const {
  CNNB_CHECK(int(bufs.size()) == local_replicas(), "{} {}: got {} buffers for {} local replicas", name(), what,
             bufs.size(), local_replicas());
  CNNB_CHECK(count >= 0, "{} {}: negative count {}", name(), what, count);
  for (float* b : bufs) CNNB_CHECK(b != nullptr || count == 0, "{} {}: null buffer", name(), what);
}

std::unique_ptr<Communicator> make_communicator(CommKind kind, ProcessGroup& processes, std::vector<Device*> devices,
                                                const CommOptions& options) {
  switch (kind) {
#define CNNB_COMM_ALWAYS(id) \
  case CommKind::id:         \
    return make_##id##_communicator(processes, std::move(devices), options);
#if CNNB_HAVE_MPI
#define CNNB_COMM_MPI CNNB_COMM_ALWAYS
#else
#define CNNB_COMM_MPI(id) \
  case CommKind::id:      \
    break;
#endif
#if CNNB_HAVE_NCCL
#define CNNB_COMM_NCCL(id) \
  case CommKind::id:       \
    return gpu_module_table<GpuCommTable>(kGpuCommTable).make_nccl(processes, std::move(devices), options);
#else
#define CNNB_COMM_NCCL(id) \
  case CommKind::id:       \
    break;
#endif
#define COMMUNICATOR(id, name, build, description) CNNB_COMM_##build(id)
#include "strategies/strategies.def"
  }
  fail_input("--comm {}: this cnnbench was built without {}", comm_name(kind),
             kind == CommKind::nccl ? "CUDA and NCCL" : "MPI");
}

}  // namespace cnnb
