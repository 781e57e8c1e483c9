// The shared clock helpers (core/clock.h) and the harness's throughput arithmetic
// (bench/harness/throughput.h), against values worked out by hand.
#include <gtest/gtest.h>

#include <chrono>
#include <ctime>
#include <regex>
#include <string>
#include <vector>

#include "bench/harness/throughput.h"
#include "core/clock.h"

namespace cnnb {
namespace {

std::time_t parse_utc(const std::string& text, const char* format) {
  std::tm tm{};
  EXPECT_NE(strptime(text.c_str(), format, &tm), nullptr) << text;
  return timegm(&tm);
}

std::time_t system_now() { return std::chrono::system_clock::to_time_t(std::chrono::system_clock::now()); }

TEST(Clock, UtcNowIsIso8601OrReadableAndNow) {
  // The clock utc_now reads: std::time can lag it by a timer tick across a second boundary.
  const std::time_t before = system_now();
  const std::string iso = utc_now();
  const std::string readable = utc_now(UtcStyle::readable);
  const std::time_t after = system_now();
  EXPECT_TRUE(std::regex_match(iso, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)"))) << iso;
  EXPECT_TRUE(std::regex_match(readable, std::regex(R"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC)"))) << readable;
  for (const std::time_t t : {parse_utc(iso, "%Y-%m-%dT%H:%M:%SZ"), parse_utc(readable, "%Y-%m-%d %H:%M:%S UTC")}) {
    EXPECT_GE(t, before);
    EXPECT_LE(t, after);
  }
}

TEST(Clock, SecondsBetweenIsTheDurationInSeconds) {
  const SteadyClock::time_point t0{};
  EXPECT_DOUBLE_EQ(seconds_between(t0, t0 + std::chrono::milliseconds(1500)), 1.5);
  EXPECT_DOUBLE_EQ(seconds_between(t0 + std::chrono::microseconds(250), t0), -0.00025);
  EXPECT_GE(seconds_since(SteadyClock::now()), 0.0);
}

TEST(Throughput, ImagesPerSecondIsStepsTimesBatchOverSeconds) {
  EXPECT_DOUBLE_EQ(images_per_second(10, 64, 2.0), 320.0);
  EXPECT_DOUBLE_EQ(images_per_second(938, 64, 4.0), 15008.0);
  EXPECT_DOUBLE_EQ(images_per_second(3, 50, 0.25), 600.0);
  // Nothing timed is no throughput, not infinity.
  EXPECT_EQ(images_per_second(10, 64, 0.0), 0.0);
  EXPECT_EQ(images_per_second(0, 64, 1.0), 0.0);
}

TEST(Throughput, StepSecondsSumsEveryPhaseFromTheFirstStep) {
  std::vector<StepTimes> steps(3);
  steps[0].forward = 1.0;
  steps[1] = {.data = 0.5, .h2d = 0.25, .forward = 2, .backward = 4, .exchange = 8, .update = 16};
  steps[1].metrics = 32;
  steps[1].numerics = 64;
  steps[1].exchange_bytes = 1e9;  // bytes and busy time are not step time
  steps[1].exchange_busy = 100;
  steps[2].update = 0.125;
  EXPECT_DOUBLE_EQ(step_seconds(steps), 1.0 + 126.75 + 0.125);
  EXPECT_DOUBLE_EQ(step_seconds(steps, 1), 126.75 + 0.125);
  EXPECT_DOUBLE_EQ(step_seconds(steps, 3), 0.0);
}

}  // namespace
}  // namespace cnnb
