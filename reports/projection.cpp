#include "reports/projection.h"

#include <array>
#include <numeric>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/error.h"

namespace cnnb {

namespace {

// alpha: NCCL's own per-step latency of the ring algorithm with the Simple protocol (hwLat in
// src/graph/tuning.cc): 5.7 us over PCIe, 3.4 us over NVLink, 14 us over the network.
// B: the per-direction peak of one GPU's link, from NVIDIA's and Mellanox's datasheets.
constexpr std::array<Link, 6> kLinks = {{
    {"ib-hdr", "InfiniBand HDR (200 Gb/s)", 14.0, 25.0, "ConnectX-6 HDR 200 Gb/s port; alpha: NCCL NET ring"},
    {"pcie4", "PCIe 4.0 x16", 5.7, 31.5, "16 GT/s x 16 lanes, 128b/130b (A100 PCIe: 64 GB/s both ways); alpha: NCCL PCI ring"},
    {"ib-ndr", "InfiniBand NDR (400 Gb/s)", 14.0, 50.0, "ConnectX-7 NDR 400 Gb/s port; alpha: NCCL NET ring"},
    {"pcie5", "PCIe 5.0 x16", 5.7, 63.0, "32 GT/s x 16 lanes (H100 PCIe: 128 GB/s both ways); alpha: NCCL PCI ring"},
    {"nvlink3", "NVLink 3 (A100)", 3.4, 300.0, "12 links, 600 GB/s both ways per A100; alpha: NCCL NVLink ring"},
    {"nvlink4", "NVLink 4 (H100)", 3.4, 450.0, "18 links, 900 GB/s both ways per H100; alpha: NCCL NVLink ring"},
}};

}  // namespace

std::span<const Link> links() { return kLinks; }

const Link& find_link(std::string_view key) {
  for (const Link& l : kLinks)
    if (l.key == key) return l;
  std::vector<std::string_view> keys;
  for (const Link& l : kLinks) keys.push_back(l.key);
  fail_input("unknown link '{}'; expected one of: {}", key, fmt::join(keys, ", "));
}

double ring_allreduce_seconds(int n, double bytes, double alpha_seconds, double bytes_per_second) {
  CNNB_CHECK(n >= 1, "ring all-reduce over {} ranks", n);
  if (n == 1) return 0;
  const double steps = 2.0 * (n - 1);
  return steps * alpha_seconds + steps / n * bytes / bytes_per_second;
}

std::string_view scaling_name(Scaling s) { return s == Scaling::weak ? "weak" : "strong"; }

ProjectionPoint project_point(const Link& link, int n, double compute_ms, double bytes, Scaling scaling) {
  ProjectionPoint p;
  p.n = n;
  p.exchange_ms = 1e3 * ring_allreduce_seconds(n, bytes, link.alpha_us * 1e-6, link.bandwidth_gbps * 1e9);
  const double compute = scaling == Scaling::weak ? compute_ms : compute_ms / n;
  p.step_ms = compute + p.exchange_ms;
  // Throughput X(N) = images per step / step time; weak: N b / step, strong: B / step.
  p.speedup = scaling == Scaling::weak ? n * compute_ms / p.step_ms : compute_ms / p.step_ms;
  p.efficiency = p.speedup / n;
  return p;
}

std::vector<ProjectionPoint> project(const Link& link, std::span<const int> ns, double compute_ms, double bytes,
                                     Scaling scaling) {
  std::vector<ProjectionPoint> out;
  for (int n : ns) out.push_back(project_point(link, n, compute_ms, bytes, scaling));
  return out;
}

std::vector<int> device_counts_1_to_64() {
  std::vector<int> v(64);
  std::iota(v.begin(), v.end(), 1);
  return v;
}

}  // namespace cnnb
