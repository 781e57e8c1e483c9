// cnnbench: train one CNN with interchangeable backends and strategies, and measure it.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <vector>

#include <fmt/format.h>

#include "bench/commands.h"
#include "core/error.h"

namespace {

// libgomp reads OMP_WAIT_POLICY once, when it is loaded, so the only way to choose it for ourselves is
// to set it and exec again. Passive: idle OpenMP threads sleep instead of spinning. Spinning threads made
// 2-thread CPU runs 10x slower than 1 thread on the 2-vCPU development VM (docs/BENCHMARKS.md); a user
// who sets OMP_WAIT_POLICY keeps their choice.
void choose_openmp_wait_policy(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") != nullptr) return;
  ::setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
  ::execv("/proc/self/exe", argv);  // returns only on failure: then run on with the default policy
}

}  // namespace

int main(int argc, char** argv) {
  choose_openmp_wait_policy(argv);
  CLI::App app{"cnnbench: one CNN, many backends and strategies, measured against a sequential CPU baseline"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("cnnbench ") + CNNB_VERSION + " (" + CNNB_GIT_COMMIT + ")");
  const std::vector<cnnb::cli::Command> commands = {cnnb::cli::add_train(app), cnnb::cli::add_list(app),
                                                     cnnb::cli::add_verify(app), cnnb::cli::add_sweep(app),
                                                     cnnb::cli::add_report(app), cnnb::cli::add_project(app),
                                                     cnnb::cli::add_eval(app), cnnb::cli::add_search(app)};
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // CLI11's own codes (105, 109, ...) mean nothing to a script: a bad command line is bad input, 2.
    return app.exit(e) == 0 ? 0 : 2;
  }
  try {
    for (const auto& c : commands)
      if (c.sub->parsed()) return c.run();
  } catch (const cnnb::InputError& e) {
    fmt::print(stderr, "cnnbench: error: {}\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    fmt::print(stderr, "cnnbench: error: {}\n", e.what());
    return 1;
  }
  return 1;
}
