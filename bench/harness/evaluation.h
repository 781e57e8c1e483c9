#pragma once
// The test-set pass that follows every epoch and `cnnbench eval`, and loading parameters into replicas.
#include <cstdint>
#include <utility>
#include <vector>

#include "datasets/dataset.h"
#include "model/network.h"
#include "strategies/replica.h"

namespace cnnb {

// The first `limit` test images (0 = all) through the network in batches: {mean loss, accuracy}.
std::pair<double, double> evaluate(Network<float>& net, const Dataset& data, int64_t limit, std::vector<float>& x,
                                   std::vector<int32_t>& y);

// The same parameters into every local replica.
void upload_all(ReplicaSet& rs, const std::vector<float>& params);

}  // namespace cnnb
