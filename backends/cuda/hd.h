#pragma once
// CNNB_HD marks code that runs on the GPU and, unchanged, on the host, where the CPU tests run it
// over the whole grid ("host twins"). Plain C++ when not compiled by nvcc.
#ifdef __CUDACC__
#define CNNB_HD __host__ __device__
#else
#define CNNB_HD
#endif
