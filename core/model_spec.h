#pragma once
// The model: a spec (preset name or spec string), its shape inference against a dataset, and the
// flat parameter layout with PyTorch names and layouts (conv1.weight [out,in,kh,kw], fc1.weight [out,in]).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/shape.h"

namespace cnnb {

enum class LayerKind { conv, relu, maxpool, lrn, fc };

struct LayerSpec {
  LayerKind kind = LayerKind::relu;
  int filters = 0, kernel_h = 0, kernel_w = 0;  // conv
  int stride = 1, pad = 0;                       // conv and maxpool
  int window = 0;                                // maxpool
  int lrn_size = 5;                              // lrn (cuDNN's definition, alpha divided by size)
  double lrn_alpha = 1e-4, lrn_beta = 0.75, lrn_k = 2.0;
  int units = 0;                                 // fc
  std::string str() const;                       // the spec token, e.g. conv3x3x32, maxpool3s2p1
};

struct ModelSpec {
  std::string name;  // preset name, or "custom"
  std::vector<LayerSpec> layers;
  std::string str() const;  // comma-separated tokens; parse_model(str()) gives the same spec
};

// A preset name (simple, tfcifar) or a spec string of comma-separated tokens:
//   conv<R>x<S>x<K>[s<stride>][p<pad>]  relu  maxpool<W>[s<stride>][p<pad>]
//   lrn<N>[a<alpha>][b<beta>][k<k>]     fc<units>
ModelSpec parse_model(std::string_view text);

struct PresetInfo {
  std::string_view name, spec, description;
};
std::vector<PresetInfo> model_presets();

struct ParamTensor {
  std::string name;             // PyTorch name: conv1.weight, conv1.bias, fc2.weight, ...
  std::vector<int64_t> shape;   // PyTorch layout
  int64_t offset = 0, count = 0;  // into the replica's flat buffer, in elements
  int64_t fan_in = 0;
};

struct LayerPlan {
  LayerSpec spec;
  Shape in, out;               // per image
  std::string name;            // conv1, fc2, relu3, pool1, lrn1 (params only on conv and fc)
  int weight = -1, bias = -1;  // indices into ModelPlan::params, or -1
};

struct ModelPlan {
  ModelSpec spec;
  Shape input;
  int classes = 0;
  std::vector<LayerPlan> layers;
  std::vector<ParamTensor> params;
  int64_t param_count = 0;
  // Multiply-accumulates of one forward pass of one image (training is about 3x).
  double forward_macs() const;
};

// Infers every layer's shape from the input; throws InputError when the spec cannot take the input
// (a feature map shrinking below 1x1, a last layer that is not fc<classes>, ...).
ModelPlan plan_model(const ModelSpec& spec, Shape input, int classes);

// PyTorch's default initialisation of Conv2d and Linear (kaiming_uniform with a = sqrt(5), which is
// U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and biases), drawn from seed, one stream per tensor:
// identical on every backend and replica.
std::vector<float> init_params(const ModelPlan& plan, uint64_t seed);

}  // namespace cnnb
