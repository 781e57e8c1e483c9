#pragma once
// The version codes the CUDA libraries put in their headers and return at run time, decoded to
// "major.minor[.patch]". Each library has its own encoding, and two of them changed it once; mixing
// them up turns cuDNN 9.19.0 into "91.9.0". Pure functions, compiled in every build (C++17).
#include <string>
#include <string_view>

namespace cnnb::cuda {

// CUDA runtime and driver: 1000*major + 10*minor (CUDART_VERSION, cudaRuntimeGetVersion,
// cudaDriverGetVersion); 13000 = "13.0". "none" for 0, which cudaDriverGetVersion reports without a driver.
std::string cuda_version_string(int version);

// cuDNN (CUDNN_VERSION, cudnnGetVersion): 10000*major + 100*minor + patch from cuDNN 9 (91900 = "9.19.0"),
// 1000*major + 100*minor + patch before (8907 = "8.9.7"). "" for 0 (unknown).
std::string cudnn_version_string(long long version);

// NCCL (NCCL_VERSION_CODE, ncclGetVersion): 10000*major + 100*minor + patch from 2.9 (22809 = "2.28.9"),
// 1000*major + 100*minor + patch up to 2.8 (2708 = "2.7.8"), as nccl.h's NCCL_VERSION macro. "" for 0.
std::string nccl_version_string(long long version);

// cuBLAS (CUBLAS_VERSION, and cublasGetProperty's major/minor/patch combined the same way):
// 10000*major + 100*minor + patch; 130100 = "13.1.0". "" for 0.
std::string cublas_version_string(long long version);

// The NVIDIA kernel module's version ("580.65.06") from the text of /proc/driver/nvidia/version: the
// driver's own release, which the CUDA runtime cannot report (only NVML can). "" when absent.
std::string driver_release_from_proc(std::string_view text);

}  // namespace cnnb::cuda
