// IDX files (MNIST, Fashion-MNIST): raw or gzip, told apart by content. Every size the header claims is
// checked against a fixed limit and against the file before the data vector is allocated, and the data
// is read straight into that vector, so a 47 MB image file costs 47 MB.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <span>
#include <string>
#include <system_error>
#include <vector>

#include "core/error.h"
#include "datasets/dataset.h"

namespace cnnb {
namespace fs = std::filesystem;

namespace {

constexpr uint8_t kUbyteType = 0x08;
constexpr int kMaxRank = 4;
constexpr int kMnistClasses = 10;
// Deflate expands at most about 1032:1, so a gzip file of S bytes cannot hold more than this times S.
constexpr uint64_t kMaxDeflateRatio = 1032;

struct GzClose {
  void operator()(gzFile f) const { gzclose(f); }
};

std::string_view type_name(uint8_t t) {
  switch (t) {
    case 0x08: return "unsigned byte";
    case 0x09: return "signed byte";
    case 0x0B: return "short";
    case 0x0C: return "int";
    case 0x0D: return "float";
    case 0x0E: return "double";
    default: return "unknown type";
  }
}

std::string expected_magic(int rank) {
  switch (rank) {
    case 3: return "0x00000803 (images: count, rows, cols)";
    case 1: return "0x00000801 (labels: count)";
    default: return "0x000008NN (unsigned bytes, NN dimensions)";
  }
}

// One IDX file opened for reading: plain bytes, or a gzip stream when it starts with 1f 8b.
class IdxInput {
 public:
  explicit IdxInput(const fs::path& file) : name_(file.string()) {
    std::error_code ec;
    file_size_ = fs::file_size(file, ec);
    if (ec) fail_input("{}: cannot read IDX file ({})", name_, ec.message());
    raw_.open(file, std::ios::binary);
    if (!raw_) fail_input("{}: cannot open IDX file ({})", name_, std::strerror(errno));
    std::array<char, 2> head{};
    raw_.read(head.data(), head.size());
    gzip_ = raw_.gcount() == 2 && uint8_t(head[0]) == 0x1f && uint8_t(head[1]) == 0x8b;
    if (gzip_) {
      raw_.close();
      gz_.reset(gzopen(file.c_str(), "rb"));
      if (!gz_) fail_input("{}: cannot open gzip file ({})", name_, std::strerror(errno));
      gzbuffer(gz_.get(), 1 << 17);
    } else {
      raw_.clear();
      raw_.seekg(0);
    }
  }

  bool gzip() const { return gzip_; }
  uint64_t file_size() const { return file_size_; }
  const std::string& name() const { return name_; }

  // Fills `dst` completely or throws, naming `what` was being read.
  void read_exact(std::span<uint8_t> dst, std::string_view what) {
    if (!gzip_) {
      raw_.read(reinterpret_cast<char*>(dst.data()), std::streamsize(dst.size()));
      const auto got = uint64_t(raw_.gcount());
      consumed_ += got;
      if (got != dst.size())
        fail_input("{}: file ends after {} bytes while reading {}; expected {} more bytes", name_, consumed_, what,
                   dst.size() - got);
      return;
    }
    size_t done = 0;
    while (done < dst.size()) {
      const auto chunk = unsigned(std::min<size_t>(dst.size() - done, size_t(1) << 30));
      const int got = gzread(gz_.get(), dst.data() + done, chunk);
      if (got < 0) fail_gzip();
      if (got == 0) break;
      done += size_t(got);
    }
    if (done < dst.size()) {
      int err = Z_OK;
      gzerror(gz_.get(), &err);
      if (err != Z_OK) fail_gzip();
      fail_input("{}: decompressed data ends after {} of the {} bytes of {}; the file is truncated or its header is "
                 "wrong",
                 name_, done, dst.size(), what);
    }
  }

  // The header described everything: anything after it, or a damaged gzip trailer, is an error.
  void expect_end(uint64_t described) {
    if (!gzip_) return;  // raw files were matched against their exact size before reading
    // Drain the rest before judging: a damaged stream often decodes to extra bytes before zlib notices.
    std::vector<uint8_t> sink(1 << 16);
    uint64_t extra = 0;
    for (int got; (got = gzread(gz_.get(), sink.data(), unsigned(sink.size()))) != 0; extra += uint64_t(got))
      if (got < 0) fail_gzip();
    int err = Z_OK;
    gzerror(gz_.get(), &err);
    if (err != Z_OK) fail_gzip();
    if (extra > 0)
      fail_input("{}: {} trailing bytes after the {} bytes the IDX header describes", name_, extra, described);
  }

 private:
  // zlib decodes ahead into its own buffer, so an error may belong to bytes past the ones asked for:
  // the message names the file and zlib's reason, not the field being read.
  [[noreturn]] void fail_gzip() {
    int err = Z_OK;
    const char* raw_msg = gzerror(gz_.get(), &err);
    std::string msg = raw_msg ? raw_msg : "unknown zlib error";
    // zlib prefixes its message with the path it was opened with; we name the file ourselves.
    if (const std::string prefix = name_ + ": "; msg.starts_with(prefix)) msg.erase(0, prefix.size());
    if (err == Z_ERRNO) fail_input("{}: read error ({})", name_, std::strerror(errno));
    if (err == Z_BUF_ERROR)
      fail_input("{}: gzip stream ends early (zlib: {}); the file is truncated or corrupt", name_, msg);
    fail_input("{}: corrupt gzip data (zlib: {})", name_, msg);
  }

  std::string name_;
  uint64_t file_size_ = 0;
  uint64_t consumed_ = 0;
  bool gzip_ = false;
  std::ifstream raw_;
  std::unique_ptr<gzFile_s, GzClose> gz_;
};

uint32_t big_endian_u32(const uint8_t* p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | uint32_t(p[3]);
}

// The first of the accepted spellings that exists in `dir`: Debian ships train-images-idx3-ubyte.gz,
// the original site unpacks to train-images-idx3-ubyte, and some mirrors use train-images.idx3-ubyte.
fs::path find_idx_file(const fs::path& dir, std::string_view stem, std::string_view tag, std::string_view hint) {
  const std::array<std::string, 4> names = {
      fmt::format("{}-{}-ubyte.gz", stem, tag), fmt::format("{}-{}-ubyte", stem, tag),
      fmt::format("{}.{}-ubyte", stem, tag), fmt::format("{}.{}-ubyte.gz", stem, tag)};
  for (const auto& n : names) {
    std::error_code ec;
    if (fs::is_regular_file(dir / n, ec)) return dir / n;
  }
  fail_input("{}: no {} file; expected one of {}{}", dir.string(), stem, fmt::join(names, ", "), hint);
}

struct IdxSplit {
  Split split;
  Shape shape;
  fs::path images_file;
};

IdxSplit load_idx_split(const fs::path& dir, std::string_view prefix, std::string_view hint) {
  IdxSplit out;
  out.images_file = find_idx_file(dir, fmt::format("{}-images", prefix), "idx3", hint);
  const fs::path labels_file = find_idx_file(dir, fmt::format("{}-labels", prefix), "idx1", hint);
  IdxArray images = read_idx(out.images_file, 3);
  const IdxArray labels = read_idx(labels_file, 1);
  const std::string images_name = out.images_file.string(), labels_name = labels_file.string();

  const int64_t n = images.dims[0], rows = images.dims[1], cols = images.dims[2];
  if (n != labels.dims[0])
    fail_input("{} holds {} images but {} holds {} labels; expected the same count", images_name, n, labels_name,
               labels.dims[0]);
  if (n == 0) fail_input("{}: holds no images; expected at least one", images_name);
  if (rows == 0 || cols == 0 || rows > INT32_MAX || cols > INT32_MAX)
    fail_input("{}: image size {}x{}; expected positive rows and columns", images_name, rows, cols);
  for (size_t i = 0; i < labels.data.size(); ++i)
    if (labels.data[i] >= kMnistClasses)
      fail_input("{}: label {} at index {}; expected 0..{}", labels_name, labels.data[i], i, kMnistClasses - 1);

  out.shape = Shape{1, int(rows), int(cols)};
  out.split.images = std::move(images.data);
  out.split.labels.assign(labels.data.begin(), labels.data.end());
  return out;
}

}  // namespace

IdxArray read_idx(const fs::path& file, int expected_rank) {
  IdxInput in(file);
  const std::string& name = in.name();

  std::array<uint8_t, 4> magic{};
  in.read_exact(magic, "the IDX magic number");
  const uint32_t magic_value = big_endian_u32(magic.data());
  const int rank = magic[3];
  if (magic[0] != 0 || magic[1] != 0 || rank == 0 || rank > kMaxRank ||
      (expected_rank != 0 && rank != expected_rank))
    fail_input("{}: IDX magic number 0x{:08X}; expected {}", name, magic_value, expected_magic(expected_rank));
  if (magic[2] != kUbyteType)
    fail_input("{}: IDX element type 0x{:02X} ({}); only unsigned bytes (0x08) are supported", name, magic[2],
               type_name(magic[2]));

  std::array<uint8_t, 4 * kMaxRank> dim_bytes{};
  in.read_exact(std::span(dim_bytes).first(size_t(4 * rank)), "the IDX dimensions");
  IdxArray out;
  unsigned __int128 bytes = 1;  // four 32-bit dimensions cannot overflow 128 bits
  for (int i = 0; i < rank; ++i) {
    out.dims.push_back(big_endian_u32(&dim_bytes[size_t(4 * i)]));
    bytes *= uint64_t(out.dims.back());
  }
  const std::string dims_text = fmt::format("{}", fmt::join(out.dims, "x"));
  if (bytes > kMaxDatasetBytes)
    fail_input("{}: IDX header describes {} = more than {} bytes, the limit for one dataset file; the header is "
               "corrupt or the file is not a dataset",
               name, dims_text, kMaxDatasetBytes);
  const uint64_t data_bytes = uint64_t(bytes);
  const uint64_t header_bytes = 4 + 4 * uint64_t(rank);

  if (!in.gzip()) {
    const uint64_t expected = header_bytes + data_bytes;
    if (in.file_size() < expected)
      fail_input("{}: truncated: the file is {} bytes but its IDX header describes {} ({}-byte header + {} = {} bytes)",
                 name, in.file_size(), expected, header_bytes, dims_text, data_bytes);
    if (in.file_size() > expected)
      fail_input("{}: {} trailing bytes: the file is {} bytes but its IDX header describes {} ({}-byte header + {} = "
                 "{} bytes)",
                 name, in.file_size() - expected, in.file_size(), expected, header_bytes, dims_text, data_bytes);
  } else if (data_bytes > in.file_size() * kMaxDeflateRatio) {
    fail_input("{}: IDX header describes {} = {} bytes, but a {}-byte gzip file holds at most {}; the header is "
               "corrupt",
               name, dims_text, data_bytes, in.file_size(), in.file_size() * kMaxDeflateRatio);
  }

  out.data.resize(data_bytes);
  in.read_exact(out.data, fmt::format("the {} data bytes", data_bytes));
  in.expect_end(data_bytes);
  return out;
}

Dataset load_mnist_dir(const fs::path& dir, bool fashion) {
  const std::string hint =
      fashion ? "; the Debian package dataset-fashion-mnist provides it (sudo apt-get install dataset-fashion-mnist, "
                "or run scripts/setup)"
              : "";
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    if (fashion) fail_input("Fashion-MNIST directory {} not found{}", dir.string(), hint);
    fail_input("MNIST directory {} not found; expected a directory holding train-images-idx3-ubyte[.gz], "
               "train-labels-idx1-ubyte[.gz], t10k-images-idx3-ubyte[.gz] and t10k-labels-idx1-ubyte[.gz]",
               dir.string());
  }
  IdxSplit train = load_idx_split(dir, "train", hint);
  IdxSplit test = load_idx_split(dir, "t10k", hint);
  if (!(train.shape == test.shape))
    fail_input("{} holds {} images but {} holds {} images; expected the same shape", test.images_file.string(),
               test.shape.str(), train.images_file.string(), train.shape.str());

  Dataset ds;
  ds.name = fashion ? "fashion-mnist" : "mnist:" + dir.string();
  ds.source = dir.string();
  ds.shape = train.shape;
  ds.classes = kMnistClasses;
  ds.train = std::move(train.split);
  ds.test = std::move(test.split);
  return ds;
}

}  // namespace cnnb
