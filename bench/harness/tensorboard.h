#pragma once
// TensorBoard event files without TensorFlow or protobuf: TFRecord framing (length, masked CRC32C of the
// length, data, masked CRC32C of the data) around Event messages encoded by hand. Only the fields a
// scalar log needs: Event{wall_time=1 double, step=2 int64, file_version=3 string, summary=5},
// Summary{value=1 repeated}, Summary.Value{tag=1 string, simple_value=2 float}.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cnnb {

// One serialized Event holding scalar summaries.
std::string encode_scalar_event(double wall_time, int64_t step,
                                const std::vector<std::pair<std::string, float>>& scalars);
// The first Event of every file: file_version "brain.Event:2".
std::string encode_version_event(double wall_time);
// TFRecord framing of one record.
std::string tfrecord_frame(std::string_view data);

// A run name usable as a directory name: characters other than [A-Za-z0-9._=-] become '_'.
std::string sanitize_run_name(std::string_view name);

// Throws InputError naming --tensorboard when dir cannot be created or written.
void check_tensorboard_dir(const std::filesystem::path& dir);

// Appends events to DIR/<run>/events.out.tfevents.<unix time>.<host>; each write is flushed, so
// TensorBoard shows a running job's curves.
class EventWriter {
 public:
  EventWriter(const std::filesystem::path& dir, std::string_view run);
  void scalars(int64_t step, const std::vector<std::pair<std::string, float>>& values);
  void scalar(int64_t step, const std::string& tag, float value) { scalars(step, {{tag, value}}); }
  const std::filesystem::path& file() const { return file_; }

 private:
  void write(std::string_view event);
  struct Close {
    void operator()(std::FILE* f) const { std::fclose(f); }
  };
  std::filesystem::path file_;
  std::unique_ptr<std::FILE, Close> f_;
};

}  // namespace cnnb
