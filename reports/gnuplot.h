#pragma once
// Charts as data + script files that stay beside the pictures, so a user can restyle one for a slide:
// NAME.dat (tab-separated) and NAME.gp, rendered by gnuplot to NAME.svg and NAME.png.
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace cnnb {

struct ChartSpec {
  std::string name;     // file stem
  std::string dat;      // contents of NAME.dat
  std::string body;     // gnuplot commands after the common header (terminal, output, separators)
  int width = 960, height = 540;
  std::string footer;   // small print at the bottom-left: environment, git commit
};

// Writes NAME.dat and NAME.gp into dir.
void write_chart(const std::filesystem::path& dir, const ChartSpec& chart);

// gnuplot on PATH, or the file named by $CNNB_GNUPLOT (an empty or missing file there means none).
std::optional<std::filesystem::path> find_gnuplot();

struct RenderResult {
  bool ok = false;
  std::string message;  // on failure: gnuplot's complaint, or why it could not start
};

// Runs the script twice in dir (fmt='svg', fmt='png'). gnuplot's messages go to NAME.log.
RenderResult render_chart(const std::filesystem::path& gnuplot, const std::filesystem::path& dir, const std::string& name);

// Text for a gnuplot string literal in double quotes (charts use plain, not enhanced, text). Backquotes
// become ' because gnuplot would run the text between them as a shell command.
std::string gp_quote(std::string_view s);
// Text for a .dat cell: tabs and newlines become spaces, an empty string becomes "-".
std::string dat_cell(std::string_view s);
// A fixed colour per backend (0xRRGGBB), so charts agree with each other: its recipe's, or for a name this
// build does not know (a record from an older or newer cnnbench) one no recipe uses.
inline constexpr unsigned kUnknownBackendColor = 0x9467bd;
unsigned backend_color(std::string_view backend);

}  // namespace cnnb
