// The CLI as a user meets it: every bad input gives one clear message, a non-zero exit code and no
// output file; a good run writes a complete run record.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <zlib.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "core/device.h"
#include "tests/cli_runner.h"

#if CNNB_HAVE_CUDA
#include <cublas_api.h>
#include <cuda_runtime_api.h>
#endif
#if CNNB_HAVE_CUDNN
#include <cudnn_version.h>
#endif
#if CNNB_HAVE_NCCL
#include <nccl.h>
#endif

namespace cnnb {
namespace {

using ::testing::HasSubstr;
using test::run_cli;
using test::TempDir;

// Tiny learnable data and model: the whole run takes a fraction of a second.
const std::string kQuick =
    "train --dataset synthetic:n=256,shape=1x12x12,classes=4,test=64 --model conv3x3x4,relu,maxpool2,fc4 --batch 32";

struct BadCase {
  std::string name, args, expect;
};

void PrintTo(const BadCase& c, std::ostream* os) { *os << c.name; }

class CliBadInput : public ::testing::TestWithParam<BadCase> {};

TEST_P(CliBadInput, OneClearMessageNonZeroExitNoOutputFile) {
  TempDir dir;
  const auto out = dir / "run.json";
  const auto r = run_cli(fmt::format("{} --out '{}'", GetParam().args, out.string()));
  EXPECT_NE(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr(GetParam().expect));
  EXPECT_THAT(r.out, HasSubstr("error"));
  EXPECT_FALSE(std::filesystem::exists(out));
  // One message, not a cascade: a single "error" line.
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
}

INSTANTIATE_TEST_SUITE_P(
    Cli, CliBadInput,
    ::testing::Values(
        BadCase{"UnknownModel", kQuick + " --model nosuch", "unknown model 'nosuch'; expected a preset (simple, tfcifar)"},
        BadCase{"UnknownDataset", "train --dataset nosuch", "nosuch"},
        BadCase{"UnknownBackend", kQuick + " --backend nosuch", "unknown backend 'nosuch'; expected one of: cpu-ref"},
        BadCase{"BatchZero", kQuick + " --batch 0", "--batch must be a positive integer, got 0"},
        BadCase{"BatchNegative", kQuick + " --batch -3", "--batch must be a positive integer, got -3"},
        BadCase{"BatchNotANumber", kQuick + " --batch lots", "--batch must be a positive integer, got 'lots'"},
        BadCase{"EpochsZero", kQuick + " --epochs 0", "--epochs must be a positive integer, got 0"},
        BadCase{"LrZero", kQuick + " --lr 0", "--lr must be a positive number, got 0"},
        BadCase{"LrNegative", kQuick + " --lr -0.1", "--lr must be a positive number, got -0.1"},
        BadCase{"LrText", kQuick + " --lr fast", "--lr must be a positive number, got 'fast'"},
        BadCase{"UnknownOptimizer", kQuick + " --optimizer rmsprop", "unknown optimizer 'rmsprop'; expected one of: sgd, adam"},
        BadCase{"ModelShrinksBelowOnePixel", kQuick + " --model maxpool2,maxpool2,maxpool2,maxpool2,fc4",
                "layer 4 (maxpool2) needs an input of at least 2x2 but gets 1x1"},
        BadCase{"LastLayerNotClasses", kQuick + " --model conv3x3x4,fc7", "must end with fc4"},
        BadCase{"UnknownKernelVariant", kQuick + " --kernel conv_fwd=nosuch", "--kernel conv_fwd=nosuch: no such variant"},
        BadCase{"UnknownKernelOp", kQuick + " --kernel nosuch=ref", "--kernel nosuch=...: unknown op"}),
    [](const auto& info) { return info.param.name; });

TEST(Cli, OutInMissingDirectoryFailsBeforeTraining) {
  const auto r = run_cli(kQuick + " --out /nonexistent-cnnbench-dir/run.json");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.out, HasSubstr("--out /nonexistent-cnnbench-dir/run.json: directory /nonexistent-cnnbench-dir does not exist"));
  EXPECT_THAT(r.out, ::testing::Not(HasSubstr("epoch")));
}

TEST(Cli, OutInUnwritableDirectoryFails) {
  TempDir dir;
  // Root writes through permission bits (CI runs as root), but not into sysfs.
  const bool root = ::geteuid() == 0;
  const std::filesystem::path out = root ? std::filesystem::path("/sys/run.json") : dir / "run.json";
  if (!root)
    std::filesystem::permissions(dir.path(), std::filesystem::perms::owner_read | std::filesystem::perms::owner_exec);
  const auto r = run_cli(fmt::format("{} --out '{}'", kQuick, out.string()));
  std::filesystem::permissions(dir.path(), std::filesystem::perms::owner_all);
  EXPECT_FALSE(std::filesystem::exists(out));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.out, HasSubstr("is not writable"));
}

void write_gz(const std::filesystem::path& p, const std::vector<uint8_t>& bytes) {
  gzFile f = gzopen(p.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(gzwrite(f, bytes.data(), unsigned(bytes.size())), int(bytes.size()));
  gzclose(f);
}

std::vector<uint8_t> idx_header(uint32_t magic, std::vector<uint32_t> dims) {
  std::vector<uint8_t> h;
  auto put = [&](uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) h.push_back(uint8_t(v >> s));
  };
  put(magic);
  for (auto d : dims) put(d);
  return h;
}

// A small MNIST-format directory; `mutate` breaks one thing.
void write_mnist(const std::filesystem::path& dir, uint32_t image_magic, int train_labels, uint8_t max_label) {
  for (const auto& [prefix, n] : {std::pair<std::string, int>{"train", 40}, {"t10k", 10}}) {
    auto images = idx_header(image_magic, {uint32_t(n), 8, 8});
    images.resize(images.size() + size_t(n) * 64, 7);
    const int nl = prefix == "train" ? train_labels : n;
    auto labels = idx_header(0x801, {uint32_t(nl)});
    for (int i = 0; i < nl; ++i) labels.push_back(uint8_t(i % (max_label + 1)));
    write_gz(dir / (prefix + "-images-idx3-ubyte.gz"), images);
    write_gz(dir / (prefix + "-labels-idx1-ubyte.gz"), labels);
  }
}

TEST(Cli, DatasetErrorsNameTheFile) {
  const std::string model = " --model conv3x3x2,fc10 --batch 8 --epochs 1";
  {
    TempDir dir;
    write_mnist(dir.path(), 0x804, 40, 9);
    const auto r = run_cli(fmt::format("train --dataset mnist:{}{}", dir.path().string(), model));
    EXPECT_EQ(r.exit_code, 2) << r.out;
    EXPECT_THAT(r.out, HasSubstr("train-images-idx3-ubyte.gz"));
    EXPECT_THAT(r.out, HasSubstr("magic"));
  }
  {
    TempDir dir;
    write_mnist(dir.path(), 0x803, 39, 9);
    const auto r = run_cli(fmt::format("train --dataset mnist:{}{}", dir.path().string(), model));
    EXPECT_EQ(r.exit_code, 2) << r.out;
    EXPECT_THAT(r.out, HasSubstr("40"));
    EXPECT_THAT(r.out, HasSubstr("39"));
  }
  {
    TempDir dir;
    write_mnist(dir.path(), 0x803, 40, 10);  // label 10 with 10 classes
    const auto r = run_cli(fmt::format("train --dataset mnist:{}{}", dir.path().string(), model));
    EXPECT_EQ(r.exit_code, 2) << r.out;
    EXPECT_THAT(r.out, HasSubstr("label"));
    EXPECT_THAT(r.out, HasSubstr("10"));
  }
  {
    const auto r = run_cli("train --dataset mnist:/nonexistent-cnnbench-data" + model);
    EXPECT_EQ(r.exit_code, 2) << r.out;
    EXPECT_THAT(r.out, HasSubstr("/nonexistent-cnnbench-data"));
  }
}

TEST(Cli, TrainWritesACompleteRunRecord) {
  TempDir dir;
  const auto out = dir / "run.json";
  const auto r = run_cli(fmt::format("{} --epochs 2 --seed 3 --out '{}'", kQuick, out.string()));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("train_loss"));
  std::ifstream in(out);
  const auto j = nlohmann::json::parse(in);
  EXPECT_EQ(j["schema"], "cnnbench.run/1");
  EXPECT_EQ(j["status"], "ok");
  EXPECT_EQ(j["config"]["backend"], "cpu-ref");
  EXPECT_EQ(j["config"]["batch"], 32);
  EXPECT_EQ(j["config"]["seed"], 3);
  EXPECT_EQ(j["config"]["model_spec"], "conv3x3x4,relu,maxpool2,fc4");
  EXPECT_EQ(j["dataset"]["train"], 256);
  EXPECT_EQ(j["epochs"].size(), 2u);
  EXPECT_EQ(j["epochs"][1]["steps"], 8);
  EXPECT_EQ(j["ops"]["conv_fwd"], "conv_fwd/cpu/ref");
  EXPECT_TRUE(j["conv_algorithms"].is_object() && j["conv_algorithms"].empty());  // cuDNN only
  EXPECT_EQ(j["math"]["cudnn"], "CUDNN_FMA_MATH (no TF32)");
  // conv3x3x4 + fc4 on 1x12x12: 40 + 404 = 444 parameters; per image 400+400+100+4 = 904 activations,
  // the gradient of the logits (4), and the gradients of the other outputs in two buffers of the largest
  // (400); batch 32 of 144 pixels, labels and losses; Adam keeps two moments.
  const auto& m = j["memory"]["replica_bytes"];
  EXPECT_EQ(m["parameters"], 444 * 4);
  EXPECT_EQ(m["gradients"], 444 * 4);
  EXPECT_EQ(m["optimizer_state"], 2 * 444 * 4);
  EXPECT_EQ(m["activations"], (904 + 4 + 2 * 400) * 32 * 4);
  EXPECT_EQ(m["batch_buffers"], 32 * 144 * 4 + 32 * 4 + 32 * 4);
  // The CPU workspace, in whole 64 KiB: cpu-ref's pool backward sums one 10x10 plane in double (800 B).
  EXPECT_EQ(m["workspace"], 65536);
  EXPECT_EQ(m["total"], 4 * 444 * 4 + (904 + 4 + 2 * 400) * 32 * 4 + 32 * 144 * 4 + 2 * 32 * 4 + 65536);
  EXPECT_GT(j["memory"]["peak_host_rss_mib"].get<double>(), 0);
  EXPECT_EQ(j["timing"]["steps_measured"], 16 - 5);
  EXPECT_GT(j["timing"]["step_ms"]["median"].get<double>(), 0);
  EXPECT_LE(j["timing"]["step_ms"]["p10"].get<double>(), j["timing"]["step_ms"]["p90"].get<double>());
  // The step loop's wall time holds every measured step: the harness's overhead cannot be negative.
  const auto& harness = j["timing"]["harness"];
  EXPECT_GT(harness["loop_seconds"].get<double>(), 0);
  EXPECT_GE(harness["overhead_seconds"].get<double>(), -1e-6);
  EXPECT_NEAR(harness["overhead_share"].get<double>() * (harness["loop_seconds"].get<double>() -
                                                         harness["overhead_seconds"].get<double>()),
              harness["overhead_seconds"].get<double>(), 1e-9);
  EXPECT_EQ(j["environment"]["git_commit"].get<std::string>().empty(), false);
  EXPECT_GT(j["environment"]["logical_cores"].get<int>(), 0);
  EXPECT_GT(j["peak_rss_mib"].get<double>(), 0);
  // What CUDA offered, in a CPU-only build too; a reason exactly when no GPU was usable.
  const auto& cuda = j["environment"]["cuda"];
  EXPECT_EQ(cuda["reason"].is_string(), cuda["gpus"].empty()) << cuda.dump();
#if CNNB_HAVE_CUDA
  // A CPU run does not load the GPU module, so it does not ask CUDA (GpuModule.AGpuQuestionLoadsItOrSaysWhyNot:
  // once loaded, the record holds its answers).
  EXPECT_EQ(cuda["built_with_cuda"], true);
  EXPECT_EQ(cuda["queried"], false);
  EXPECT_EQ(cuda["reason"], "this process ran no GPU code, so it did not load the GPU module");
  EXPECT_EQ(cuda["runtime_built"], nullptr);
  EXPECT_EQ(cuda["cublas"], nullptr);
#else
  EXPECT_EQ(cuda["built_with_cuda"], false);
  EXPECT_EQ(cuda["runtime_version"], nullptr);
  EXPECT_EQ(cuda["reason"], "this cnnbench was built without CUDA (configure with the `cuda` preset)");
#endif
  // No temporary file left beside it.
  int files = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir.path())) ++files;
  EXPECT_EQ(files, 1);
}

TEST(Cli, ListNamesEverythingInTheBuild) {
  const auto r = run_cli("list");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  for (const char* s : {"simple", "tfcifar", "fashion-mnist", "synthetic:", "cpu-ref", "conv_fwd/cpu/ref", "adam_update/cpu/ref"})
    EXPECT_THAT(r.out, HasSubstr(s));
}

// The CUDA summary: this build's versions, each GPU or why there is none, and the count scripts/demo reads.
TEST(Cli, ListSaysWhichCudaAndWhyNoGpu) {
  const auto r = run_cli("list");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const auto at = r.out.find("\nCUDA:\n");
  ASSERT_NE(at, std::string::npos) << r.out;
  const std::string cuda = r.out.substr(at);
  const int n = cuda_device_count();
  EXPECT_THAT(cuda, ::testing::EndsWith(fmt::format("\nCUDA devices: {}\n", n)));
  if (n > 0) {
    EXPECT_THAT(cuda, HasSubstr("\n  gpu:0 "));
    EXPECT_THAT(cuda, HasSubstr(", compute capability "));
    EXPECT_THAT(cuda, ::testing::Not(HasSubstr("no usable GPU")));
  } else {
    EXPECT_THAT(cuda, HasSubstr("\n  no usable GPU: "));
    EXPECT_THAT(cuda, ::testing::Not(HasSubstr("0 devices"))) << "a reason, not a count";
  }
#if CNNB_HAVE_CUDA
  EXPECT_THAT(cuda, HasSubstr(fmt::format("\n  CUDA runtime: {0}.{1} loaded, built against {0}.{1}\n",
                                          CUDART_VERSION / 1000, CUDART_VERSION % 100 / 10)));
  EXPECT_THAT(cuda, HasSubstr(fmt::format("\n  cuBLAS: {0}.{1}.{2} loaded, built against {0}.{1}.{2}\n",
                                          CUBLAS_VER_MAJOR, CUBLAS_VER_MINOR, CUBLAS_VER_PATCH)));
#else
  EXPECT_THAT(cuda, HasSubstr("\n  no usable GPU: this cnnbench was built without CUDA (configure with the `cuda` "
                              "preset)\nCUDA devices: 0\n"));
#endif
#if CNNB_HAVE_CUDNN
  EXPECT_THAT(cuda, HasSubstr(fmt::format("\n  cuDNN: {0}.{1}.{2} loaded, built against {0}.{1}.{2}\n", CUDNN_MAJOR,
                                          CUDNN_MINOR, CUDNN_PATCHLEVEL)));
#endif
#if CNNB_HAVE_NCCL
  EXPECT_THAT(cuda, HasSubstr(fmt::format("\n  NCCL: {0}.{1}.{2} loaded, built against {0}.{1}.{2}\n", NCCL_MAJOR,
                                          NCCL_MINOR, NCCL_PATCH)));
#endif
}

}  // namespace
}  // namespace cnnb

namespace cnnb {
namespace {

TEST(Cli, GpuBackendWithoutAGpuFailsWithOneMessage) {
  if (cuda_device_count() > 0) GTEST_SKIP() << "this machine has a GPU";
  const auto r = run_cli(kQuick + " --backend cudnn");
  EXPECT_EQ(r.exit_code, 2) << r.out;
#if CNNB_HAVE_CUDNN
  // The reason is the CUDA environment's: no driver here. (Where the GPU module's libraries are missing,
  // resolving the backend fails first: ctest GpuModule.WithoutCudaLibrariesTheCpuSideRunsAndGpuRunsAreRefused.)
  EXPECT_THAT(r.out, ::testing::ContainsRegex("backend cudnn needs a CUDA device; none is usable: [a-z].+"));
#else
  EXPECT_THAT(r.out, HasSubstr("backend 'cudnn' is not available in this build"));
#endif
}

}  // namespace
}  // namespace cnnb
