#include "core/safetensors.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <fstream>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/files.h"

namespace cnnb {

static_assert(std::endian::native == std::endian::little, "safetensors data is little-endian; so is this host's");

namespace {

// Element sizes of the dtypes the format defines; anything else is refused by name.
int dtype_size(std::string_view d) {
  static constexpr std::pair<std::string_view, int> kSizes[] = {
      {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E5M2", 1}, {"F8_E4M3", 1}, {"I16", 2}, {"U16", 2}, {"F16", 2},
      {"BF16", 2}, {"I32", 4}, {"U32", 4}, {"F32", 4},     {"F64", 8},     {"I64", 8}, {"U64", 8}};
  for (const auto& [name, size] : kSizes)
    if (name == d) return size;
  return 0;
}

std::string shape_str(std::span<const int64_t> s) { return fmt::format("[{}]", fmt::join(s, ", ")); }

}  // namespace

int64_t StTensor::elements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::vector<float> StTensor::to_f32() const {
  if (dtype != "F32") fail_input("tensor {} has dtype {}; expected F32", name, dtype);
  std::vector<float> v(bytes.size() / sizeof(float));
  std::memcpy(v.data(), bytes.data(), v.size() * sizeof(float));
  return v;
}

const StTensor* StFile::find(std::string_view name) const {
  for (const auto& t : tensors)
    if (t.name == name) return &t;
  return nullptr;
}

std::string encode_safetensors(std::span<const StTensorView> tensors, const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const auto& t : tensors) {
    int64_t n = 1;
    for (int64_t d : t.shape) n *= d;
    CNNB_CHECK(n == int64_t(t.data.size()), "tensor {}: shape {} holds {} elements, but {} were given", t.name,
               shape_str(t.shape), n, t.data.size());
    const uint64_t bytes = t.data.size() * sizeof(float);
    header[std::string(t.name)] = {{"dtype", "F32"},
                                   {"shape", std::vector<int64_t>(t.shape.begin(), t.shape.end())},
                                   {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string json = header.dump();
  // Padded with spaces so that the data starts 8-byte aligned, as the reference writer does.
  json.append((8 - json.size() % 8) % 8, ' ');
  std::string out(8, '\0');
  const uint64_t len = json.size();
  std::memcpy(out.data(), &len, 8);
  out.reserve(8 + json.size() + offset);
  out += json;
  for (const auto& t : tensors) out.append(reinterpret_cast<const char*>(t.data.data()), t.data.size() * sizeof(float));
  return out;
}

namespace {

// `after` is what the file holds after the length field; read_safetensors checks before reading it all.
void check_header_length(uint64_t header_len, uint64_t after, std::string_view where) {
  if (header_len > kMaxSafetensorsHeader)
    fail_input("{}: header length {} is larger than the limit of {} bytes (not a safetensors file?)", where,
               header_len, kMaxSafetensorsHeader);
  if (header_len > after)
    fail_input("{}: header length {} is longer than the file ({} bytes after the length field); the file is "
               "truncated or not a safetensors file", where, header_len, after);
}

}  // namespace

StFile decode_safetensors(std::string_view bytes, std::string_view where) {
  if (bytes.size() < 8)
    fail_input("{}: {} bytes; a safetensors file starts with an 8-byte header length", where, bytes.size());
  uint64_t header_len = 0;
  std::memcpy(&header_len, bytes.data(), 8);
  check_header_length(header_len, bytes.size() - 8, where);
  const std::string_view text = bytes.substr(8, header_len);
  if (text.empty() || text.front() != '{')
    fail_input("{}: the header does not start with '{{'; expected a JSON object", where);
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {  // parse_error, or out_of_range for a number like 1e400
    fail_input("{}: the header is not valid JSON ({})", where, e.what());
  }
  if (!header.is_object()) fail_input("{}: the header is not a JSON object", where);
  const std::string_view data = bytes.substr(8 + header_len);

  StFile f;
  struct Span {
    uint64_t begin, end;
    size_t index;
  };
  std::vector<Span> spans;
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      if (!entry.is_object()) fail_input("{}: __metadata__ must be an object of strings", where);
      for (const auto& [k, v] : entry.items()) {
        if (!v.is_string()) fail_input("{}: __metadata__ key {} is not a string", where, k);
        f.metadata[k] = v.get<std::string>();
      }
      continue;
    }
    if (!entry.is_object() || !entry.contains("dtype") || !entry.contains("shape") || !entry.contains("data_offsets"))
      fail_input("{}: tensor {}: expected an object with dtype, shape and data_offsets", where, name);
    const auto& jd = entry["dtype"];
    const auto& js = entry["shape"];
    const auto& jo = entry["data_offsets"];
    if (!jd.is_string()) fail_input("{}: tensor {}: dtype is not a string", where, name);
    StTensor t;
    t.name = name;
    t.dtype = jd.get<std::string>();
    const int esize = dtype_size(t.dtype);
    if (esize == 0) fail_input("{}: tensor {}: unknown dtype {}", where, name, t.dtype);
    if (!js.is_array()) fail_input("{}: tensor {}: shape is not an array", where, name);
    uint64_t elements = 1;
    for (const auto& d : js) {
      if (!d.is_number_unsigned()) fail_input("{}: tensor {}: shape {} has a dimension that is not an integer >= 0", where, name, js.dump());
      const uint64_t v = d.get<uint64_t>();
      if (v && elements > kMaxSafetensorsTensorBytes / uint64_t(esize) / v)
        fail_input("{}: tensor {}: shape {} of {} is more than {} bytes, the limit for one tensor", where, name,
                   js.dump(), t.dtype, kMaxSafetensorsTensorBytes);
      elements *= v;
      t.shape.push_back(int64_t(v));
    }
    if (!jo.is_array() || jo.size() != 2 || !jo[0].is_number_unsigned() || !jo[1].is_number_unsigned())
      fail_input("{}: tensor {}: data_offsets {} is not [begin, end]", where, name, jo.dump());
    const uint64_t begin = jo[0].get<uint64_t>(), end = jo[1].get<uint64_t>();
    if (begin > end || end > data.size())
      fail_input("{}: tensor {}: data_offsets [{}, {}] out of range; the data section holds {} bytes", where, name,
                 begin, end, data.size());
    if (end - begin != elements * uint64_t(esize))
      fail_input("{}: tensor {}: data_offsets [{}, {}] hold {} bytes, but shape {} of {} needs {}", where, name, begin,
                 end, end - begin, shape_str(t.shape), t.dtype, elements * uint64_t(esize));
    spans.push_back({begin, end, f.tensors.size()});
    f.tensors.push_back(std::move(t));
  }
  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  // Tensors must tile the data section exactly: no overlap, no gap, nothing after the last one.
  uint64_t expect = 0;
  for (const Span& s : spans) {
    const std::string& n = f.tensors[s.index].name;
    if (s.begin < expect) fail_input("{}: tensor {}: data_offsets [{}, {}] overlap the previous tensor (which ends at {})", where, n, s.begin, s.end, expect);
    if (s.begin > expect) fail_input("{}: tensor {}: data_offsets start at {}, leaving a gap after byte {}", where, n, s.begin, expect);
    expect = s.end;
  }
  if (expect != data.size())
    fail_input("{}: the tensors cover {} bytes of data, but the file holds {} after the header", where, expect, data.size());
  std::vector<StTensor> ordered;
  ordered.reserve(spans.size());
  for (const Span& s : spans) {
    StTensor& t = f.tensors[s.index];
    t.bytes.assign(data.substr(s.begin, s.end - s.begin));
    ordered.push_back(std::move(t));
  }
  f.tensors = std::move(ordered);
  return f;
}

StFile read_safetensors(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) fail_input("cannot open {}: {}", file.string(), std::strerror(errno));
  std::error_code ec;
  const uint64_t size = std::filesystem::file_size(file, ec);
  if (ec) fail_input("cannot read {}: {}", file.string(), ec.message());
  char len_bytes[8] = {};
  if (size < 8 || !in.read(len_bytes, 8))
    fail_input("{}: {} bytes; a safetensors file starts with an 8-byte header length", file.string(), size);
  uint64_t header_len = 0;
  std::memcpy(&header_len, len_bytes, 8);
  // Checked here too, so that a corrupt length never makes us read (allocate) a huge file.
  check_header_length(header_len, size - 8, file.string());
  std::string bytes(size, '\0');
  std::memcpy(bytes.data(), len_bytes, 8);
  if (!in.read(bytes.data() + 8, std::streamsize(size - 8)))
    fail_input("cannot read {}: the file ended before its {} bytes", file.string(), size);
  return decode_safetensors(bytes, file.string());
}

std::string encode_weights(const ModelPlan& plan, std::span<const float> flat,
                           const std::map<std::string, std::string>& metadata) {
  CNNB_CHECK(int64_t(flat.size()) == plan.param_count, "encode_weights: {} values for a model of {} parameters",
             flat.size(), plan.param_count);
  std::vector<StTensorView> views;
  for (const auto& p : plan.params)
    views.push_back({p.name, p.shape, flat.subspan(size_t(p.offset), size_t(p.count))});
  return encode_safetensors(views, metadata);
}

void save_weights(const std::filesystem::path& file, const ModelPlan& plan, std::span<const float> flat,
                  const std::map<std::string, std::string>& metadata) {
  write_file_atomic(file, encode_weights(plan, flat, metadata));
}

std::vector<float> weights_from(const StFile& f, const ModelPlan& plan, std::string_view where) {
  std::vector<std::string> problems;
  std::vector<float> flat(size_t(plan.param_count));
  for (const auto& p : plan.params) {
    const StTensor* t = f.find(p.name);
    if (!t) {
      problems.push_back(fmt::format("missing {} (expected F32 {})", p.name, shape_str(p.shape)));
      continue;
    }
    const bool shape_ok = t->shape == p.shape, dtype_ok = t->dtype == "F32";
    if (!shape_ok) problems.push_back(fmt::format("{}: shape {}, expected {}", p.name, shape_str(t->shape), shape_str(p.shape)));
    if (!dtype_ok) problems.push_back(fmt::format("{}: dtype {}, expected F32", p.name, t->dtype));
    if (shape_ok && dtype_ok) std::memcpy(flat.data() + p.offset, t->bytes.data(), t->bytes.size());
  }
  for (const auto& t : f.tensors) {
    const bool known = std::any_of(plan.params.begin(), plan.params.end(), [&](const ParamTensor& p) { return p.name == t.name; });
    if (!known) problems.push_back(fmt::format("extra {} ({} {}) not in model {}", t.name, t.dtype, shape_str(t.shape), plan.spec.str()));
  }
  if (!problems.empty())
    fail_input("{}: the weights do not fit model {} ({}): {}", where, plan.spec.name, plan.spec.str(),
               fmt::join(problems, "; "));
  return flat;
}

std::vector<float> load_weights(const std::filesystem::path& file, const ModelPlan& plan) {
  return weights_from(read_safetensors(file), plan, file.string());
}

}  // namespace cnnb
