// Weights saved by `cnnbench train --save` load into PyTorch: a plain read of the safetensors file
// (struct + json), torch.nn.Module.load_state_dict(strict=True) on the `simple` model built in torch,
// and the same logits as cnnbench's forward pass on a fixed input. Runs when a python3 can import
// torch (Debian: python3-torch, which bench/peers/setup installs); skips saying so otherwise.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "backends/backend.h"
#include "cli_runner.h"
#include "core/device.h"
#include "core/model_spec.h"
#include "model/network.h"
#include "core/safetensors.h"

namespace cnnb {
namespace {

using test::TempDir;

struct Output {
  int status = -1;
  std::string out;
};

Output run(const std::string& cmd) {
  Output o;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return o;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) o.out.append(buf, n);
  const int st = ::pclose(p);
  o.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return o;
}

// Debian's torch is visible to the system interpreter only (pyenv shims hide dist-packages).
std::optional<std::string> python_with_torch() {
  for (const char* py : {"/usr/bin/python3", "python3"})
    if (run(fmt::format("{} -c 'import torch' 2>/dev/null", py)).status == 0) return py;
  return std::nullopt;
}

TEST(TorchCompat, SavedWeightsLoadStrictlyAndGiveTheSameLogits) {
  const auto python = python_with_torch();
  if (!python) GTEST_SKIP() << "no python3 here can `import torch` (Debian: apt-get install python3-torch)";
  TempDir dir;
  const std::string data = "synthetic:n=256,shape=1x28x28,classes=10,test=16";
  const auto trained = test::run_cli(fmt::format("train --model simple --dataset {} --backend cpu-gemm --batch 32 "
                                                 "--steps 3 --epochs 1 --test-limit 16 --save {}",
                                                 data, (dir / "w.safetensors").string()));
  ASSERT_EQ(trained.exit_code, 0) << trained.out;

  // A fixed input, not a dataset image: nothing but the file and this formula crosses over.
  constexpr int kImages = 3;
  const Shape shape{1, 28, 28};
  std::vector<float> x(size_t(kImages) * size_t(shape.size()));
  for (size_t i = 0; i < x.size(); ++i) x[i] = float(0.5 + 0.5 * std::sin(0.37 * double(i)));
  {
    std::ofstream f(dir / "x.f32", std::ios::binary);
    f.write(reinterpret_cast<const char*>(x.data()), std::streamsize(x.size() * sizeof(float)));
  }

  // cnnbench's forward pass with the saved weights, on the sequential reference backend.
  const ModelPlan plan = plan_model(parse_model("simple"), shape, 10);
  const std::vector<float> w = load_weights(dir / "w.safetensors", plan);
  const auto dev = make_cpu_device(0, 1);
  Network<float> net(plan, resolve_backend("cpu-ref"), *dev, kImages);
  dev->upload(net.params(), w.data(), w.size() * sizeof(float));
  dev->upload(net.input(), x.data(), x.size() * sizeof(float));
  net.forward(kImages, false);
  const std::vector<float> ours = net.logits(kImages);

  const Output py = run(fmt::format("{} '{}/tests/torch_load_check.py' '{}' '{}' {} 2>&1", *python, CNNB_SOURCE_DIR,
                                    (dir / "w.safetensors").string(), (dir / "x.f32").string(), kImages));
  ASSERT_EQ(py.status, 0) << py.out;
  // The last line is the result (torch may print warnings before it).
  const std::string last = py.out.substr(py.out.find_last_of('\n', py.out.size() - 2) + 1);
  const nlohmann::json j = nlohmann::json::parse(last);
  EXPECT_EQ(j["format"], "pt");
  ASSERT_EQ(j["logits"].size(), size_t(kImages));
  double scale = 0, diff = 0;
  for (int n = 0; n < kImages; ++n) {
    ASSERT_EQ(j["logits"][n].size(), 10u);
    for (int k = 0; k < 10; ++k) {
      const double theirs = j["logits"][n][k].get<double>(), mine = ours[size_t(n) * 10 + size_t(k)];
      scale = std::max(scale, std::abs(mine));
      diff = std::max(diff, std::abs(theirs - mine));
    }
  }
  ASSERT_GT(scale, 0);
  // float32 in torch against float storage with double accumulation in cpu-ref: rounding only.
  EXPECT_LT(diff / scale, 1e-5) << "max |torch - cnnbench| = " << diff << " at logit scale " << scale;
}

}  // namespace
}  // namespace cnnb
