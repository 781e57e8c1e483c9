#pragma once
// RAII owners of cuDNN's legacy descriptors (tensor, filter, convolution, pooling, LRN): created in
// the constructor, destroyed once. Move-only, so a plan holding them can be built and then stored.
// Host code only.
#include <cudnn.h>

#include <utility>

#include "backends/cudnn/check.h"

namespace cnnb::cudnn {

template <class T, cudnnStatus_t (*Create)(T*), cudnnStatus_t (*Destroy)(T)>
class Descriptor {
 public:
  Descriptor() {
    const cudnnStatus_t s = Create(&d_);
    if (s != CUDNN_STATUS_SUCCESS) throw_cudnn_error(s, "creating a cuDNN descriptor", __FILE__, __LINE__);
  }
  ~Descriptor() {
    if (d_) (void)Destroy(d_);
  }
  Descriptor(Descriptor&& o) noexcept : d_(std::exchange(o.d_, nullptr)) {}
  Descriptor& operator=(Descriptor&& o) noexcept {
    std::swap(d_, o.d_);
    return *this;
  }
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;

  T get() const { return d_; }

 private:
  T d_ = nullptr;
};

using TensorDesc = Descriptor<cudnnTensorDescriptor_t, cudnnCreateTensorDescriptor, cudnnDestroyTensorDescriptor>;
using FilterDesc = Descriptor<cudnnFilterDescriptor_t, cudnnCreateFilterDescriptor, cudnnDestroyFilterDescriptor>;
using ConvDesc =
    Descriptor<cudnnConvolutionDescriptor_t, cudnnCreateConvolutionDescriptor, cudnnDestroyConvolutionDescriptor>;
using PoolDesc = Descriptor<cudnnPoolingDescriptor_t, cudnnCreatePoolingDescriptor, cudnnDestroyPoolingDescriptor>;
using LrnDesc = Descriptor<cudnnLRNDescriptor_t, cudnnCreateLRNDescriptor, cudnnDestroyLRNDescriptor>;

// A float NCHW tensor descriptor, packed (cudnn_graph.h: NCHW is "row major (wStride = 1, hStride = w)").
// Note the argument order: format before data type here, data type before format for filters.
inline TensorDesc nchw_tensor(int n, int c, int h, int w) {
  TensorDesc d;
  CNNB_CUDNN_CHECK(cudnnSetTensor4dDescriptor(d.get(), CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, n, c, h, w));
  return d;
}

}  // namespace cnnb::cudnn
