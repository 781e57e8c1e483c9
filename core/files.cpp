#include "core/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "core/error.h"

namespace cnnb {

namespace fs = std::filesystem;

namespace {

fs::path parent_of(const fs::path& file) {
  fs::path dir = file.parent_path();
  return dir.empty() ? fs::path(".") : dir;
}

void write_all(int fd, std::string_view content, const fs::path& file) {
  const char* p = content.data();
  size_t left = content.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail_input("cannot write {}: {}", file.string(), std::strerror(errno));
    }
    p += n;
    left -= size_t(n);
  }
}

}  // namespace

void check_writable(const fs::path& file, std::string_view flag) {
  const fs::path dir = parent_of(file);
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    fail_input("{} {}: directory {} does not exist; expected an existing, writable directory", flag, file.string(),
               dir.string());
  if (fs::is_directory(file, ec)) fail_input("{} {}: is a directory; expected a file name", flag, file.string());
  // access() says yes to root everywhere, even on /proc, where no file can be made: so the run failed only
  // when it wrote its result. Creating a file is the test that holds for every user and file system.
  const fs::path probe = dir / fmt::format(".cnnbench-probe.{}", ::getpid());
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0 && errno != EEXIST)
    fail_input("{} {}: directory {} is not writable ({})", flag, file.string(), dir.string(), std::strerror(errno));
  if (fd >= 0) {
    ::close(fd);
    ::unlink(probe.c_str());
  }
}

void write_file_atomic(const fs::path& file, std::string_view content) {
  const fs::path tmp = parent_of(file) / fmt::format(".{}.tmp.{}", file.filename().string(), ::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail_input("cannot create {}: {}", tmp.string(), std::strerror(errno));
  try {
    write_all(fd, content, file);
    if (::fsync(fd) != 0) fail_input("cannot write {}: {}", file.string(), std::strerror(errno));
  } catch (...) {
    ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  ::close(fd);
  if (::rename(tmp.c_str(), file.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    fail_input("cannot write {}: {}", file.string(), std::strerror(err));
  }
}

void append_line_durable(const fs::path& file, std::string_view line) {
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) fail_input("cannot open {} for appending: {}", file.string(), std::strerror(errno));
  std::string buf(line);
  buf.push_back('\n');
  struct stat before{};
  const bool sized = ::fstat(fd, &before) == 0;
  try {
    write_all(fd, buf, file);
    if (::fsync(fd) != 0) fail_input("cannot write {}: {}", file.string(), std::strerror(errno));
  } catch (...) {
    // A full disk (or file size limit) can take part of the line: cut it off so the file keeps whole lines.
    if (sized && ::ftruncate(fd, before.st_size) == 0) ::fsync(fd);
    ::close(fd);
    throw;
  }
  ::close(fd);
}

}  // namespace cnnb
