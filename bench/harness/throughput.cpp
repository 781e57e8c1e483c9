#include "bench/harness/throughput.h"

#include "strategies/comm/process_group.h"

namespace cnnb {

double step_seconds(const std::vector<StepTimes>& steps, std::size_t first) {
  double s = 0;
  for (std::size_t i = first; i < steps.size(); ++i) s += steps[i].total();
  return s;
}

void take_slowest_rank(ProcessGroup& pg, std::vector<StepTimes>& steps, std::size_t first) {
  if (pg.size() == 1) return;
  constexpr std::size_t kFields = 10;
  std::vector<double> mine;
  for (std::size_t i = first; i < steps.size(); ++i) {
    const StepTimes& t = steps[i];
    mine.insert(mine.end(), {t.data, t.h2d, t.forward, t.backward, t.exchange, t.update, t.exchange_bytes, t.exchange_busy,
                             t.metrics, t.numerics});
  }
  const std::vector<double> all = pg.gather(mine);
  if (!pg.root()) return;
  const std::size_t n = steps.size() - first;
  for (std::size_t s = 0; s < n; ++s) {
    StepTimes best = steps[first + s];
    for (int r = 0; r < pg.size(); ++r) {
      const double* f = all.data() + (std::size_t(r) * n + s) * kFields;
      const StepTimes t{f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8], f[9]};
      if (t.total() > best.total()) best = t;
    }
    steps[first + s] = best;
  }
}

}  // namespace cnnb
