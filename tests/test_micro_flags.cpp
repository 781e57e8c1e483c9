// cnnbench-micro's own flags (bench/micro/micro_flags.h, the header the benchmark binary uses): taken out
// of argv before Google Benchmark parses it, with one clear message for a bad value.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "bench/micro/micro_flags.h"
#include "input_error.h"

namespace cnnb {
namespace {

using micro::CacheMode;

// argv as main() gets it: writable strings and a null after the last.
struct Argv {
  std::vector<std::string> text;
  std::vector<char*> ptrs;
  explicit Argv(std::vector<std::string> args) : text(std::move(args)) {
    for (auto& s : text) ptrs.push_back(s.data());
    ptrs.push_back(nullptr);
  }
  int argc() const { return int(text.size()); }
  std::vector<std::string> left(int argc) const {
    std::vector<std::string> out;
    for (int i = 0; i < argc; ++i) out.emplace_back(ptrs[size_t(i)]);
    return out;
  }
};

TEST(MicroFlags, OursAreTakenOutGoogleBenchmarksStay) {
  Argv a({"cnnbench-micro", "--benchmark_filter=conv_fwd/", "--cnnb_cache=warm", "--cnnb_threads=3",
          "--benchmark_out=m.json"});
  int argc = a.argc();
  const micro::MicroFlags f = micro::take_micro_flags(argc, a.ptrs.data(), 8);
  EXPECT_EQ(f.threads, 3);
  EXPECT_EQ(f.cache, CacheMode::warm);
  ASSERT_EQ(argc, 3);
  EXPECT_EQ(a.left(argc), (std::vector<std::string>{"cnnbench-micro", "--benchmark_filter=conv_fwd/",
                                                     "--benchmark_out=m.json"}));
  EXPECT_EQ(a.ptrs[3], nullptr);
}

TEST(MicroFlags, DefaultsAreAllCoresAndAColdCache) {
  Argv a({"cnnbench-micro"});
  int argc = a.argc();
  const micro::MicroFlags f = micro::take_micro_flags(argc, a.ptrs.data(), 5);
  EXPECT_EQ(f.threads, 5);
  EXPECT_EQ(f.cache, CacheMode::cold);
  EXPECT_EQ(argc, 1);
  EXPECT_STREQ(micro::cache_mode_name(CacheMode::cold), "cold");
  EXPECT_STREQ(micro::cache_mode_name(CacheMode::warm), "warm");
}

TEST(MicroFlags, BadValuesNameTheArgument) {
  auto error = [](std::string arg) {
    return test::input_error([&] {
      Argv a({"cnnbench-micro", arg});
      int argc = a.argc();
      micro::take_micro_flags(argc, a.ptrs.data(), 1);
    });
  };
  EXPECT_EQ(error("--cnnb_cache=hot"), "--cnnb_cache=hot: expected cold or warm");
  EXPECT_EQ(error("--cnnb_cache="), "--cnnb_cache=: expected cold or warm");
  EXPECT_EQ(error("--cnnb_threads=0"), "--cnnb_threads=0: expected a positive thread count");
  EXPECT_EQ(error("--cnnb_threads=4x"), "--cnnb_threads=4x: expected a positive thread count");
}

TEST(MicroFlags, TheFlushCoversTwiceTheL2) {
  EXPECT_EQ(micro::l2_flush_bytes(50u * 1024 * 1024), 100u * 1024 * 1024);  // H100
  EXPECT_EQ(micro::l2_flush_bytes(40u * 1024 * 1024), 80u * 1024 * 1024);   // A100
  EXPECT_EQ(micro::l2_flush_bytes(0), 0u);
}

}  // namespace
}  // namespace cnnb
