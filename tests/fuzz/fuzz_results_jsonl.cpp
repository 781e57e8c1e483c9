// Result files (JSON Lines of run records): read as `cnnbench report` reads them (bad lines become
// warnings, valid records become rows), then the derived numbers of every row.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "reports/jsonl.h"
#include "reports/results.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const cnnb::JsonlContents c = cnnb::parse_jsonl(text, "fuzz.jsonl");
  if (c.warnings.size() != c.warning_lines.size() || c.complete_bytes > size) __builtin_trap();
  cnnb::ResultSet set;
  for (const auto& rec : c.records) {
    if (!cnnb::validate_record(rec.value).empty()) continue;
    set.rows.push_back(cnnb::row_from_record(rec.value, fmt::format("fuzz.jsonl:{}", rec.line)));
  }
  for (const auto& row : set.rows) {
    (void)row.label();
    (void)row.exchange_ms();
    (void)cnnb::short_dataset(row.dataset);
    (void)cnnb::speedup_vs_baseline(set, row);
    (void)cnnb::scaling_efficiency(set, row);
    (void)cnnb::time_to_accuracy(row, 0.5);
  }
  return 0;
}
