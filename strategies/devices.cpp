#include "strategies/devices.h"

#include <algorithm>
#include <charconv>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/device.h"
#include "core/error.h"

namespace cnnb {

namespace {

constexpr std::string_view kForms = "expected cpu:R, gpu:0,1,..., gpu:all or gpu:local";

bool parse_int(std::string_view text, int& v) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  return ec == std::errc() && end == text.data() + text.size();
}

int visible_gpus(std::string_view spec, const std::function<int()>& count) {
  const int n = count();
  if (n == 0)
    fail_input("--devices {}: no CUDA device is visible{}", spec,
#if CNNB_HAVE_CUDA
               ""
#else
               " (and this cnnbench was built without CUDA)"
#endif
    );
  return n;
}

std::vector<int> parse_ordinals(std::string_view spec, std::string_view list, const std::function<int()>& count) {
  std::vector<int> ids;
  size_t pos = 0;
  while (pos <= list.size()) {
    const size_t comma = std::min(list.find(',', pos), list.size());
    int id = -1;
    if (!parse_int(list.substr(pos, comma - pos), id) || id < 0)
      fail_input("--devices '{}': '{}' is not a GPU ordinal (an integer >= 0); {}", spec, list.substr(pos, comma - pos),
                 kForms);
    // Bounded before it is stored: a typo must not become thousands of replicas.
    if (std::count(ids.begin(), ids.end(), id) == kMaxReplicasPerGpu)
      fail_input("--devices {}: gpu {} is listed more than {} times; each listing is one replica on that GPU", spec, id,
                 kMaxReplicasPerGpu);
    ids.push_back(id);
    pos = comma + 1;
  }
  const int n = visible_gpus(spec, count);
  const int highest = *std::max_element(ids.begin(), ids.end());
  if (highest >= n)
    fail_input("--devices {}: gpu {} does not exist, only {} GPU{} visible: more replicas than devices", spec, highest, n,
               n == 1 ? " is" : "s are");
  return ids;
}

}  // namespace

int DeviceList::distinct() const { return int(std::set<int>(ids.begin(), ids.end()).size()); }

std::string DeviceList::str() const {
  if (kind == DeviceKind::cpu) return fmt::format("cpu:{}", ids.size());
  return fmt::format("gpu:{}", fmt::join(ids, ","));
}

DeviceList parse_devices(std::string_view spec, DeviceKind backend_kind, int local_rank) {
  return parse_devices(spec, backend_kind, local_rank, cuda_device_count);
}

DeviceList parse_devices(std::string_view spec, DeviceKind backend_kind, int local_rank,
                         const std::function<int()>& gpu_count) {
  DeviceList d;
  if (spec.empty()) {
    d.kind = backend_kind;
    d.ids = {0};
    if (d.kind == DeviceKind::cuda) visible_gpus("gpu:0 (the default for a GPU backend)", gpu_count);
    return d;
  }
  const auto colon = spec.find(':');
  const std::string_view kind = spec.substr(0, colon), rest = colon == std::string_view::npos ? "" : spec.substr(colon + 1);
  if (colon == std::string_view::npos || rest.empty()) fail_input("--devices '{}': {}", spec, kForms);

  if (kind == "cpu") {
    int r = 0;
    if (!parse_int(rest, r)) fail_input("--devices '{}': the replica count after cpu: must be an integer; {}", spec, kForms);
    if (r < 1 || r > kMaxCpuSlots)
      fail_input("--devices {}: the number of CPU replicas must be in [1, {}], got {}", spec, kMaxCpuSlots, r);
    d.kind = DeviceKind::cpu;
    for (int i = 0; i < r; ++i) d.ids.push_back(i);
  } else if (kind == "gpu") {
    d.kind = DeviceKind::cuda;
    if (rest == "all") {
      for (int i = 0, n = visible_gpus(spec, gpu_count); i < n; ++i) d.ids.push_back(i);
    } else if (rest == "local") {
      const int n = visible_gpus(spec, gpu_count);
      if (local_rank >= n)
        fail_input("--devices gpu:local: this is process {} on its host but only {} GPUs are visible: more replicas "
                   "than devices", local_rank, n);
      d.ids = {local_rank};
    } else {
      d.ids = parse_ordinals(spec, rest, gpu_count);
    }
  } else {
    fail_input("--devices '{}': unknown device kind '{}'; {}", spec, kind, kForms);
  }
  if (d.kind != backend_kind)
    fail_input("--devices {} names {} devices but the backend runs on {}", spec, d.kind == DeviceKind::cpu ? "CPU" : "GPU",
               backend_kind == DeviceKind::cpu ? "the CPU" : "GPUs");
  return d;
}

}  // namespace cnnb
