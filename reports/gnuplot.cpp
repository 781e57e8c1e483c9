#include "reports/gnuplot.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include <fmt/format.h>

#include "backends/recipe.h"
#include "core/error.h"
#include "core/files.h"

namespace cnnb {

namespace fs = std::filesystem;

namespace {

std::string header(const ChartSpec& c) {
  return fmt::format(
      "# {0}.gp: written by `cnnbench report`; the data is in {0}.dat (tab-separated, '?' = missing).\n"
      "# Edit freely, then render with:  gnuplot -e \"fmt='svg'\" {0}.gp   (or fmt='png')\n"
      "if (!exists(\"fmt\")) fmt = \"svg\"\n"
      "if (fmt eq \"png\") {{\n"
      "  set terminal pngcairo size {1},{2} noenhanced font \"sans,10\" background rgb \"white\"\n"
      "  set output \"{0}.png\"\n"
      "}} else {{\n"
      "  set terminal svg size {1},{2} dynamic noenhanced font \"sans,11\" background rgb \"white\"\n"
      "  set output \"{0}.svg\"\n"
      "}}\n"
      "set datafile separator \"\\t\"\n"
      "set datafile missing \"?\"\n"
      "set encoding utf8\n"
      "set grid ytics lc rgb \"#dddddd\"\n"
      "set border lc rgb \"#555555\"\n"
      "set bmargin 5\n",
      c.name, c.width, c.height);
}

std::string read_text(const fs::path& f) {
  std::ifstream in(f);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// fork + exec with a working directory and stderr into a log file; returns the exit status or -1.
int run_in(const fs::path& dir, const std::vector<std::string>& argv, const fs::path& log) {
  const pid_t pid = ::fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    if (::chdir(dir.c_str()) != 0) ::_exit(126);
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0) {
      ::dup2(fd, STDERR_FILENO);
      ::dup2(fd, STDOUT_FILENO);
    }
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

std::string gp_quote(std::string_view s) {
  std::string out;
  for (char c : s) {
    // gnuplot runs `...` as a shell command even inside double quotes: a path must never do that.
    if (c == '`') {
      out += '\'';
      continue;
    }
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n' || c == '\t') {
      out += ' ';
      continue;
    }
    out += c;
  }
  return out;
}

std::string dat_cell(std::string_view s) {
  if (s.empty()) return "-";
  std::string out(s);
  for (char& c : out)
    if (c == '\t' || c == '\n' || c == '\r') c = ' ';
  return out;
}

unsigned backend_color(std::string_view backend) {
  const BackendRecipe* r = find_backend_recipe(backend);
  return r ? r->colour : kUnknownBackendColor;
}

void write_chart(const fs::path& dir, const ChartSpec& c) {
  write_file_atomic(dir / (c.name + ".dat"), c.dat);
  std::string gp = header(c);
  if (!c.footer.empty())
    gp += fmt::format("set label 999 \"{}\" at screen 0.01, screen 0.015 left font \",8\" tc rgb \"#777777\"\n",
                      gp_quote(c.footer));
  gp += c.body;
  if (gp.back() != '\n') gp += '\n';
  gp += "unset output\n";
  write_file_atomic(dir / (c.name + ".gp"), gp);
}

std::optional<fs::path> find_gnuplot() {
  if (const char* env = std::getenv("CNNB_GNUPLOT")) {
    if (*env == '\0' || ::access(env, X_OK) != 0) return std::nullopt;
    return fs::path(env);
  }
  const char* path = std::getenv("PATH");
  std::string_view p = path ? path : "/usr/bin:/bin";
  while (!p.empty()) {
    const auto colon = p.find(':');
    const fs::path cand = fs::path(std::string(p.substr(0, colon))) / "gnuplot";
    if (::access(cand.c_str(), X_OK) == 0) return cand;
    if (colon == std::string_view::npos) break;
    p.remove_prefix(colon + 1);
  }
  return std::nullopt;
}

RenderResult render_chart(const fs::path& gnuplot, const fs::path& dir, const std::string& name) {
  const fs::path log = dir / (name + ".log");
  std::error_code ec;
  fs::remove(log, ec);
  for (const char* fmt_name : {"svg", "png"}) {
    const int rc = run_in(dir, {gnuplot.string(), "-e", fmt::format("fmt='{}'", fmt_name), name + ".gp"}, log);
    if (rc != 0) {
      std::string msg = read_text(log);
      if (msg.size() > 600) msg = "..." + msg.substr(msg.size() - 600);
      return {false, fmt::format("gnuplot {} (exit {}) for {}: {}", gnuplot.string(), rc, (dir / (name + ".gp")).string(),
                                 msg.empty() ? "no message" : msg)};
    }
  }
  // gnuplot reports some script errors with exit 0 (e.g. inside if blocks): a missing picture is a failure.
  for (const char* ext : {".svg", ".png"})
    if (!fs::exists(dir / (name + ext), ec) || fs::file_size(dir / (name + ext), ec) == 0)
      return {false, fmt::format("gnuplot wrote no {}{}: {}", name, ext, read_text(log))};
  // An empty log means a clean run; keep the log only when gnuplot had warnings.
  if (fs::exists(log, ec) && fs::file_size(log, ec) == 0) fs::remove(log, ec);
  return {true, ""};
}

}  // namespace cnnb
