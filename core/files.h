#pragma once
// Output files are written whole or not at all: a temporary name in the same directory, then rename.
#include <filesystem>
#include <string_view>

namespace cnnb {

// Throws InputError naming `flag` and the path when the file's directory does not exist or is not writable.
// Called before a long run so that a bad --out fails in a second, not after an hour.
void check_writable(const std::filesystem::path& file, std::string_view flag);

// Writes content to file atomically (temporary file + fsync + rename). On failure nothing is left behind.
void write_file_atomic(const std::filesystem::path& file, std::string_view content);

// Appends one line (content + '\n') and fsyncs, so a crash loses at most the line being written.
void append_line_durable(const std::filesystem::path& file, std::string_view line);

}  // namespace cnnb
