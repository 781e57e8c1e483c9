#include "strategies/comm/route.h"

#include <algorithm>
#include <optional>
#include <vector>

#include <fmt/format.h>

#include "strategies/strategy.h"

namespace cnnb {

namespace {

bool nccl_in_build() {
  const auto infos = communicator_infos();
  return std::any_of(infos.begin(), infos.end(),
                     [](const CommInfo& c) { return c.kind == CommKind::nccl && c.available; });
}

std::optional<StrategyInfo> find_strategy(std::string_view name) {
  for (const StrategyInfo& s : strategy_infos())
    if (s.name == name) return s;
  return std::nullopt;
}

}  // namespace

CommKind choose_comm(const CommFacts& f) {
  const bool several_gpus = f.device == DeviceKind::cuda && f.gpus * f.processes > 1;
  if (f.exchange == ExchangePath::communicator && several_gpus && f.nccl_available) return CommKind::nccl;
  return f.processes > 1 ? CommKind::mpi : CommKind::threads;
}

CommKind auto_comm(ExchangePath exchange, const DeviceList& devices, int processes) {
  std::vector<int> gpus;
  if (devices.kind == DeviceKind::cuda) gpus = devices.ids;
  std::sort(gpus.begin(), gpus.end());
  const int distinct = int(std::unique(gpus.begin(), gpus.end()) - gpus.begin());
  const CommKind chosen = choose_comm(CommFacts{exchange, devices.kind, distinct, processes, nccl_in_build()});
  // Several replicas on one GPU (gpu:0,0,1) cannot all be NCCL ranks: the process's own route instead.
  if (chosen == CommKind::nccl && !nccl_misfit(exchange, devices).empty())
    return processes > 1 ? CommKind::mpi : CommKind::threads;
  return chosen;
}

std::string nccl_misfit(ExchangePath exchange, const DeviceList& devices) {
  switch (exchange) {
    case ExchangePath::none:
      return "the strategy exchanges nothing";
    case ExchangePath::host:
      return "the strategy averages through host staging, not the communicator";
    case ExchangePath::communicator:
      break;
  }
  if (devices.kind == DeviceKind::cuda && devices.distinct() < devices.count())
    return fmt::format("{} puts {} replicas on {} GPU(s), and NCCL takes one rank per GPU in a communicator", devices.str(),
                       devices.count(), devices.distinct());
  return "";
}

std::string exchange_route(ExchangePath exchange, CommKind comm, int processes) {
  if (exchange != ExchangePath::host) return std::string(comm_name(comm));
  // HostAverage sums on the replicas' threads, then across processes through the process group.
  const CommKind across = processes > 1 || comm == CommKind::mpi ? CommKind::mpi : CommKind::threads;
  return fmt::format("host staging + {}", comm_name(across));
}

std::string exchange_route(std::string_view strategy, std::string_view comm, int processes) {
  const auto s = find_strategy(strategy);
  if (!s) return std::string(comm);
  for (const CommInfo& c : communicator_infos())
    if (c.name == comm) return exchange_route(s->exchange, c.kind, processes);
  return std::string(comm);
}

std::string_view busbw_basis(ExchangePath exchange) {
  switch (exchange) {
    case ExchangePath::communicator:
      return "allreduce by the communicator: busbw = algbw * 2(N-1)/N (nccl-tests)";
    case ExchangePath::host:
      return "host staging (device -> host copies, host sum, host -> device copies): busbw = algbw * 2(N-1)/N "
             "for comparison with nccl-tests only";
    case ExchangePath::none:
      break;
  }
  return "no exchange";
}

std::string_view busbw_basis(std::string_view strategy) {
  const auto s = find_strategy(strategy);
  return s ? busbw_basis(s->exchange) : "unknown strategy";
}

}  // namespace cnnb
