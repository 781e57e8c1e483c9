#include "backends/backend.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "backends/cpu/ref.h"
#include "core/error.h"
#include "core/gpu_module.h"

namespace cnnb {

namespace {

const std::vector<std::string_view>& prefs_for(const BackendRecipe& r, std::string_view op) {
  for (const auto& [o, list] : r.prefs)
    if (o == op) return list;
  for (const auto& [o, list] : r.prefs)
    if (o == "*") return list;
  CNNB_ASSERT(false);
}

const KernelInfo* find_full(Op op, std::string_view family_variant) {
  const auto slash = family_variant.find('/');
  if (slash == std::string_view::npos) return nullptr;
  return find_kernel(op, family_variant.substr(0, slash), family_variant.substr(slash + 1));
}

std::vector<std::string> variants_of(Op op) {
  std::vector<std::string> v;
  for (const auto& k : all_kernels())
    if (k.op == op) v.push_back(fmt::format("{}/{}", k.family, k.variant));
  return v;
}

// Picks the variant for one op, or explains why there is none.
const KernelInfo* choose(const BackendRecipe& r, Op op, std::vector<std::string>* fallbacks) {
  const auto& list = prefs_for(r, op_name(op));
  for (size_t i = 0; i < list.size(); ++i)
    if (const KernelInfo* k = find_full(op, list[i])) {
      if (i > 0 && fallbacks)
        fallbacks->push_back(fmt::format("{}: {} not in this build, using {}", op_name(op), list[0], list[i]));
      return k;
    }
  if (r.device == DeviceKind::cpu) {
    const KernelInfo* k = find_kernel(op, "cpu", "ref");
    CNNB_ASSERT(k);
    if (fallbacks) fallbacks->push_back(fmt::format("{}: {} not in this build, using cpu/ref", op_name(op), list[0]));
    return k;
  }
  return nullptr;
}

template <Op op>
void set_fn(OpSet<float>& s, const KernelInfo& k);
#define OP(name, Args)                                          \
  template <>                                                   \
  void set_fn<Op::name>(OpSet<float> & s, const KernelInfo& k) { \
    s.name = kernel_fn<Op::name>(k);                            \
  }
#include "backends/ops.def"
#undef OP

BackendInfo info_of(const BackendRecipe& r) {
  bool ok = true;
#define OP(name, Args) ok = ok && choose(r, Op::name, nullptr) != nullptr;
#include "backends/ops.def"
#undef OP
  // A CPU recipe always runs through cpu/ref fallbacks; it counts as available only if some op uses its own
  // variant (cpu-ref's own variant is cpu/ref, so it never falls back).
  if (r.device == DeviceKind::cpu) {
    std::vector<std::string> fb;
#define OP(name, Args) choose(r, Op::name, &fb);
#include "backends/ops.def"
#undef OP
    ok = fb.size() < size_t(kOpCount);
  }
  BackendInfo info{r.name, r.device, r.description, ok, ok, ok ? "" : std::string(r.missing_reason)};
  if (ok && r.device == DeviceKind::cuda) {
    info.unavailable_reason = gpu_module_unavailable();
    info.available = info.unavailable_reason.empty();
  }
  return info;
}

}  // namespace

std::vector<std::string> backend_names() {
  std::vector<std::string> names;
  for (const auto& r : backend_recipes()) names.emplace_back(r.name);
  return names;
}

std::vector<BackendInfo> backend_infos() {
  std::vector<BackendInfo> out;
  for (const auto& r : backend_recipes()) out.push_back(info_of(r));
  return out;
}

BackendInfo backend_info(std::string_view backend) { return info_of(backend_recipe(backend)); }

DeviceKind backend_device(std::string_view backend) { return backend_recipe(backend).device; }

OpSet<float> resolve_backend(std::string_view backend, const std::map<std::string, std::string>& overrides) {
  const BackendRecipe* r = &backend_recipe(backend);
  if (const BackendInfo info = info_of(*r); !info.in_build)
    fail_input("backend '{}' is not available in this build: {}", backend, info.unavailable_reason);
  else if (!info.available)
    fail_input("backend '{}' is not available: {}", backend, info.unavailable_reason);

  OpSet<float> set;
  set.recipe = r->name;
  std::map<std::string, std::string> pending = overrides;
  auto resolve_one = [&](Op op) -> const KernelInfo* {
    auto it = pending.find(op_name(op));
    if (it == pending.end()) return choose(*r, op, &set.fallbacks);
    const std::string want = it->second;
    pending.erase(it);
    const KernelInfo* k = nullptr;
    if (want.find('/') != std::string::npos) {
      k = find_full(op, want);
    } else {
      for (const auto& cand : all_kernels())
        if (cand.op == op && cand.variant == want && cand.device == r->device) k = &cand;
    }
    if (!k)
      fail_input("--kernel {}={}: no such variant for backend {}; {} has: {}", op_name(op), want, backend, op_name(op),
                 fmt::join(variants_of(op), ", "));
    if (k->device != r->device)
      fail_input("--kernel {}={}: that variant runs on {}, but backend {} runs on {}", op_name(op), want,
                 device_kind_name(k->device), backend, device_kind_name(r->device));
    return k;
  };
#define OP(name, Args)                                \
  {                                                   \
    const KernelInfo* k = resolve_one(Op::name);      \
    CNNB_ASSERT(k);                                   \
    set_fn<Op::name>(set, *k);                        \
    set.chosen[size_t(Op::name)] = k->full_name();    \
  }
#include "backends/ops.def"
#undef OP
  if (!pending.empty()) {
    std::vector<std::string> ops;
#define OP(name, Args) ops.emplace_back(#name);
#include "backends/ops.def"
#undef OP
    fail_input("--kernel {}=...: unknown op; expected one of: {}", pending.begin()->first, fmt::join(ops, ", "));
  }
  return set;
}

OpSet<double> reference_opset_double() {
  OpSet<double> s;
#define OP(name, Args)                                  \
  s.name = &ref::name<double>;                          \
  s.chosen[size_t(Op::name)] = #name "/cpu/ref<double>";
#include "backends/ops.def"
#undef OP
  return s;
}

}  // namespace cnnb
