#include "bench/harness/checkpoint.h"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "bench/harness/option_fields.h"
#include "bench/harness/run_record.h"
#include "core/crc32c.h"
#include "core/error.h"
#include "core/files.h"
#include "core/safetensors.h"

namespace cnnb {

namespace fs = std::filesystem;

namespace {

constexpr const char* kStateKey = "cnnbench.checkpoint";
constexpr const char* kCrcKey = "cnnbench.crc32c";
constexpr int kFormat = 1;

std::string tensor_name(size_t replica, std::string_view what) { return fmt::format("replica{}.{}", replica, what); }

EpochStats epoch_from(const nlohmann::json& j) {
  EpochStats e;
  e.epoch = j.at("epoch");
  e.steps = j.at("steps");
  e.train_loss = j.at("train_loss");
  e.train_accuracy = j.at("train_accuracy");
  e.test_loss = j.at("test_loss");
  e.test_accuracy = j.at("test_accuracy");
  e.seconds = j.at("seconds");
  e.eval_seconds = j.at("eval_seconds");
  e.images_per_second = j.at("images_per_second");
  e.wall_seconds = j.at("wall_seconds");
  return e;
}

// Global step of a file named ckpt-<step>.safetensors, or -1.
int64_t step_of(const fs::path& p) {
  const std::string n = p.filename().string();
  constexpr std::string_view prefix = "ckpt-", suffix = ".safetensors";
  if (n.size() <= prefix.size() + suffix.size() || !n.starts_with(prefix) || !n.ends_with(suffix)) return -1;
  int64_t step = -1;
  const char* b = n.data() + prefix.size();
  const char* e = n.data() + n.size() - suffix.size();
  auto [end, ec] = std::from_chars(b, e, step);
  return ec == std::errc() && end == e ? step : -1;
}

std::string read_whole(const fs::path& file) {
  // read_safetensors checks sizes before reading; this only needs the raw bytes for the checksum too.
  std::error_code ec;
  const auto size = fs::file_size(file, ec);
  if (ec) fail_input("cannot read checkpoint {}: {}", file.string(), ec.message());
  std::string bytes(size, '\0');
  std::FILE* f = std::fopen(file.c_str(), "rb");
  if (!f) fail_input("cannot open checkpoint {}", file.string());
  const size_t got = std::fread(bytes.data(), 1, size, f);
  std::fclose(f);
  if (got != size) fail_input("cannot read checkpoint {}: read {} of {} bytes", file.string(), got, size);
  return bytes;
}

}  // namespace

nlohmann::json checkpoint_fingerprint(const TrainConfig& cfg, const ModelPlan& plan, const Dataset& data,
                                      int64_t steps_per_epoch, int world) {
  const OptimizerConfig& o = cfg.optimizer;
  nlohmann::json fp = {{"model_spec", plan.spec.str()},
          {"input", plan.input.str()},
          {"classes", plan.classes},
          {"params", plan.param_count},
          {"optimizer", o.kind == OptimizerConfig::Kind::sgd ? "sgd" : "adam"},
          {"optimizer_settings", o.str()},
          {"batch", cfg.batch},
          {"steps_per_epoch", steps_per_epoch},
          {"seed", cfg.seed},
          {"train_images", data.train.count()},
          {"strategy", cfg.strategy},
          {"replicas", world}};
  add_option_fields(fp, cfg.strategy, cfg.strategy_options, OptionFields::changing_results);
  return fp;
}

std::string encode_checkpoint(const CheckpointState& s, const nlohmann::json& fingerprint) {
  nlohmann::json state;
  state["format"] = kFormat;
  state["fingerprint"] = fingerprint;
  state["epoch"] = s.epoch;
  state["steps_done"] = s.steps_done;
  state["global_step"] = s.global_step;
  state["loss_sum"] = s.loss_sum;
  state["epoch_seconds"] = s.epoch_seconds;
  state["correct"] = s.correct;
  state["images"] = s.images;
  state["train_seconds"] = s.train_seconds;
  // The data order is epoch_permutation(seed, epoch) and nothing else in training draws random numbers,
  // so (seed, epoch, steps_done) is the whole random state.
  state["data_order"] = {{"seed", fingerprint.at("seed")}, {"epoch", s.epoch}, {"next_batch", s.steps_done}};
  nlohmann::json epochs = nlohmann::json::array();
  for (const auto& e : s.finished) epochs.push_back(epoch_json(e));
  state["finished_epochs"] = epochs;
  nlohmann::json opt_steps = nlohmann::json::array();
  for (const auto& r : s.replicas) opt_steps.push_back(r.optimizer_steps);
  state["optimizer_steps"] = opt_steps;
  const std::string state_text = state.dump();

  std::vector<std::string> names;
  std::vector<std::vector<int64_t>> shapes;
  std::vector<std::span<const float>> datas;
  for (size_t i = 0; i < s.replicas.size(); ++i) {
    const ReplicaState& r = s.replicas[i];
    const std::pair<const char*, const std::vector<float>*> parts[] = {
        {"params", &r.params}, {"optimizer.state0", &r.state0}, {"optimizer.state1", &r.state1}};
    for (const auto& [what, v] : parts) {
      if (v->empty()) continue;
      names.push_back(tensor_name(i, what));
      shapes.push_back({int64_t(v->size())});
      datas.push_back(*v);
    }
  }
  std::vector<StTensorView> views;
  uint32_t crc = crc32c(state_text);
  for (size_t i = 0; i < names.size(); ++i) {
    views.push_back({names[i], shapes[i], datas[i]});
    crc = crc32c(std::string_view(reinterpret_cast<const char*>(datas[i].data()), datas[i].size_bytes()), crc);
  }
  return encode_safetensors(views, {{kStateKey, state_text}, {kCrcKey, fmt::format("{:08x}", crc)}});
}

CheckpointState decode_checkpoint(std::string_view bytes, std::string_view where, const nlohmann::json& fingerprint) {
  StFile f;
  try {
    f = decode_safetensors(bytes, where);
  } catch (const InputError& e) {
    fail_input("checkpoint is damaged (truncated or corrupt): {}", e.what());
  }
  const auto st = f.metadata.find(kStateKey);
  const auto sc = f.metadata.find(kCrcKey);
  if (st == f.metadata.end() || sc == f.metadata.end())
    fail_input("{}: not a cnnbench checkpoint (no {} / {} in its metadata)", where, kStateKey, kCrcKey);
  uint32_t crc = crc32c(st->second);
  for (const auto& t : f.tensors) crc = crc32c(t.bytes, crc);
  if (fmt::format("{:08x}", crc) != sc->second)
    fail_input("checkpoint is damaged (corrupt): {}: checksum crc32c {:08x} of its contents, but {} was recorded", where,
               crc, sc->second);
  CheckpointState s;
  try {
    const nlohmann::json state = nlohmann::json::parse(st->second);
    if (state.at("format") != kFormat)
      fail_input("{}: checkpoint format {}, expected {}", where, state.at("format").dump(), kFormat);
    const nlohmann::json& fp = state.at("fingerprint");
    std::vector<std::string> diffs;
    for (const auto& [k, v] : fingerprint.items()) {
      if (!fp.contains(k))
        diffs.push_back(fmt::format("{}: missing in the checkpoint, this run has {}", k, v.dump()));
      else if (fp[k] != v)
        diffs.push_back(fmt::format("{}: checkpoint has {}, this run has {}", k, fp[k].dump(), v.dump()));
    }
    if (!diffs.empty())
      fail_input("{}: the checkpoint was written by a different configuration: {}", where, fmt::join(diffs, "; "));
    s.epoch = state.at("epoch");
    s.steps_done = state.at("steps_done");
    s.global_step = state.at("global_step");
    s.loss_sum = state.at("loss_sum");
    s.epoch_seconds = state.at("epoch_seconds");
    s.correct = state.at("correct");
    s.images = state.at("images");
    s.train_seconds = state.at("train_seconds");
    for (const auto& e : state.at("finished_epochs")) s.finished.push_back(epoch_from(e));
    const auto& opt_steps = state.at("optimizer_steps");
    for (size_t i = 0; i < opt_steps.size(); ++i) {
      ReplicaState r;
      r.optimizer_steps = opt_steps[i];
      const StTensor* p = f.find(tensor_name(i, "params"));
      if (!p) fail_input("{}: tensor {} is missing", where, tensor_name(i, "params"));
      if (p->dtype != "F32" || p->elements() != fingerprint.at("params").get<int64_t>())
        fail_input("{}: tensor {} holds {} {} values, expected {} F32", where, p->name, p->elements(), p->dtype,
                   fingerprint.at("params").dump());
      r.params = p->to_f32();
      if (const StTensor* t = f.find(tensor_name(i, "optimizer.state0"))) r.state0 = t->to_f32();
      if (const StTensor* t = f.find(tensor_name(i, "optimizer.state1"))) r.state1 = t->to_f32();
      s.replicas.push_back(std::move(r));
    }
  } catch (const nlohmann::json::exception& e) {
    fail_input("{}: the checkpoint state is not what this version writes ({})", where, e.what());
  }
  return s;
}

std::vector<fs::path> list_checkpoints(const fs::path& dir) {
  std::vector<std::pair<int64_t, fs::path>> found;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (const int64_t s = step_of(e.path()); s >= 0) found.emplace_back(s, e.path());
  std::sort(found.begin(), found.end());
  std::vector<fs::path> out;
  for (auto& [s, p] : found) out.push_back(std::move(p));
  return out;
}

fs::path write_checkpoint(const fs::path& dir, const CheckpointState& s, const nlohmann::json& fingerprint) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) fail_input("--checkpoint-dir {}: cannot create the directory: {}", dir.string(), ec.message());
  const fs::path file = dir / fmt::format("ckpt-{:09}.safetensors", s.global_step);
  write_file_atomic(file, encode_checkpoint(s, fingerprint));
  const auto all = list_checkpoints(dir);
  for (size_t i = 0; i + 2 < all.size(); ++i) fs::remove(all[i], ec);
  return file;
}

CheckpointState read_checkpoint(const fs::path& resume, const nlohmann::json& fingerprint, fs::path* used) {
  std::error_code ec;
  fs::path file = resume;
  std::vector<fs::path> all;
  if (fs::is_directory(resume, ec)) {
    all = list_checkpoints(resume);
    if (all.empty())
      fail_input("--resume {}: no checkpoint in this directory (expected files named ckpt-<step>.safetensors)",
                 resume.string());
    file = all.back();
  } else if (!fs::exists(resume, ec)) {
    fail_input("--resume {}: no such file or directory", resume.string());
  }
  if (used) *used = file;
  try {
    return decode_checkpoint(read_whole(file), file.string(), fingerprint);
  } catch (const InputError& e) {
    const std::string what = e.what();
    if (all.size() < 2 || what.find("damaged") == std::string::npos) throw;
    // Name the previous checkpoint when it is intact, so the user can continue from it.
    const fs::path& prev = all[all.size() - 2];
    try {
      decode_checkpoint(read_whole(prev), prev.string(), fingerprint);
    } catch (const InputError&) {
      fail_input("{}; the previous checkpoint {} is damaged too", what, prev.string());
    }
    fail_input("{}; the previous checkpoint {} is intact: continue from it with --resume {}", what, prev.string(),
               prev.string());
  }
}

}  // namespace cnnb
