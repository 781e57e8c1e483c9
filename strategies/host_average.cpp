#include "strategies/host_average.h"

#include <algorithm>

namespace cnnb {

HostAverage::HostAverage(ReplicaSet& rs, int64_t count) : count_(count), mean_(rs[0].device(), size_t(count)) {
  for (int i = 0; i < rs.size(); ++i) staged_.emplace_back(rs[i].device(), size_t(count));
}

void HostAverage::gather_mean(ReplicaSet& rs, Communicator& comm, float* (*pick)(Replica&)) {
  const int n = rs.size();
  rs.run_all([&](Replica& r) {
    auto& s = staged_[size_t(r.local_index())];
    r.device().download(s.data(), pick(r), s.bytes());
  });
  // The sum is split into one slice per replica thread; each element is still summed in replica order.
  const int64_t per = (count_ / n + 15) / 16 * 16;
  rs.run_all([&](Replica& r) {
    const int64_t b = std::min(count_, r.local_index() * per);
    const int64_t e = r.local_index() + 1 == n ? count_ : std::min(count_, b + per);
    for (int64_t i = b; i < e; ++i) {
      float s = staged_[0][size_t(i)];
      for (int k = 1; k < n; ++k) s += staged_[size_t(k)][size_t(i)];
      mean_[size_t(i)] = s;
    }
  });
  comm.processes().allreduce_sum(mean());
  const float world = float(comm.world_replicas());
  for (float& v : mean_) v /= world;
}

void HostAverage::scatter(ReplicaSet& rs, const float* host, float* (*pick)(Replica&)) {
  rs.run_all([&](Replica& r) {
    r.device().upload(pick(r), host, size_t(count_) * sizeof(float));
    r.device().synchronize();
  });
}

}  // namespace cnnb
