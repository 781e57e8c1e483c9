#include "bench/harness/evaluation.h"

#include <algorithm>
#include <span>

namespace cnnb {

std::pair<double, double> evaluate(Network<float>& net, const Dataset& data, int64_t limit, std::vector<float>& x,
                                   std::vector<int32_t>& y) {
  const Split& test = data.test;
  const int64_t n_total = limit > 0 ? std::min(limit, test.count()) : test.count();
  std::vector<int64_t> idx(size_t(net.max_batch()));
  double loss_sum = 0;
  int64_t correct = 0;
  for (int64_t start = 0; start < n_total; start += net.max_batch()) {
    const int n = int(std::min<int64_t>(net.max_batch(), n_total - start));
    for (int i = 0; i < n; ++i) idx[size_t(i)] = start + i;
    build_batch(test, data.shape, std::span(idx.data(), size_t(n)), x.data(), y.data());
    net.device().upload(net.input(), x.data(), size_t(n) * size_t(data.shape.size()) * sizeof(float));
    net.device().upload(net.labels(), y.data(), size_t(n) * sizeof(int32_t));
    net.forward(n, true);
    loss_sum += net.mean_loss(n) * n;
    const std::vector<float> logits = net.logits(n);
    for (int i = 0; i < n; ++i) {
      const float* row = logits.data() + size_t(i) * size_t(data.classes);
      const int pred = int(std::max_element(row, row + data.classes) - row);
      correct += pred == y[size_t(i)];
    }
  }
  return {loss_sum / double(n_total), double(correct) / double(n_total)};
}

void upload_all(ReplicaSet& rs, const std::vector<float>& params) {
  rs.run_all([&](Replica& rep) {
    rep.device().upload(rep.net().params(), params.data(), params.size() * sizeof(float));
    rep.device().synchronize();
  });
}

}  // namespace cnnb
