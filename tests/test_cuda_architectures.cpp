// Which GPUs a build's CUDA code runs on (backends/cuda_architectures.h): the rule `cnnbench list` warns by.
#include <gtest/gtest.h>

#include "backends/cuda_architectures.h"

namespace cnnb::cuda {
namespace {

TEST(CudaArchitectures, EntriesAreSassPtxOrBoth) {
  const auto b = parse_architectures("75-real;80-real,86-real;90;100-virtual;90a-real;100f");
  EXPECT_EQ(b.sass, (std::vector<int>{75, 80, 86, 90, 100}));
  EXPECT_EQ(b.ptx, (std::vector<int>{90, 100}));
  EXPECT_EQ(b.exact, (std::vector<int>{90}));
  EXPECT_TRUE(b.known);
  EXPECT_FALSE(parse_architectures("native").known);
  EXPECT_TRUE(parse_architectures("").sass.empty());
}

TEST(CudaArchitectures, AGpuRunsSassOfItsMajorUpToItsMinorAndOlderPtx) {
  const std::string_view ci = "75-real,90";
  const auto b = parse_architectures(ci);
  EXPECT_EQ(architecture_warning(b, ci, 7, 5), "");   // T4: its own SASS
  EXPECT_EQ(architecture_warning(b, ci, 9, 0), "");   // H100: SASS
  EXPECT_EQ(architecture_warning(b, ci, 12, 0), "");  // newer: JIT from the 9.0 PTX
  EXPECT_EQ(architecture_warning(b, ci, 8, 6),        // A10: 7.5's SASS is another major, 9.0's PTX is newer
            "this build has no GPU code for compute capability 8.6 (it has 75-real;90): its kernels would fail "
            "with \"no kernel image is available\"; rebuild with -DCMAKE_CUDA_ARCHITECTURES=\"75-real;90;86\", or "
            "configure without it (-UCMAKE_CUDA_ARCHITECTURES, no CUDAARCHS) to build for the GPUs nvidia-smi shows");
  const std::string_view all = "75-real,80-real,86-real,89-real,90";
  const auto d = parse_architectures(all);
  EXPECT_EQ(architecture_warning(d, all, 8, 9), "");  // L4: its own SASS
  EXPECT_EQ(architecture_warning(d, all, 8, 8), "");  // 8.8: 8.6's SASS, the same major
  EXPECT_NE(architecture_warning(d, all, 8, 7), "");  // Orin is Tegra: only 8.7's own SASS or older PTX
  EXPECT_NE(architecture_warning(d, all, 7, 0), "");  // V100: nothing older than 7.5
  EXPECT_EQ(architecture_warning(parse_architectures("native"), "native", 7, 0), "") << "unknown: no warning";
}

TEST(CudaArchitectures, ArchitectureSpecificCodeRunsOnItsOwnGpuOnly) {
  const std::string_view list = "100a-real,120a-real,100f-real";
  const auto b = parse_architectures(list);
  EXPECT_EQ(architecture_warning(b, list, 12, 0), "");
  EXPECT_NE(architecture_warning(b, list, 12, 1), "") << "120a is 12.0's only";
  EXPECT_EQ(architecture_warning(b, list, 10, 3), "") << "100f is the 10.x family's";
  EXPECT_NE(architecture_warning(parse_architectures("120a-real"), "120a-real", 12, 1), "");
}

// The configure's list reaches the binary (a CUDA build), or there is none (a CPU-only build).
TEST(CudaArchitectures, TheBuildCarriesItsOwnList) {
#if CNNB_HAVE_CUDA
  const auto b = parse_architectures(built_architectures());
  EXPECT_TRUE(b.known) << built_architectures();
  EXPECT_FALSE(b.sass.empty() && b.ptx.empty()) << built_architectures();
#else
  EXPECT_EQ(built_architectures(), "");
#endif
}

}  // namespace
}  // namespace cnnb::cuda
