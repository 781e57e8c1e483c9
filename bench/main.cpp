// cnnbench: train one CNN with interchangeable backends and strategies, and measure it.
#include <cstdio>
#include <vector>

#include <fmt/format.h>

#include "bench/commands.h"
#include "core/error.h"

int main(int argc, char** argv) {
  CLI::App app{"cnnbench: one CNN, many backends and strategies, measured against a sequential CPU baseline"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("cnnbench ") + CNNB_VERSION + " (" + CNNB_GIT_COMMIT + ")");
  const std::vector<cnnb::cli::Command> commands = {cnnb::cli::add_train(app), cnnb::cli::add_list(app),
                                                     cnnb::cli::add_verify(app)};
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
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
