#pragma once
// Reading result files: JSON Lines written by `cnnbench sweep` (one run per line) and single run records
// written by `cnnbench train --out`. Bad lines are skipped with a warning naming the file and line; a
// last line cut off by a crash is recognised as such.
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace cnnb {

struct JsonlRecord {
  int line = 0;  // 1-based line of the file where the object starts
  nlohmann::json value;
};

struct JsonlContents {
  std::vector<JsonlRecord> records;
  std::vector<std::string> warnings;  // "FILE:LINE: what was wrong"
  std::vector<int> warning_lines;     // LINE of each warning (0: about the whole file)
  bool incomplete_tail = false;       // the last line has no newline and is not valid JSON
  bool missing_newline = false;       // the file does not end with a newline
  uint64_t complete_bytes = 0;        // bytes up to and including the last newline
};

// JSON Lines. Throws InputError when the file cannot be read. Empty lines are ignored.
JsonlContents read_jsonl(const std::filesystem::path& file);
// The same over a file's text; `name` stands for the file in warnings.
JsonlContents parse_jsonl(std::string_view text, std::string_view name);

// A results file of either kind: *.json holds one run record (or an array of them), anything else is
// JSON Lines. Throws InputError when the file is missing or unreadable.
JsonlContents read_results_file(const std::filesystem::path& file);

}  // namespace cnnb
