#include "reports/jsonl.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "core/error.h"

namespace cnnb {

namespace fs = std::filesystem;

namespace {

std::string slurp(const fs::path& file) {
  std::error_code ec;
  if (!fs::exists(file, ec)) fail_input("{}: no such file", file.string());
  if (fs::is_directory(file, ec)) fail_input("{}: is a directory; expected a results file (.jsonl or .json)", file.string());
  std::ifstream in(file, std::ios::binary);
  if (!in) fail_input("cannot read {}: {}", file.string(), std::strerror(errno));
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

bool blank(std::string_view s) { return s.find_first_not_of(" \t\r") == std::string_view::npos; }

// The parser's message without its "[json.exception.parse_error.101] " prefix.
std::string short_message(const nlohmann::json::exception& e) {
  std::string m = e.what();
  if (const auto p = m.find("] "); m.rfind("[json.exception", 0) == 0 && p != std::string::npos) m = m.substr(p + 2);
  return m;
}

}  // namespace

JsonlContents read_jsonl(const fs::path& file) { return parse_jsonl(slurp(file), file.string()); }

JsonlContents parse_jsonl(std::string_view text, std::string_view name) {
  JsonlContents c;
  c.missing_newline = !text.empty() && text.back() != '\n';
  const auto last_nl = text.rfind('\n');
  c.complete_bytes = last_nl == std::string_view::npos ? 0 : uint64_t(last_nl + 1);
  size_t pos = 0;
  int line = 0;
  while (pos < text.size()) {
    ++line;
    const size_t nl = text.find('\n', pos);
    const bool last = nl == std::string_view::npos;
    const std::string_view s(text.data() + pos, (last ? text.size() : nl) - pos);
    pos = last ? text.size() : nl + 1;
    if (blank(s)) continue;
    try {
      nlohmann::json j = nlohmann::json::parse(s);
      if (!j.is_object()) {
        c.warnings.push_back(fmt::format("{}:{}: not a JSON object (a run record is one object per line), skipped",
                                         name, line));
        c.warning_lines.push_back(line);
        continue;
      }
      c.records.push_back({line, std::move(j)});
    } catch (const nlohmann::json::exception& e) {  // parse_error, or out_of_range for a number like 1e400
      if (last && c.missing_newline) {
        c.incomplete_tail = true;
        c.warnings.push_back(fmt::format(
            "{}:{}: incomplete last line ({} bytes without a newline: a write interrupted by a crash?), ignored",
            name, line, s.size()));
      } else {
        c.warnings.push_back(fmt::format("{}:{}: not valid JSON ({}), skipped", name, line, short_message(e)));
      }
      c.warning_lines.push_back(line);
    }
  }
  return c;
}

JsonlContents read_results_file(const fs::path& file) {
  if (file.extension() != ".json") return read_jsonl(file);
  const std::string text = slurp(file);
  JsonlContents c;
  c.complete_bytes = text.size();
  try {
    nlohmann::json j = nlohmann::json::parse(text);
    if (j.is_object()) {
      c.records.push_back({1, std::move(j)});
    } else if (j.is_array()) {
      for (auto& e : j)
        if (e.is_object()) c.records.push_back({1, std::move(e)});
    } else {
      c.warnings.push_back(fmt::format("{}: not a run record (expected a JSON object or an array of them)", file.string()));
      c.warning_lines.push_back(0);
    }
  } catch (const nlohmann::json::exception& e) {
    // A sweep file named *.json is still readable line by line.
    JsonlContents lines = read_jsonl(file);
    if (!lines.records.empty()) return lines;
    c.warnings.push_back(fmt::format("{}: not valid JSON ({}), skipped", file.string(), short_message(e)));
    c.warning_lines.push_back(0);
  }
  return c;
}

}  // namespace cnnb
