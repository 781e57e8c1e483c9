#include "bench/harness/watchdog.h"

#include <cmath>
#include <cstring>
#include <span>

#include <fmt/format.h>

#include "bench/harness/run_record.h"
#include "strategies/comm/process_group.h"

namespace cnnb {

// Remembers the first layer of a forward pass whose output is not finite; later layers are not scanned
// (their output follows from it). Runs on the replica's thread.
class Watchdog::OutputCheck final : public ForwardHook<float> {
 public:
  explicit OutputCheck(Device& dev) : dev_(dev) {}
  void layer_output(size_t layer, const float* y, size_t count) override {
    if (found) return;
    std::span<const float> v(y, count);
    if (dev_.kind() != DeviceKind::cpu) {
      if (host_.size() < count) host_.resize(count);
      dev_.download(host_.data(), y, count * sizeof(float));
      v = std::span<const float>(host_.data(), count);
    }
    if (const auto bad = find_non_finite(v)) found = std::make_pair(layer, *bad);
  }
  std::optional<std::pair<size_t, NonFinite>> found;

 private:
  Device& dev_;
  std::vector<float> host_;
};

Watchdog::Watchdog(ReplicaSet& rs, bool check_outputs) : rs_(rs), check_outputs_(check_outputs) {
  if (!check_outputs_) return;
  for (int i = 0; i < rs_.size(); ++i) {
    hooks_.push_back(std::make_unique<OutputCheck>(rs_[i].device()));
    rs_[i].net().set_forward_hook(hooks_.back().get());
  }
}

Watchdog::~Watchdog() {
  for (size_t i = 0; i < hooks_.size(); ++i) rs_[int(i)].net().set_forward_hook(nullptr);
}

void Watchdog::arm() {
  for (auto& h : hooks_) h->found.reset();
}

std::string Watchdog::check(double step_loss) {
  const ModelPlan& plan = rs_.setup().plan;
  const auto on_replica = [&](int i) { return rs_.size() > 1 ? fmt::format(" on replica {}", i) : std::string(); };
  for (size_t i = 0; i < hooks_.size(); ++i)
    if (const auto& f = hooks_[i]->found)
      return fmt::format("layer {} produced {}: {}{}", plan.layers[f->first].name, value_name(f->second.value),
                         describe_output_element(plan, f->first, f->second.index), on_replica(int(i)));
  std::string gradient;
  for (int i = 0; i < rs_.size() && gradient.empty(); ++i) {
    Replica& rep = rs_[i];
    std::span<const float> g(rep.net().grads(), size_t(plan.param_count));
    if (rep.device().kind() != DeviceKind::cpu) {
      if (!check_outputs_) continue;  // GPU gradients are downloaded only when asked for
      host_.resize(g.size());
      rs_.run_on(i, [&](Replica& r) { r.device().download(host_.data(), r.net().grads(), host_.size() * sizeof(float)); });
      g = host_;
    }
    if (const auto bad = find_non_finite(g))
      gradient = fmt::format("the gradient {} is {}{}", describe_param_element(plan, bad->index), value_name(bad->value),
                             on_replica(i));
  }
  if (!std::isfinite(step_loss))
    return gradient.empty() ? fmt::format("the loss is {}", value_name(step_loss))
                            : fmt::format("the loss is {}; {}", value_name(step_loss), gradient);
  if (!gradient.empty()) return fmt::format("{} (the loss is {:g})", gradient, step_loss);
  return "";
}

std::string Watchdog::agree(ProcessGroup& pg, const std::string& mine) {
  if (pg.size() == 1) return mine;
  std::vector<double> flags(size_t(pg.size()), 0.0);
  flags[size_t(pg.rank())] = mine.empty() ? 0.0 : 1.0;
  pg.allreduce_sum(std::span(flags));
  int first = -1;
  for (int r = 0; r < pg.size() && first < 0; ++r)
    if (flags[size_t(r)] > 0) first = r;
  if (first < 0) return "";
  // Only on the step that stops the run: the finding rank's message goes to every rank.
  uint64_t length = pg.rank() == first ? mine.size() : 0;
  pg.broadcast(std::as_writable_bytes(std::span(&length, 1)), first);
  std::string text = pg.rank() == first ? mine : std::string(length, '\0');
  pg.broadcast(std::as_writable_bytes(std::span(text.data(), text.size())), first);
  return fmt::format("rank {}: {}", first, text);
}

nlohmann::json diverged_record(const TrainingDiverged& e, const Dataset& data) {
  nlohmann::json j = run_record(*e.partial, data);
  j["status"] = "diverged";
  j["reason"] = e.what();
  j["diverged_at"] = {{"epoch", e.epoch}, {"step", e.step}, {"global_step", e.global_step}};
  return j;
}

}  // namespace cnnb
