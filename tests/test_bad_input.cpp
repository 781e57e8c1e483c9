// docs/BAD-INPUT.md's table, row by row, through the real CLI: the message a user reads, the exit
// code a script sees, and that nothing was written or overwritten. Rows whose CLI test lives beside its
// feature (test_cli, test_strategies, test_sweep, ...) are not repeated here.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdlib>
#include <fstream>
#include <optional>

#include "core/device.h"
#include "tests/cli_runner.h"

namespace cnnb {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;
using test::CliResult;
using test::run_cli;
using test::TempDir;
using Bytes = std::vector<uint8_t>;

const std::string kData = "synthetic:n=64,shape=1x8x8,classes=4,test=16";
const std::string kModel = "conv3x3x4,relu,maxpool2,fc4";
const std::string kTrain = "train --dataset " + kData + " --model " + kModel + " --batch 16 --epochs 1 --steps 2 --warmup 0";

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
  return n;
}

// One error line that starts with `message`, and the exit code.
void expect_refused(const CliResult& r, const std::string& message, int code = 2) {
  EXPECT_EQ(r.exit_code, code) << r.out;
  EXPECT_THAT(r.out, HasSubstr("cnnbench: error: " + message));
  EXPECT_EQ(count(r.out, "error:"), 1u) << r.out;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const fs::path& p, std::string_view bytes) { std::ofstream(p, std::ios::binary) << bytes; }
void write_bytes(const fs::path& p, const Bytes& b) {
  write_bytes(p, std::string_view(reinterpret_cast<const char*>(b.data()), b.size()));
}

void write_gz(const fs::path& p, const Bytes& bytes) {
  gzFile f = gzopen(p.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(gzwrite(f, bytes.data(), unsigned(bytes.size())), int(bytes.size()));
  gzclose(f);
}

Bytes idx(uint32_t magic, const std::vector<uint32_t>& dims, size_t payload, uint8_t fill) {
  Bytes b;
  auto put = [&](uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) b.push_back(uint8_t(v >> s));
  };
  put(magic);
  for (auto d : dims) put(d);
  for (size_t i = 0; i < payload; ++i) b.push_back(uint8_t((i * 7 + fill) % 10));  // labels 0..9, images too
  return b;
}

// A raw (not gzip) MNIST-format directory of 40 + 10 8x8 images with labels 0..9.
void write_mnist(const fs::path& dir) {
  for (const auto& [prefix, n] : {std::pair<std::string, uint32_t>{"train", 40}, {"t10k", 10}}) {
    write_bytes(dir / (prefix + "-images-idx3-ubyte"), idx(0x803, {n, 8, 8}, n * 64, 3));
    write_bytes(dir / (prefix + "-labels-idx1-ubyte"), idx(0x801, {n}, n, 1));
  }
}

std::string mnist_train(const fs::path& dir) {
  return fmt::format("train --dataset mnist:{} --model conv3x3x2,fc10 --batch 8 --epochs 1", dir.string());
}

// ---- the command line itself

TEST(BadInput, UnknownFlagIsExitTwo) {
  const auto r = run_cli(kTrain + " --bacth");
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_THAT(r.out, HasSubstr("The following argument was not expected: --bacth"));
}

TEST(BadInput, MissingCommandIsExitTwo) {
  const auto r = run_cli("");
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_THAT(r.out, HasSubstr("A subcommand is required"));
}

TEST(BadInput, FlagWithoutItsValueIsExitTwo) {
  const auto r = run_cli("train --batch");
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_THAT(r.out, HasSubstr("--batch: 1 required TEXT missing"));
}

TEST(BadInput, HelpAndVersionAreNotErrors) {
  EXPECT_EQ(run_cli("train --help").exit_code, 0);
  EXPECT_EQ(run_cli("--version").exit_code, 0);
}

// ---- train's flags and output files

TEST(BadInput, OutInADirectoryNoFileCanBeMadeInFailsBeforeTraining) {
  // /proc refuses new files even to root, for whom access(W_OK) says yes.
  const auto r = run_cli(kTrain + " --out /proc/cnnbench-run.json");
  expect_refused(r, "--out /proc/cnnbench-run.json: directory /proc is not writable");
  EXPECT_THAT(r.out, Not(HasSubstr("epoch")));
}

TEST(BadInput, OutIsADirectory) {
  TempDir dir;
  expect_refused(run_cli(fmt::format("{} --out '{}'", kTrain, dir.path().string())),
                 fmt::format("--out {}: is a directory; expected a file name", dir.path().string()));
}

TEST(BadInput, SaveInADirectoryNoFileCanBeMadeIn) {
  TempDir dir;
  const auto r = run_cli(fmt::format("{} --save /proc/w.safetensors --out '{}'", kTrain, (dir / "run.json").string()));
  expect_refused(r, "--save /proc/w.safetensors: directory /proc is not writable");
  EXPECT_FALSE(fs::exists(dir / "run.json"));
}

TEST(BadInput, MomentumOutOfRange) {
  expect_refused(run_cli(kTrain + " --optimizer sgd --momentum 1"), "--momentum must be in [0, 1), got 1");
}

TEST(BadInput, NegativeSteps) {
  expect_refused(run_cli(kTrain + " --steps -1"), "--steps must be 0 (a full epoch) or positive, got -1");
}

TEST(BadInput, KernelOverrideWithoutAVariant) {
  expect_refused(run_cli(kTrain + " --kernel conv_fwd"), "--kernel conv_fwd: expected op=variant");
}

TEST(BadInput, ModelSpecWithAnImpossibleFilterCount) {
  const auto r = run_cli(kTrain + " --model conv3x3x0,fc4");
  expect_refused(r, "");
  EXPECT_THAT(r.out, HasSubstr("filter count must be in [1, 65536], got 0"));
}

TEST(BadInput, BatchLargerThanTheTrainingSet) {
  TempDir dir;
  const auto r = run_cli(fmt::format("{} --batch 128 --out '{}'", kTrain, (dir / "run.json").string()));
  expect_refused(r, fmt::format("--batch 128 is larger than the training set of {} (64 images)", kData));
  EXPECT_FALSE(fs::exists(dir / "run.json"));
}

// ---- datasets

TEST(BadInput, SyntheticSpecWithAnUnknownKey) {
  const std::string spec = "synthetic:n=64,shape=1x8x8,classes=4,colour=red";
  expect_refused(run_cli(fmt::format("train --dataset {} --model {}", spec, kModel)),
                 fmt::format("synthetic spec '{}': unknown key 'colour'", spec));
}

TEST(BadInput, TruncatedIdxFile) {
  TempDir dir;
  write_mnist(dir.path());
  fs::resize_file(dir / "train-images-idx3-ubyte", 16 + 40 * 64 - 1);
  const auto r = run_cli(fmt::format("{} --out '{}'", mnist_train(dir.path()), (dir / "run.json").string()));
  expect_refused(r, (dir / "train-images-idx3-ubyte").string() +
                        ": truncated: the file is 2575 bytes but its IDX header describes 2576");
  EXPECT_FALSE(fs::exists(dir / "run.json"));
}

TEST(BadInput, CorruptGzipDatasetFile) {
  TempDir dir;
  write_mnist(dir.path());
  // Random-looking data is stored, not Huffman-coded: flipped bytes reach the CRC-32 check.
  Bytes images = idx(0x803, {40, 8, 8}, 0, 0);
  for (uint32_t i = 0, x = 12345; i < 40 * 64; ++i) images.push_back(uint8_t((x = x * 1103515245u + 12345u) >> 24));
  write_gz(dir / "train-images-idx3-ubyte.gz", images);
  fs::remove(dir / "train-images-idx3-ubyte");
  std::string gz = slurp(dir / "train-images-idx3-ubyte.gz");
  for (size_t i = gz.size() / 2; i < gz.size() / 2 + 8; ++i) gz[i] = char(gz[i] ^ 0x5A);
  write_bytes(dir / "train-images-idx3-ubyte.gz", gz);
  expect_refused(run_cli(mnist_train(dir.path())),
                 (dir / "train-images-idx3-ubyte.gz").string() + ": corrupt gzip data (zlib: ");
}

TEST(BadInput, TruncatedGzipDatasetFile) {
  TempDir dir;
  write_mnist(dir.path());
  write_gz(dir / "t10k-images-idx3-ubyte.gz", idx(0x803, {10, 8, 8}, 10 * 64, 5));
  fs::remove(dir / "t10k-images-idx3-ubyte");
  const std::string gz = slurp(dir / "t10k-images-idx3-ubyte.gz");
  write_bytes(dir / "t10k-images-idx3-ubyte.gz", gz.substr(0, gz.size() / 2));
  const auto r = run_cli(mnist_train(dir.path()));
  expect_refused(r, (dir / "t10k-images-idx3-ubyte.gz").string());
  EXPECT_THAT(r.out, HasSubstr("gzip stream ends early"));
}

TEST(BadInput, MissingDatasetFile) {
  TempDir dir;
  write_mnist(dir.path());
  fs::remove(dir / "t10k-labels-idx1-ubyte");
  const auto r = run_cli(mnist_train(dir.path()));
  expect_refused(r, "");
  EXPECT_THAT(r.out, HasSubstr(dir.path().string()));
  EXPECT_THAT(r.out, HasSubstr("t10k-labels-idx1-ubyte"));
}

void write_cifar(const fs::path& dir, int records_per_file) {
  std::string batch;
  for (int r = 0; r < records_per_file; ++r) {
    batch.push_back(char(r % 10));
    batch.append(3072, char(r));
  }
  for (int b = 1; b <= 5; ++b) write_bytes(dir / fmt::format("data_batch_{}.bin", b), batch);
  write_bytes(dir / "test_batch.bin", batch);
}

std::string cifar_train(const fs::path& dir) {
  return fmt::format("train --dataset cifar10:{} --model conv5x5x2,relu,maxpool4,fc10 --batch 8 --epochs 1", dir.string());
}

TEST(BadInput, CifarFileNotWholeRecords) {
  TempDir dir;
  write_cifar(dir.path(), 2);
  std::ofstream(dir / "data_batch_2.bin", std::ios::app | std::ios::binary) << "12345";
  expect_refused(run_cli(cifar_train(dir.path())),
                 (dir / "data_batch_2.bin").string() +
                     ": size 6151 bytes is not a positive multiple of the 3073-byte CIFAR-10 record");
}

TEST(BadInput, CifarLabelOutOfRange) {
  TempDir dir;
  write_cifar(dir.path(), 2);
  std::string batch = slurp(dir / "test_batch.bin");
  batch[3073] = 10;
  write_bytes(dir / "test_batch.bin", batch);
  expect_refused(run_cli(cifar_train(dir.path())),
                 (dir / "test_batch.bin").string() + ": record 1 has label 10; expected 0..9");
}

// ---- strategies and devices

TEST(BadInput, NcclBetweenCpuReplicas) {
  const auto r = run_cli(kTrain + " --strategy allreduce --devices cpu:2 --comm nccl");
#if CNNB_HAVE_NCCL
  expect_refused(r, "--comm nccl exchanges between GPUs, but backend cpu-ref runs on the CPU");
#else
  expect_refused(r, "--comm nccl: this cnnbench was built without CUDA and NCCL");
#endif
}

TEST(BadInput, MoreCpuReplicasThanTheLimit) {
  expect_refused(run_cli(kTrain + " --strategy allreduce --devices cpu:300"),
                 "--devices cpu:300: the number of CPU replicas must be in [1, 256], got 300");
}

TEST(BadInput, CheckpointsWithTower) {
  TempDir dir;
  expect_refused(run_cli(fmt::format("{} --strategy tower --devices cpu:2 --checkpoint-every 1 --checkpoint-dir '{}'", kTrain,
                                     (dir / "ck").string())),
                 "--checkpoint-every/--resume are not supported with --strategy tower");
  EXPECT_FALSE(fs::exists(dir / "ck"));
}

// ---- backends

TEST(BadInput, VerifyGpuBackendWithoutAGpu) {
  if (cuda_device_count() > 0) GTEST_SKIP() << "this machine has a GPU";
  const auto r = run_cli("verify --backend cudnn");
#if CNNB_HAVE_CUDNN
  // The checks that need a device are marked skipped, not failed.
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("SKIPPED ("));
  EXPECT_THAT(r.out, HasSubstr(" 0 failed"));
#else
  expect_refused(r, "backend 'cudnn' is not available in this build");
#endif
}

// ---- weights (safetensors)

std::string le64(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[size_t(i)] = char(v >> (8 * i));
  return s;
}

std::string safetensors(const std::string& header, size_t data_bytes) {
  return le64(header.size()) + header + std::string(data_bytes, '\0');
}

TEST(BadInput, WeightsHeaderLongerThanTheFile) {
  TempDir dir;
  write_bytes(dir / "w.safetensors", le64(1000) + "{}");
  const auto r = run_cli(fmt::format("{} --init '{}' --out '{}'", kTrain, (dir / "w.safetensors").string(),
                                     (dir / "run.json").string()));
  expect_refused(r, (dir / "w.safetensors").string() +
                        ": header length 1000 is longer than the file (2 bytes after the length field)");
  EXPECT_THAT(r.out, Not(HasSubstr("epoch")));
  EXPECT_FALSE(fs::exists(dir / "run.json"));
}

TEST(BadInput, WeightsOffsetsOutOfRange) {
  TempDir dir;
  write_bytes(dir / "w.safetensors", safetensors(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 8));
  expect_refused(run_cli(fmt::format("eval --model {} --dataset {} --weights '{}'", kModel, kData,
                                     (dir / "w.safetensors").string())),
                 (dir / "w.safetensors").string() + ": tensor a: data_offsets [0, 16] out of range");
}

TEST(BadInput, WeightsWithOverlappingTensors) {
  TempDir dir;
  write_bytes(dir / "w.safetensors", safetensors(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                                 R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                                                 8));
  const auto r = run_cli(fmt::format("eval --model {} --dataset {} --weights '{}'", kModel, kData,
                                     (dir / "w.safetensors").string()));
  expect_refused(r, (dir / "w.safetensors").string() + ": ");
  EXPECT_THAT(r.out, HasSubstr("overlap"));
}

// conv3x3x4,relu,maxpool2,fc4 on 1x8x8: conv1 [4,1,3,3] + [4], fc1 [4,36] + [4].
TEST(BadInput, WeightsOfTheWrongDtypeMissingAndExtraTensorsOverwriteNothing) {
  TempDir dir;
  const std::string header =
      R"({"conv1.weight":{"dtype":"F32","shape":[4,1,3,3],"data_offsets":[0,144]},)"
      R"("conv1.bias":{"dtype":"F64","shape":[4],"data_offsets":[144,176]},)"
      R"("fc1.weight":{"dtype":"F32","shape":[4,36],"data_offsets":[176,752]},)"
      R"("extra":{"dtype":"F32","shape":[1],"data_offsets":[752,756]}})";
  write_bytes(dir / "w.safetensors", safetensors(header, 756));
  write_bytes(dir / "keep.safetensors", std::string("previous weights"));
  const auto r = run_cli(fmt::format("{} --init '{}' --save '{}' --out '{}'", kTrain, (dir / "w.safetensors").string(),
                                     (dir / "keep.safetensors").string(), (dir / "run.json").string()));
  expect_refused(r, (dir / "w.safetensors").string() + ": the weights do not fit model");
  EXPECT_THAT(r.out, HasSubstr("conv1.bias: dtype F64, expected F32"));
  EXPECT_THAT(r.out, HasSubstr("missing fc1.bias (expected F32 [4])"));
  EXPECT_THAT(r.out, HasSubstr("extra extra (F32 [1])"));
  EXPECT_EQ(slurp(dir / "keep.safetensors"), "previous weights");
  EXPECT_FALSE(fs::exists(dir / "run.json"));
}

TEST(BadInput, EvalOfAMissingWeightsFile) {
  TempDir dir;
  expect_refused(run_cli(fmt::format("eval --model {} --dataset {} --weights '{}'", kModel, kData,
                                     (dir / "none.safetensors").string())),
                 fmt::format("cannot open {}: No such file or directory", (dir / "none.safetensors").string()));
}

// ---- checkpoints

// A checkpoint directory written by kTrain (adam, conv3x3x4) at step 2.
fs::path write_checkpoint(const TempDir& dir) {
  const auto r = run_cli(fmt::format("{} --checkpoint-every 2 --checkpoint-dir '{}'", kTrain, (dir / "ck").string()));
  EXPECT_EQ(r.exit_code, 0) << r.out;
  return dir / "ck";
}

TEST(BadInput, ResumeWithAnotherModel) {
  TempDir dir;
  const fs::path ck = write_checkpoint(dir);
  const auto r = run_cli(fmt::format("train --dataset {} --model conv3x3x2,relu,maxpool2,fc4 --batch 16 --steps 2 "
                                     "--resume '{}' --out '{}'", kData, ck.string(), (dir / "run.json").string()));
  expect_refused(r, (ck / "ckpt-000000002.safetensors").string() +
                        ": the checkpoint was written by a different configuration: model_spec: checkpoint has "
                        "\"conv3x3x4,relu,maxpool2,fc4\", this run has \"conv3x3x2,relu,maxpool2,fc4\"");
  EXPECT_FALSE(fs::exists(dir / "run.json"));
  EXPECT_TRUE(fs::exists(ck / "ckpt-000000002.safetensors"));
}

TEST(BadInput, ResumeWithAnotherOptimizer) {
  TempDir dir;
  const fs::path ck = write_checkpoint(dir);
  const auto r = run_cli(fmt::format("{} --optimizer sgd --resume '{}'", kTrain, ck.string()));
  expect_refused(r, (ck / "ckpt-000000002.safetensors").string() + ": the checkpoint was written by a different configuration");
  EXPECT_THAT(r.out, HasSubstr("optimizer: checkpoint has \"adam\", this run has \"sgd\""));
}

TEST(BadInput, ResumeFromNothing) {
  TempDir dir;
  expect_refused(run_cli(fmt::format("{} --resume '{}'", kTrain, (dir / "none").string())),
                 fmt::format("--resume {}: no such file", (dir / "none").string()));
}

TEST(BadInput, InitAndResumeTogether) {
  TempDir dir;
  expect_refused(run_cli(fmt::format("{} --init '{}' --resume '{}'", kTrain, (dir / "w.safetensors").string(),
                                     (dir / "ck").string())),
                 "--init and --resume both set the parameters: give one of them");
}

// ---- search spaces

TEST(BadInput, SearchSpaceWithAnInvalidChoice) {
  TempDir dir;
  write_bytes(dir / "s.toml", std::string("[genes]\nfilters = [4]\nkernel = [4]\n"));
  expect_refused(run_cli(fmt::format("search --space '{}' --out '{}'", (dir / "s.toml").string(), (dir / "r.jsonl").string())),
                 (dir / "s.toml").string() + ": gene kernel: invalid choice 4; expected an odd integer");
  EXPECT_FALSE(fs::exists(dir / "r.jsonl"));
}

TEST(BadInput, SearchSpaceWithAnUnknownGene) {
  TempDir dir;
  write_bytes(dir / "s.toml", std::string("[genes]\nwidth = [4]\n"));
  const auto r =
      run_cli(fmt::format("search --space '{}' --out '{}'", (dir / "s.toml").string(), (dir / "r.jsonl").string()));
  expect_refused(r, (dir / "s.toml").string());
  EXPECT_THAT(r.out, HasSubstr("unknown gene 'width'"));
  EXPECT_FALSE(fs::exists(dir / "r.jsonl"));
}

// ---- sweeps and reports

TEST(BadInput, SweepTomlWithAnImpossibleValue) {
  TempDir dir;
  write_bytes(dir / "s.toml", std::string("epochs = 1\nbatches = [64, -1]\n"));
  expect_refused(run_cli(fmt::format("sweep --config '{}' --out '{}'", (dir / "s.toml").string(), (dir / "r.jsonl").string())),
                 (dir / "s.toml").string() + ":2:16: batches: -1 is out of range; expected a positive batch size");
  EXPECT_FALSE(fs::exists(dir / "r.jsonl"));
}

// One real run record of `backend` as a results line.
std::string record_line(const TempDir& dir, const std::string& backend) {
  const fs::path f = dir / ("run-" + backend + ".json");
  const auto r = run_cli(fmt::format("{} --backend {} --threads 1 --out '{}'", kTrain, backend, f.string()));
  EXPECT_EQ(r.exit_code, 0) << r.out;
  std::string s = slurp(f);
  std::erase(s, '\n');
  return s + "\n";
}

class ReportInput : public ::testing::Test {
 protected:
  // Rendering is beside the point here, and gnuplot is slow on a busy machine.
  void SetUp() override {
    if (const char* v = std::getenv("CNNB_GNUPLOT")) saved_ = v;
    ::setenv("CNNB_GNUPLOT", "", 1);
  }
  void TearDown() override {
    if (saved_)
      ::setenv("CNNB_GNUPLOT", saved_->c_str(), 1);
    else
      ::unsetenv("CNNB_GNUPLOT");
  }
  TempDir dir;

 private:
  std::optional<std::string> saved_;
};

TEST_F(ReportInput, AMalformedLineIsAWarningNamingFileAndLine) {
  const fs::path f = dir / "r.jsonl";
  write_bytes(f, record_line(dir, "cpu-ref") + "not json\n" + record_line(dir, "cpu-gemm"));
  const auto r = run_cli(fmt::format("report '{}' --out '{}'", f.string(), (dir / "rep").string()));
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr(fmt::format("warning: {}:2: not valid JSON", f.string())));
  EXPECT_EQ(count(r.out, "warning:"), 1u) << r.out;
  EXPECT_THAT(slurp(dir / "rep" / "index.md"), HasSubstr("Runs: **2 ok**"));
}

TEST_F(ReportInput, NoBaselineIsSaidNotInvented) {
  const fs::path f = dir / "r.jsonl";
  write_bytes(f, record_line(dir, "cpu-gemm"));
  const auto r = run_cli(fmt::format("report '{}' --out '{}'", f.string(), (dir / "rep").string()));
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(slurp(dir / "rep" / "index.md"), HasSubstr("No baseline: these results have no cpu-ref single"));
}

TEST_F(ReportInput, AnEmptyResultsFileGivesAReportThatSaysSo) {
  write_bytes(dir / "r.jsonl", std::string());
  const auto r = run_cli(fmt::format("report '{}' --out '{}'", (dir / "r.jsonl").string(), (dir / "rep").string()));
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(slurp(dir / "rep" / "index.md"), HasSubstr("**The results are empty**: no valid run record was found."));
}

TEST_F(ReportInput, WithoutGnuplotTheDataAndScriptsAreStillWritten) {
  const fs::path f = dir / "r.jsonl";
  write_bytes(f, record_line(dir, "cpu-ref"));
  const auto r = run_cli(fmt::format("report '{}' --out '{}'", f.string(), (dir / "rep").string()));
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("gnuplot was not found"));
  EXPECT_TRUE(fs::exists(dir / "rep" / "charts" / "speedup_1.dat"));
  EXPECT_TRUE(fs::exists(dir / "rep" / "charts" / "speedup_1.gp"));
  EXPECT_FALSE(fs::exists(dir / "rep" / "charts" / "speedup_1.svg"));
}

TEST_F(ReportInput, AMissingResultsFile) {
  expect_refused(run_cli(fmt::format("report '{}' --out '{}'", (dir / "none.jsonl").string(), (dir / "rep").string())),
                 (dir / "none.jsonl").string() + ": no such file");
  EXPECT_FALSE(fs::exists(dir / "rep"));
}

TEST_F(ReportInput, AnOutputDirectoryThatCannotBeMade) {
  write_bytes(dir / "r.jsonl", std::string());
  expect_refused(run_cli(fmt::format("report '{}' --out /proc/cnnbench-report", (dir / "r.jsonl").string())),
                 "--out /proc/cnnbench-report: cannot create the report directory");
}

}  // namespace
}  // namespace cnnb
