#include "backends/cuda/cuda_ctx.h"

#include <cublas_v2.h>
#include <cuda.h>

#include <cstdint>
#include <exception>
#include <string>

#include "backends/cublas/check.h"
#include "backends/cuda/check.h"
#include "core/device.h"
#include "core/error.h"

#if CNNB_HAVE_CUDNN
#include "backends/cudnn/check.h"
#include "backends/cudnn/plans.h"
#endif

namespace cnnb {

namespace {

class DeviceScratch {
 public:
  DeviceScratch() = default;
  ~DeviceScratch() { release(); }
  DeviceScratch(const DeviceScratch&) = delete;
  DeviceScratch& operator=(const DeviceScratch&) = delete;

  void release() noexcept {
    if (p_) (void)cudaFree(p_);
    p_ = nullptr;
    bytes_ = 0;
  }
  void adopt(void* p, size_t bytes) noexcept {
    release();
    p_ = p;
    bytes_ = bytes;
  }
  void* data() const { return p_; }
  size_t bytes() const { return bytes_; }

 private:
  void* p_ = nullptr;
  size_t bytes_ = 0;
};

struct CublasDeleter {
  // cublasDestroy synchronizes with the handle's work before releasing it (cuBLAS docs, "cuBLAS context").
  void operator()(cublasContext* h) const noexcept { (void)cublasDestroy(h); }
};

#if CNNB_HAVE_CUDNN
struct CudnnDeleter {
  void operator()(cudnnContext* h) const noexcept { (void)cudnnDestroy(h); }
};
#endif

}  // namespace

// Declared in dependency order, so members are destroyed in reverse: the cuDNN plans (descriptors)
// before the cuDNN handle, both handles before the workspace they may have been handed.
struct CudaCtx::Libs {
  DeviceScratch workspace;
  std::unique_ptr<cublasContext, CublasDeleter> cublas;
#if CNNB_HAVE_CUDNN
  std::unique_ptr<cudnnContext, CudnnDeleter> cudnn;
  std::unique_ptr<cudnn::Plans> plans;
#endif
};

void CudaCtx::LibsDeleter::operator()(Libs* l) const noexcept { delete l; }

CudaCtx::CudaCtx(int dev) : device(dev), libs_(new Libs) {
  CNNB_CUDA_CHECK(cudaSetDevice(device));
  CNNB_CUDA_CHECK(cudaDeviceGetAttribute(&sm_count, cudaDevAttrMultiProcessorCount, device));
  CNNB_CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
}

CudaCtx::~CudaCtx() {
  if (!stream) return;
  cuda::ScopedDevice on(device);
  // Destroying a stream with work in flight is legal, but the work would outlive its buffers'
  // owners' expectations: drain it first. Errors cannot be thrown from here.
  (void)cudaStreamSynchronize(stream);
  libs_.reset();
  (void)cudaStreamDestroy(stream);
  (void)cudaGetLastError();
}

CudaCtx::Libs& CudaCtx::libs() { return *libs_; }

cublasContext* CudaCtx::cublas() {
  Libs& l = libs();
  if (!l.cublas) {
    // The handle binds to the device current at cublasCreate.
    cuda::ScopedDevice on(device);
    cublasHandle_t h = nullptr;
    CNNB_CUBLAS_CHECK(cublasCreate(&h));
    std::unique_ptr<cublasContext, CublasDeleter> owner(h);
    // No cublasSetWorkspace: cuBLAS keeps its own pool per handle, and this handle only ever sees
    // one stream, which is what its reproducibility guarantee asks for. (cublasSetStream would
    // reset a user workspace anyway.)
    CNNB_CUBLAS_CHECK(cublasSetStream(h, stream));
    // FP32 parity with the other backends: the default math mode never uses TF32 for SGEMM
    // (cublas_api.h: TF32 needs CUBLAS_TF32_TENSOR_OP_MATH). Set explicitly so it is not inherited.
    CNNB_CUBLAS_CHECK(cublasSetMathMode(h, CUBLAS_DEFAULT_MATH));
    CNNB_CUBLAS_CHECK(cublasSetPointerMode(h, CUBLAS_POINTER_MODE_HOST));
    CNNB_CUBLAS_CHECK(cublasSetAtomicsMode(h, CUBLAS_ATOMICS_NOT_ALLOWED));
    l.cublas = std::move(owner);
  }
  return l.cublas.get();
}

#if CNNB_HAVE_CUDNN
cudnnContext* CudaCtx::cudnn() {
  Libs& l = libs();
  if (!l.cudnn) {
    cuda::ScopedDevice on(device);
    cudnnHandle_t h = nullptr;
    CNNB_CUDNN_CHECK(cudnnCreate(&h));
    std::unique_ptr<cudnnContext, CudnnDeleter> owner(h);
    // Without this every cuDNN kernel would go to the legacy default stream.
    CNNB_CUDNN_CHECK(cudnnSetStream(h, stream));
    l.cudnn = std::move(owner);
  }
  return l.cudnn.get();
}

cudnn::Plans& CudaCtx::cudnn_plans() {
  Libs& l = libs();
  if (!l.plans) l.plans = std::make_unique<cudnn::Plans>();
  return *l.plans;
}
#endif

void* CudaCtx::workspace(size_t bytes) {
  DeviceScratch& w = libs().workspace;
  if (const size_t grown = cuda::workspace_growth(w.bytes(), bytes)) {
    cuda::ScopedDevice on(device);
    CNNB_CUDA_CHECK(cudaStreamSynchronize(stream));
    w.release();
    void* p = nullptr;
    const cudaError_t err = cudaMalloc(&p, grown);
    if (err == cudaErrorMemoryAllocation) {
      (void)cudaGetLastError();
      fail("out of memory on gpu:{} growing the replica's workspace to {} bytes", device, grown);
    }
    CNNB_CUDA_CHECK(err);
    w.adopt(p, grown);
  }
  return w.data();
}

// No libraries yet (cuda-naive never creates them): no workspace either.
size_t CudaCtx::workspace_bytes() const { return libs_ ? libs_->workspace.bytes() : 0; }

namespace cuda {

cudaStream_t stream_of(const ExecCtx& ctx, const char* kernel) { return cuda_of(ctx, kernel).stream; }

CudaCtx& cuda_of(const ExecCtx& ctx, const char* kernel) {
  if (ctx.kind != DeviceKind::cuda || ctx.cuda == nullptr)
    fail("{} is a CUDA kernel but was given the ExecCtx of {}:{}", kernel, device_kind_name(ctx.kind), ctx.device);
  return *ctx.cuda;
}

void rethrow_in(const char* kernel) {
  const std::string prefix = std::string(kernel) + ": ";
  auto named = [&](const std::exception& e) {
    const std::string what = e.what();
    return what.rfind(prefix, 0) == 0 ? what : prefix + what;  // already named: keep it once
  };
  try {
    throw;
  } catch (const InputError& e) {
    throw InputError(named(e));
  } catch (const Error& e) {
    throw Error(named(e));
  }
}

size_t workspace_growth(size_t have, size_t need) {
  if (need <= have) return 0;
  constexpr size_t kMiB = size_t(1) << 20;
  if (need > SIZE_MAX - kMiB) return need;
  return (need + kMiB - 1) / kMiB * kMiB;
}

namespace {

using CtxGetCurrent = CUresult (*)(CUcontext*);

// cuCtxGetCurrent through the runtime's driver entry point, so that cnnbench need not link libcuda;
// null when the driver does not offer it.
CtxGetCurrent ctx_get_current() noexcept {
  static const CtxGetCurrent fn = [] {
    void* p = nullptr;
    cudaDriverEntryPointQueryResult status = cudaDriverEntryPointSymbolNotFound;
    if (cudaGetDriverEntryPointByVersion("cuCtxGetCurrent", &p, 12000, cudaEnableDefault, &status) != cudaSuccess ||
        status != cudaDriverEntryPointSuccess) {
      (void)cudaGetLastError();
      return CtxGetCurrent{};
    }
    return reinterpret_cast<CtxGetCurrent>(p);
  }();
  return fn;
}

// Whether the calling thread has a context: one that has none is told device 0 by cudaGetDevice, and
// setting that 0 back would create a context on GPU 0 (cudaSetDevice initialises the primary context) in
// a thread that never used it, such as the prefetch loader or another MPI rank's set-up.
bool context_current() noexcept {
  const CtxGetCurrent fn = ctx_get_current();
  if (!fn) return true;  // cannot tell: restore as the runtime reports
  CUcontext c = nullptr;
  return fn(&c) == CUDA_SUCCESS && c != nullptr;
}

}  // namespace

bool RuntimeDevice::get(int* device) const noexcept {
  return context_current() && cudaGetDevice(device) == cudaSuccess;
}
bool RuntimeDevice::set(int device) const noexcept { return cudaSetDevice(device) == cudaSuccess; }
void RuntimeDevice::clear_error() const noexcept { (void)cudaGetLastError(); }

}  // namespace cuda
}  // namespace cnnb
