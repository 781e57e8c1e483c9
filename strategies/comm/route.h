#pragma once
// Which communicator `--comm auto` picks, and how a run record names the path the exchanged bytes
// really took. NCCL pays off only where a strategy exchanges through the communicator's own
// collective between GPUs; the host-staging strategies (tower, param-avg) never hand it their bytes.
#include <string>
#include <string_view>

#include "core/exec_ctx.h"
#include "strategies/comm/communicator.h"
#include "strategies/devices.h"

namespace cnnb {

// The path a strategy's exchanged bytes take (its EXCHANGE column in strategies.def).
enum class ExchangePath {
  none,          // nothing is exchanged
  communicator,  // the communicator's allreduce_mean: a device collective with nccl
  host,          // staged through host memory by the strategy (HostAverage), summed across processes by the
                 // process group
};

struct CommFacts {
  ExchangePath exchange = ExchangePath::none;  // the strategy's declaration
  DeviceKind device = DeviceKind::cpu;
  int gpus = 0;       // distinct GPUs among this process's replicas
  int processes = 1;
  bool nccl_available = false;  // in this build
};

// nccl for a communicator exchange between more than one GPU replica in the world (and a build with
// NCCL); otherwise mpi across processes, threads within one.
CommKind choose_comm(const CommFacts& facts);

// choose_comm for strategy `exchange` on `devices` in `processes` processes, with this build's communicators,
// never nccl where nccl_misfit finds it cannot carry the exchange.
CommKind auto_comm(ExchangePath exchange, const DeviceList& devices, int processes);

// Why NCCL cannot carry this exchange, or "" when it can: NCCL gives each GPU one rank, so replicas
// sharing a GPU cannot join one communicator, and a strategy that stages through the host never hands
// it the bytes (it would only pay NCCL's set-up).
std::string nccl_misfit(ExchangePath exchange, const DeviceList& devices);

// What a run record calls the exchange path: the communicator's name for strategies that exchange
// through it (or nothing), "host staging + threads" / "host staging + mpi" for those that average on the host.
std::string exchange_route(ExchangePath exchange, CommKind comm, int processes);
// The same from the record's names; an unknown strategy or communicator name gives `comm` unchanged.
std::string exchange_route(std::string_view strategy, std::string_view comm, int processes);

// How a record's busbw relates to the path: the nccl-tests ring formula applies to a collective;
// over host staging it is kept for comparison only.
std::string_view busbw_basis(ExchangePath exchange);
std::string_view busbw_basis(std::string_view strategy);

}  // namespace cnnb
