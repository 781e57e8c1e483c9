#include "backends/cuda_versions.h"

#include <cctype>

#include <fmt/format.h>

namespace cnnb::cuda {

namespace {

// major * scale + minor * 100 + patch, for the libraries that switched scale from 1000 to 10000 once
// the minor number outgrew one digit.
std::string three_part(long long version, long long scale) {
  return fmt::format("{}.{}.{}", version / scale, version % scale / 100, version % 100);
}

bool is_release_token(std::string_view t) {
  bool dot = false;
  for (char c : t) {
    if (c == '.')
      dot = true;
    else if (!std::isdigit(static_cast<unsigned char>(c)))
      return false;
  }
  return dot && std::isdigit(static_cast<unsigned char>(t.front())) && std::isdigit(static_cast<unsigned char>(t.back()));
}

}  // namespace

std::string cuda_version_string(int version) {
  if (version <= 0) return "none";
  return fmt::format("{}.{}", version / 1000, version % 1000 / 10);
}

std::string cudnn_version_string(long long version) {
  if (version <= 0) return "";
  return three_part(version, version >= 10000 ? 10000 : 1000);
}

std::string nccl_version_string(long long version) {
  if (version <= 0) return "";
  return three_part(version, version >= 10000 ? 10000 : 1000);
}

std::string cublas_version_string(long long version) {
  if (version <= 0) return "";
  return three_part(version, 10000);
}

// "NVRM version: NVIDIA UNIX x86_64 Kernel Module  580.65.06  Sun Jul 27 07:09:43 UTC 2025": the
// first token of digits and dots on the NVRM line (the open modules word the line differently).
std::string driver_release_from_proc(std::string_view text) {
  constexpr std::string_view kTag = "NVRM version:";
  const size_t at = text.find(kTag);
  if (at == std::string_view::npos) return "";
  std::string_view line = text.substr(at + kTag.size());
  line = line.substr(0, line.find('\n'));
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i]))) ++i;
    size_t j = i;
    while (j < line.size() && !std::isspace(static_cast<unsigned char>(line[j]))) ++j;
    if (j > i && is_release_token(line.substr(i, j - i))) return std::string(line.substr(i, j - i));
    i = j;
  }
  return "";
}

}  // namespace cnnb::cuda
