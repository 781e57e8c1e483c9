#pragma once
// The cnnbench subcommands; each adds itself to the CLI11 app and runs when chosen.
#include <CLI/CLI.hpp>
#include <functional>

namespace cnnb::cli {

struct Command {
  CLI::App* sub;
  std::function<int()> run;
};

Command add_train(CLI::App& app);
Command add_list(CLI::App& app);
Command add_verify(CLI::App& app);

}  // namespace cnnb::cli
