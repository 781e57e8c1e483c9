// Weights on disk: the safetensors layout byte for byte, a bit-exact round trip of a model's weights, and
// every malformed file refused with a message naming the file and the tensor.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>

#include <nlohmann/json.hpp>

#include "bench/harness/trainer.h"
#include "cli_runner.h"
#include "core/error.h"
#include "core/safetensors.h"
#include "tests/input_error.h"

namespace cnnb {
namespace {

using test::input_error;

using test::TempDir;

std::string le64(uint64_t v) {
  std::string s(8, '\0');
  std::memcpy(s.data(), &v, 8);
  return s;
}

// A file from a header given as JSON text and raw data.
std::string make_file(const std::string& header, const std::string& data) { return le64(header.size()) + header + data; }

std::string floats(std::initializer_list<float> v) {
  std::string s(v.size() * 4, '\0');
  std::memcpy(s.data(), std::data(v), s.size());
  return s;
}

TEST(Safetensors, EncodesTheDocumentedLayout) {
  const std::vector<int64_t> sa = {2}, sb = {1, 1};
  const std::vector<float> a = {1.0f, -2.0f}, b = {0.5f};
  const StTensorView views[] = {{"a", sa, a}, {"b", sb, b}};
  const std::string f = encode_safetensors(views, {{"format", "pt"}});
  uint64_t n = 0;
  std::memcpy(&n, f.data(), 8);
  ASSERT_EQ(n % 8, 0u);  // data 8-byte aligned
  ASSERT_EQ(f.size(), 8 + n + 12);
  const auto h = nlohmann::json::parse(f.substr(8, n));
  EXPECT_EQ(h["__metadata__"]["format"], "pt");
  EXPECT_EQ(h["a"]["dtype"], "F32");
  EXPECT_EQ(h["a"]["shape"], nlohmann::json({2}));
  EXPECT_EQ(h["a"]["data_offsets"], nlohmann::json({0, 8}));
  EXPECT_EQ(h["b"]["shape"], nlohmann::json({1, 1}));
  EXPECT_EQ(h["b"]["data_offsets"], nlohmann::json({8, 12}));
  // 1.0f = 0x3f800000, -2.0f = 0xc0000000, 0.5f = 0x3f000000, little-endian.
  const unsigned char expect[12] = {0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0, 0, 0, 0, 0x3f};
  EXPECT_EQ(std::memcmp(f.data() + 8 + n, expect, 12), 0);
}

TEST(Safetensors, ModelWeightsRoundTripBitExactly) {
  const ModelPlan plan = plan_model(parse_model("simple"), Shape{1, 28, 28}, 10);
  std::vector<float> w = init_params(plan, 3);
  // Values a text format would lose: signed zero, a subnormal, the extremes, a NaN with a payload.
  w[0] = -0.0f;
  w[1] = std::numeric_limits<float>::denorm_min();
  w[2] = std::numeric_limits<float>::max();
  w[3] = std::numeric_limits<float>::lowest();
  uint32_t nan_bits = 0x7fc01234;
  std::memcpy(&w[4], &nan_bits, 4);
  TempDir dir;
  const auto file = dir / "simple.safetensors";
  save_weights(file, plan, w);
  const StFile f = read_safetensors(file);
  ASSERT_EQ(f.tensors.size(), plan.params.size());
  EXPECT_EQ(f.find("conv1.weight")->shape, (std::vector<int64_t>{32, 1, 3, 3}));
  EXPECT_EQ(f.find("conv2.weight")->shape, (std::vector<int64_t>{64, 32, 3, 3}));
  EXPECT_EQ(f.find("fc1.weight")->shape, (std::vector<int64_t>{128, 1600}));
  EXPECT_EQ(f.find("fc2.bias")->shape, (std::vector<int64_t>{10}));
  const std::vector<float> back = load_weights(file, plan);
  ASSERT_EQ(back.size(), w.size());
  EXPECT_EQ(std::memcmp(back.data(), w.data(), w.size() * 4), 0);
}

TEST(Safetensors, MeasuresSaveAndLoadOfSimple) {
  const ModelPlan plan = plan_model(parse_model("simple"), Shape{1, 28, 28}, 10);
  const std::vector<float> w = init_params(plan, 3);
  TempDir dir;
  const auto t0 = std::chrono::steady_clock::now();
  save_weights(dir / "w.safetensors", plan, w);
  const auto t1 = std::chrono::steady_clock::now();
  const std::vector<float> back = load_weights(dir / "w.safetensors", plan);
  const auto t2 = std::chrono::steady_clock::now();
  const double save_ms = std::chrono::duration<double, std::milli>(t1 - t0).count();
  const double load_ms = std::chrono::duration<double, std::milli>(t2 - t1).count();
  RecordProperty("save_ms", std::to_string(save_ms));
  RecordProperty("load_ms", std::to_string(load_ms));
  std::printf("simple (%lld params): save %.2f ms (with fsync), load %.2f ms\n", (long long)plan.param_count, save_ms,
              load_ms);
  EXPECT_EQ(back, w);
}

TEST(Safetensors, ReadsAFileWithMetadataAndOtherDtypesInAnyOrder) {
  // Tensors listed out of offset order, an I64 tensor, padding spaces: as PyTorch's writer may produce.
  const std::string header =
      R"({"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]},"__metadata__":{"format":"pt"},)"
      R"("n":{"dtype":"I64","shape":[],"data_offsets":[0,8]}}   )";
  const StFile f = decode_safetensors(make_file(header, le64(7) + floats({2.5f})), "x");
  ASSERT_EQ(f.tensors.size(), 2u);
  EXPECT_EQ(f.tensors[0].name, "n");
  EXPECT_EQ(f.tensors[0].elements(), 1);
  EXPECT_EQ(f.tensors[1].to_f32(), std::vector<float>{2.5f});
  EXPECT_EQ(f.metadata.at("format"), "pt");
}

TEST(Safetensors, RefusesMalformedFilesWithClearMessages) {
  const std::string ok_data = floats({1, 2});
  const auto err = [&](const std::string& header, const std::string& data = floats({1, 2})) {
    return input_error([&] { decode_safetensors(make_file(header, data), "w.safetensors"); });
  };
  // Header longer than the file.
  EXPECT_NE(input_error([] { decode_safetensors(le64(100) + "{}", "w.safetensors"); }).find("longer than the file"),
            std::string::npos);
  // Header beyond the limit: refused before allocating.
  EXPECT_NE(input_error([] { decode_safetensors(le64(uint64_t(1) << 40) + "{}", "w.safetensors"); }).find("limit"),
            std::string::npos);
  EXPECT_NE(input_error([] { decode_safetensors("abc", "w.safetensors"); }).find("8-byte header length"), std::string::npos);
  EXPECT_NE(err("{not json}").find("not valid JSON"), std::string::npos);
  const std::string out_of_range = err(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})");
  EXPECT_NE(out_of_range.find("w.safetensors: tensor a: data_offsets [0, 16] out of range"), std::string::npos)
      << out_of_range;
  const std::string overlap = err(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                  R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})");
  EXPECT_NE(overlap.find("overlap"), std::string::npos) << overlap;
  const std::string gap = err(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})");
  EXPECT_NE(gap.find("gap"), std::string::npos) << gap;
  const std::string trailing = err(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})");
  EXPECT_NE(trailing.find("cover 4 bytes"), std::string::npos) << trailing;
  const std::string size = err(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})");
  EXPECT_NE(size.find("tensor a: data_offsets [0, 8] hold 8 bytes, but shape [3] of F32 needs 12"), std::string::npos)
      << size;
  const std::string dtype = err(R"({"a":{"dtype":"Q4","shape":[2],"data_offsets":[0,8]}})");
  EXPECT_NE(dtype.find("tensor a: unknown dtype Q4"), std::string::npos) << dtype;
  EXPECT_NE(err(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})").find("integer >= 0"), std::string::npos);
  EXPECT_NE(err(R"({"a":{"dtype":"F32","shape":[2]}})").find("expected an object with dtype, shape and data_offsets"),
            std::string::npos);
}

TEST(Safetensors, ReadRefusesATruncatedFileBeforeReadingIt) {
  TempDir dir;
  const ModelPlan plan = plan_model(parse_model("conv3x3x2,relu,fc3"), Shape{1, 5, 5}, 3);
  save_weights(dir / "w.safetensors", plan, init_params(plan, 1));
  std::filesystem::resize_file(dir / "w.safetensors", 20);
  const std::string e = input_error([&] { read_safetensors(dir / "w.safetensors"); });
  EXPECT_NE(e.find((dir / "w.safetensors").string()), std::string::npos) << e;
  EXPECT_NE(e.find("truncated"), std::string::npos) << e;
}

TEST(Safetensors, MismatchListsEveryDifference) {
  const ModelPlan plan = plan_model(parse_model("conv3x3x2,relu,fc3"), Shape{1, 5, 5}, 3);
  // conv1.weight has the wrong shape, conv1.bias is F64, fc1.bias is missing, "extra" is not in the model.
  const std::vector<int64_t> s_w = {2, 1, 3, 2}, s_fc = {3, 18}, s_x = {1};
  const std::vector<float> w(12), fc(54), x(1);
  const StTensorView views[] = {{"conv1.weight", s_w, w}, {"fc1.weight", s_fc, fc}, {"extra", s_x, x}};
  StFile f = decode_safetensors(encode_safetensors(views, {}), "m.safetensors");
  StTensor b;
  b.name = "conv1.bias";
  b.dtype = "F64";
  b.shape = {2};
  b.bytes.assign(16, '\0');
  f.tensors.push_back(b);
  const std::string e = input_error([&] { weights_from(f, plan, "m.safetensors"); });
  EXPECT_NE(e.find("m.safetensors: the weights do not fit model"), std::string::npos) << e;
  EXPECT_NE(e.find("conv1.weight: shape [2, 1, 3, 2], expected [2, 1, 3, 3]"), std::string::npos) << e;
  EXPECT_NE(e.find("conv1.bias: dtype F64, expected F32"), std::string::npos) << e;
  EXPECT_NE(e.find("missing fc1.bias (expected F32 [3])"), std::string::npos) << e;
  EXPECT_NE(e.find("extra extra (F32 [1])"), std::string::npos) << e;
  EXPECT_EQ(e.find("fc1.weight:"), std::string::npos) << e;  // that one fits
}

TEST(Safetensors, InitFromAFileStartsFromThoseWeights) {
  TrainConfig c;
  c.model = "conv3x3x4,relu,maxpool2,fc4";
  c.dataset = "synthetic:n=128,shape=1x10x10,classes=4,test=32";
  c.batch = 16;
  c.steps_per_epoch = 3;
  c.seed = 5;
  const Dataset data = load_dataset(c.dataset, c.seed);
  const ModelPlan plan = plan_model(parse_model(c.model), data.shape, data.classes);
  TempDir dir;
  c.save_weights = (dir / "a.safetensors").string();
  train(c, data, nullptr);
  // The same seeded initialisation, given as a file: the same training, bit for bit.
  save_weights(dir / "init5.safetensors", plan, init_params(plan, 5));
  save_weights(dir / "init6.safetensors", plan, init_params(plan, 6));
  TrainConfig b = c;
  b.init_weights = (dir / "init5.safetensors").string();
  b.save_weights = (dir / "b.safetensors").string();
  train(b, data, nullptr);
  EXPECT_EQ(load_weights(dir / "a.safetensors", plan), load_weights(dir / "b.safetensors", plan));
  b.init_weights = (dir / "init6.safetensors").string();
  train(b, data, nullptr);
  EXPECT_NE(load_weights(dir / "a.safetensors", plan), load_weights(dir / "b.safetensors", plan));
}

TEST(SafetensorsCli, SaveThenEvalGivesTheTrainingRunsTestAccuracy) {
  TempDir dir;
  const std::string data = "synthetic:n=256,shape=1x10x10,classes=4,test=64";
  const std::string model = "conv3x3x4,relu,maxpool2,fc4";
  const auto w = dir / "w.safetensors";
  const auto out = dir / "run.json";
  const auto t = test::run_cli(fmt::format("train --model {} --dataset {} --batch 16 --epochs 2 --seed 3 --save {} --out {}",
                                           model, data, w.string(), out.string()));
  ASSERT_EQ(t.exit_code, 0) << t.out;
  nlohmann::json rec;
  std::ifstream(out) >> rec;
  const double acc = rec["final"]["test_accuracy"];
  const auto e = test::run_cli(fmt::format("eval --model {} --dataset {} --seed 3 --weights {}", model, data, w.string()));
  ASSERT_EQ(e.exit_code, 0) << e.out;
  EXPECT_NE(e.out.find(fmt::format("test_accuracy {:.4f}%", 100 * acc)), std::string::npos) << e.out;
  EXPECT_NE(e.out.find(fmt::format("test_loss {:.6f}", double(rec["final"]["test_loss"]))), std::string::npos) << e.out;

  // The same file given to another architecture: refused, naming what differs, exit code 2.
  const auto bad = test::run_cli(fmt::format("train --model conv3x3x8,relu,maxpool2,fc4 --dataset {} --init {}", data, w.string()));
  EXPECT_EQ(bad.exit_code, 2) << bad.out;
  EXPECT_NE(bad.out.find("conv1.weight: shape [4, 1, 3, 3], expected [8, 1, 3, 3]"), std::string::npos) << bad.out;
  const auto bad_eval = test::run_cli(fmt::format("eval --model conv3x3x4,relu,fc4 --dataset {} --weights {}", data, w.string()));
  EXPECT_EQ(bad_eval.exit_code, 2) << bad_eval.out;
  EXPECT_NE(bad_eval.out.find("fc1.weight: shape [4, 64], expected [4, 256]"), std::string::npos) << bad_eval.out;
}

// Issue 7's limit case: a header claiming a 100 GB tensor is refused from the header, naming the limit, both
// in memory and from a small file.
TEST(Safetensors, RefusesAHundredGigabyteTensorNamingTheLimit) {
  const std::string file = make_file(R"({"w":{"dtype":"F32","shape":[25000000000],"data_offsets":[0,100000000000]}})",
                                     floats({1, 2}));
  const std::string expected = "tensor w: shape [25000000000] of F32 is more than 17179869184 bytes, the limit for "
                               "one tensor";
  const std::string msg = input_error([&] { decode_safetensors(file, "w.safetensors"); });
  EXPECT_NE(msg.find("w.safetensors: " + expected), std::string::npos) << msg;
  const std::string dims = input_error([&] {
    decode_safetensors(make_file(R"({"w":{"dtype":"U8","shape":[1048576,1048576,1048576],"data_offsets":[0,8]}})",
                                 floats({1, 2})),
                       "w.safetensors");
  });
  EXPECT_NE(dims.find("shape [1048576,1048576,1048576] of U8 is more than 17179869184 bytes"), std::string::npos)
      << dims;
  TempDir dir;
  { std::ofstream(dir / "w.safetensors", std::ios::binary) << file; }
  const std::string from_file = input_error([&] { read_safetensors(dir / "w.safetensors"); });
  EXPECT_NE(from_file.find((dir / "w.safetensors").string() + ": " + expected), std::string::npos) << from_file;
}

// Found by tests/fuzz: a number too large for a double made nlohmann::json throw out_of_range, not
// parse_error, so it escaped as something other than an InputError.
TEST(Safetensors, ANumberOutOfRangeInTheHeaderIsBadInput) {
  const std::string msg = input_error([] {
    decode_safetensors(make_file(R"({"w":{"dtype":"F32","shape":[1e400],"data_offsets":[0,4]}})", floats({1})),
                       "w.safetensors");
  });
  EXPECT_NE(msg.find("w.safetensors: the header is not valid JSON"), std::string::npos) << msg;
  EXPECT_NE(msg.find("number overflow"), std::string::npos) << msg;
}

}  // namespace
}  // namespace cnnb
