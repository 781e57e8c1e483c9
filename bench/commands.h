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
Command add_sweep(CLI::App& app);
Command add_report(CLI::App& app);
Command add_project(CLI::App& app);
Command add_eval(CLI::App& app);
Command add_search(CLI::App& app);

}  // namespace cnnb::cli
