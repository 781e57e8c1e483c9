#pragma once
// "What would 64 GPUs do?": the ring all-reduce alpha-beta model over named links (docs/SCALING.md).
// An all-reduce of S bytes over N ranks takes 2(N-1) steps, each paying a latency alpha and moving S/N
// bytes over a link of bandwidth B:  T(N) = 2(N-1) alpha + 2(N-1)/N * S/B.
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace cnnb {

struct Link {
  std::string_view key;    // pcie4, pcie5, nvlink3, nvlink4, ib-hdr, ib-ndr
  std::string_view name;   // "PCIe 4.0 x16"
  double alpha_us;         // latency per ring step
  double bandwidth_gbps;   // GB/s (1e9 bytes) per direction, per GPU
  std::string_view note;   // where the numbers come from (details and links in docs/SCALING.md)
};

// The named links, slowest first.
std::span<const Link> links();
// Throws InputError listing the keys.
const Link& find_link(std::string_view key);

// Seconds for a ring all-reduce of `bytes` over n ranks (0 for n = 1).
double ring_allreduce_seconds(int n, double bytes, double alpha_seconds, double bytes_per_second);

enum class Scaling { weak, strong };
std::string_view scaling_name(Scaling s);

struct ProjectionPoint {
  int n = 1;
  double exchange_ms = 0;   // the all-reduce
  double step_ms = 0;       // compute + all-reduce (no overlap)
  double efficiency = 1;    // X(N) / (N X(1))
  double speedup = 1;       // X(N) / X(1)
};

// From a measured one-device step without exchange (compute_ms) and the gradient bytes exchanged per step.
// weak: every device keeps the batch, so compute stays compute_ms; strong: the global batch is split, so
// compute becomes compute_ms / N (an upper bound: small batches run less efficiently).
ProjectionPoint project_point(const Link& link, int n, double compute_ms, double bytes, Scaling scaling);
std::vector<ProjectionPoint> project(const Link& link, std::span<const int> ns, double compute_ms, double bytes,
                                     Scaling scaling);

// 1, 2, 4, ..., 64 and the counts in between that a chart needs to look smooth: 1..64.
std::vector<int> device_counts_1_to_64();

}  // namespace cnnb
