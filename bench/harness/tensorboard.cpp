#include "bench/harness/tensorboard.h"

#include <unistd.h>

#include <chrono>
#include <cstring>

#include <fmt/format.h>

#include "core/crc32c.h"
#include "core/error.h"

namespace cnnb {

namespace {

// Protobuf wire format: a key is (field << 3) | wire type; 0 varint, 1 fixed64, 2 length-delimited, 5 fixed32.
void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(char(uint8_t(v) | 0x80));
    v >>= 7;
  }
  out.push_back(char(v));
}

template <class T>
void put_fixed(std::string& out, T v) {
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));  // little-endian host, as the wire format
  out.append(b, sizeof(T));
}

void put_bytes(std::string& out, int field, std::string_view bytes) {
  put_varint(out, uint64_t(field) << 3 | 2);
  put_varint(out, bytes.size());
  out.append(bytes);
}

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

std::string encode_scalar_event(double wall_time, int64_t step,
                                const std::vector<std::pair<std::string, float>>& scalars) {
  std::string summary;
  for (const auto& [tag, value] : scalars) {
    std::string v;
    put_bytes(v, 1, tag);
    put_varint(v, 2 << 3 | 5);
    put_fixed(v, value);
    put_bytes(summary, 1, v);
  }
  std::string e;
  put_varint(e, 1 << 3 | 1);
  put_fixed(e, wall_time);
  put_varint(e, 2 << 3 | 0);
  put_varint(e, uint64_t(step));
  put_bytes(e, 5, summary);
  return e;
}

std::string encode_version_event(double wall_time) {
  std::string e;
  put_varint(e, 1 << 3 | 1);
  put_fixed(e, wall_time);
  put_bytes(e, 3, "brain.Event:2");
  return e;
}

std::string tfrecord_frame(std::string_view data) {
  std::string out;
  std::string len;
  put_fixed(len, uint64_t(data.size()));
  out += len;
  put_fixed(out, mask_crc32c(crc32c(len)));
  out += data;
  put_fixed(out, mask_crc32c(crc32c(data)));
  return out;
}

std::string sanitize_run_name(std::string_view name) {
  std::string s(name);
  for (char& c : s)
    if (!(std::isalnum(uint8_t(c)) || c == '.' || c == '_' || c == '-' || c == '=')) c = '_';
  if (s.empty() || s == "." || s == "..") s = "run";
  return s;
}

void check_tensorboard_dir(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec || !std::filesystem::is_directory(dir))
    fail_input("--tensorboard {}: cannot create the directory ({}); expected a writable directory", dir.string(),
               ec ? ec.message() : "a file of that name exists");
  if (::access(dir.c_str(), W_OK) != 0)
    fail_input("--tensorboard {}: the directory is not writable ({})", dir.string(), std::strerror(errno));
}

EventWriter::EventWriter(const std::filesystem::path& dir, std::string_view run) {
  check_tensorboard_dir(dir);
  const std::filesystem::path run_dir = dir / sanitize_run_name(run);
  std::error_code ec;
  std::filesystem::create_directories(run_dir, ec);
  if (ec) fail_input("--tensorboard: cannot create {}: {}", run_dir.string(), ec.message());
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  const double t = now_seconds();
  file_ = run_dir / fmt::format("events.out.tfevents.{}.{}", int64_t(t), sanitize_run_name(host));
  f_.reset(std::fopen(file_.c_str(), "ab"));
  if (!f_) fail_input("--tensorboard: cannot create {}: {}", file_.string(), std::strerror(errno));
  write(encode_version_event(t));
}

void EventWriter::scalars(int64_t step, const std::vector<std::pair<std::string, float>>& values) {
  write(encode_scalar_event(now_seconds(), step, values));
}

void EventWriter::write(std::string_view event) {
  const std::string rec = tfrecord_frame(event);
  if (std::fwrite(rec.data(), 1, rec.size(), f_.get()) != rec.size() || std::fflush(f_.get()) != 0)
    fail("cannot write {}: {}", file_.string(), std::strerror(errno));
}

}  // namespace cnnb
