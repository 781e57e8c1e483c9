#pragma once
// The readers that take a path (IDX, CIFAR-10) are fuzzed through an in-memory file: memfd_create gives a
// file with no disk behind it, and /proc/self/fd/N names it, so the fuzzer runs the very code path the CLI
// runs (stat, ifstream, gzopen) without touching the disk thousands of times a second.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <span>
#include <string>

namespace cnnb::fuzz {

class MemFile {
 public:
  explicit MemFile(std::span<const uint8_t> bytes) : fd_(memfd_create("cnnbench-fuzz", MFD_CLOEXEC)) {
    if (fd_ < 0) std::abort();
    size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t n = ::write(fd_, bytes.data() + done, bytes.size() - done);
      if (n <= 0) std::abort();
      done += size_t(n);
    }
  }
  MemFile(const MemFile&) = delete;
  MemFile& operator=(const MemFile&) = delete;
  ~MemFile() { ::close(fd_); }

  std::filesystem::path path() const { return "/proc/self/fd/" + std::to_string(fd_); }

 private:
  int fd_;
};

}  // namespace cnnb::fuzz
