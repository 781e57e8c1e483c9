#pragma once
// cnnbench-micro's own flags, taken out of argv before Google Benchmark sees it (it rejects flags it does
// not know). Header-only so that the CPU test suite runs this very code (tests/test_micro_flags.cpp).
#include <charconv>
#include <cstddef>
#include <string_view>

#include "core/error.h"

namespace cnnb::micro {

// cold: before every timed call of a GPU benchmark a buffer larger than the L2 cache is overwritten, so
// the op reads its inputs from device memory as it does inside a training step, where the other layers'
// tensors have gone through L2 in between (nvbench's default). warm: no flush; on an H100 (50 MB of L2)
// every micro case then fits in L2 and runs faster than it would in training.
enum class CacheMode { cold, warm };

inline const char* cache_mode_name(CacheMode m) { return m == CacheMode::cold ? "cold" : "warm"; }

struct MicroFlags {
  int threads = 1;  // CPU threads of the CPU device
  CacheMode cache = CacheMode::cold;
};

inline constexpr std::string_view kMicroFlagsHelp =
    "cnnbench-micro flags (before Google Benchmark's own):\n"
    "  --cnnb_threads=N        CPU threads of the CPU device (default: all cores)\n"
    "  --cnnb_cache=cold|warm  GPU benchmarks: cold (default) overwrites a buffer of twice the L2 size\n"
    "                          before every timed call, outside the timed span; warm leaves L2 as the\n"
    "                          previous call left it\n";

// Bytes to overwrite so that nothing of the previous call stays in an L2 cache of `l2` bytes: twice its
// size, a margin for a replacement policy that is not strict LRU. 0 when the device reports no L2.
inline size_t l2_flush_bytes(size_t l2) { return 2 * l2; }

namespace detail {

inline int parse_threads(std::string_view arg, std::string_view value) {
  int n = 0;
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
  if (ec != std::errc() || end != value.data() + value.size() || n < 1)
    fail_input("{}: expected a positive thread count", arg);
  return n;
}

inline CacheMode parse_cache(std::string_view arg, std::string_view value) {
  if (value == "cold") return CacheMode::cold;
  if (value == "warm") return CacheMode::warm;
  fail_input("{}: expected cold or warm", arg);
}

}  // namespace detail

// Removes --cnnb_threads=N and --cnnb_cache=MODE from argv (argc shrinks, argv[argc] = nullptr) and
// returns their values. Throws InputError naming the argument for a bad value.
inline MicroFlags take_micro_flags(int& argc, char** argv, int default_threads) {
  constexpr std::string_view kThreads = "--cnnb_threads=", kCache = "--cnnb_cache=";
  MicroFlags f;
  f.threads = default_threads;
  int out = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg.starts_with(kThreads))
      f.threads = detail::parse_threads(arg, arg.substr(kThreads.size()));
    else if (arg.starts_with(kCache))
      f.cache = detail::parse_cache(arg, arg.substr(kCache.size()));
    else
      argv[out++] = argv[i];
  }
  argc = out;
  argv[argc] = nullptr;
  return f;
}

}  // namespace cnnb::micro
