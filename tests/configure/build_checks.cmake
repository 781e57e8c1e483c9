# cmake -DSOURCE=<repo> -P tests/configure/build_checks.cmake: the decisions of cmake/CnnbBuildChecks.cmake
# fed with what other machines have (another oneDNN, other GPUs, an old or a broken nvcc), compared with
# what they must give. Fails with every mismatch listed.
include(${SOURCE}/cmake/CnnbBuildChecks.cmake)
set(failures "")
macro(expect what got want)
  if(NOT "${got}" STREQUAL "${want}")
    string(APPEND failures "\n  ${what}: got '${got}', expected '${want}'")
  endif()
endmacro()

# oneDNN: 2.x builds cpu-onednn; 3.x turns it off with the reason.
cnnb_onednn_usable("2.6.3" ok why)
expect("oneDNN 2.6.3 usable" "${ok}" "ON")
expect("oneDNN 2.6.3 reason" "${why}" "")
cnnb_onednn_usable("3.4.1" ok why)
expect("oneDNN 3.4.1 usable" "${ok}" "OFF")
if(NOT why MATCHES "oneDNN 3.4.1 was found, but backends/onednn uses the oneDNN 2 API .*cpu-onednn is not built")
  string(APPEND failures "\n  oneDNN 3.4.1 reason: '${why}'")
endif()

# Architectures: no GPU -> the supported list with PTX for the newest; GPUs -> theirs, PTX for the newest,
# within what the nvcc compiles for.
set(cuda13 "sm_75\nsm_80\nsm_86\nsm_87\nsm_88\nsm_89\nsm_90\nsm_100\nsm_110\nsm_103\nsm_120\nsm_121\n")
set(cuda124 "sm_50\nsm_52\nsm_53\nsm_60\nsm_61\nsm_62\nsm_70\nsm_72\nsm_75\nsm_80\nsm_86\nsm_87\nsm_89\nsm_90\n")
cnnb_cuda_architectures("" "${cuda13}" archs dropped)
expect("no visible GPU" "${archs}" "75-real;80-real;86-real;89-real;90")
expect("no visible GPU: nothing left out" "${dropped}" "")
cnnb_cuda_architectures("7.5\n" "${cuda13}" archs dropped)
expect("one T4" "${archs}" "75")
cnnb_cuda_architectures("8.6\n8.0\n8.6\n" "${cuda13}" archs dropped)
expect("two A10s and an A100" "${archs}" "80-real;86")
cnnb_cuda_architectures("12.0\n9.0\n" "${cuda13}" archs dropped)
expect("an H100 and a 12.0 card, CUDA 13" "${archs}" "90-real;120")
cnnb_cuda_architectures("12.0\n9.0\n" "${cuda124}" archs dropped)
expect("an H100 and a 12.0 card, CUDA 12.4: PTX 9.0 for the newer one" "${archs}" "90")
cnnb_cuda_architectures("7.0\n8.0\n" "${cuda13}" archs dropped)
expect("a V100 and an A100, CUDA 13" "${archs}" "80")
expect("a V100 left out" "${dropped}" "compute capability 7.0 left out: this nvcc compiles for sm_75 and newer")
cnnb_cuda_architectures("7.0\n" "${cuda13}" archs dropped)
expect("only a V100, CUDA 13: the default list" "${archs}" "75-real;80-real;86-real;89-real;90")
cnnb_cuda_architectures("7.0\n" "" archs dropped)
expect("a V100, nvcc's list unknown" "${archs}" "70")

# nvcc: what a fake one says of itself.
set(dir ${CMAKE_CURRENT_BINARY_DIR}/build_checks_fake_nvcc)
file(MAKE_DIRECTORY ${dir})
file(WRITE ${dir}/nvcc "#!/bin/sh\necho 'Cuda compilation tools, release 11.5, V11.5.119'\n")
file(CHMOD ${dir}/nvcc PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE)
cnnb_nvcc_version(${dir}/nvcc v)
expect("fake nvcc version" "${v}" "11.5")
cnnb_nvcc_version(${dir}/absent v)
expect("absent nvcc version" "${v}" "")
cnnb_cuda_unusable(${dir}/nvcc why)
expect("old nvcc" "${why}" "${dir}/nvcc is nvcc 11.5; cnnbench needs CUDA 12 or newer (the choice is cached: \
configure a fresh build directory, or with -UCMAKE_CUDA_COMPILER)")
set(ENV{CUDACXX} ${dir}/nvcc)
cnnb_cuda_unusable("CMAKE_CUDA_COMPILER-NOTFOUND" why)
expect("CUDACXX that failed the check" "${why}"
       "no usable CUDA compiler: CUDACXX=${dir}/nvcc is nvcc 11.5, which did not compile CMake's test program \
(its error is in CMakeFiles/CMakeError.log)")
if(EXISTS /usr/local/cuda/bin/nvcc)
  cnnb_nvcc_version(/usr/local/cuda/bin/nvcc v)
  cnnb_cuda_unusable(/usr/local/cuda/bin/nvcc why)
  expect("this machine's toolkit (nvcc ${v})" "${why}" "")
endif()
file(REMOVE_RECURSE ${dir})

if(failures)
  message(FATAL_ERROR "build checks:${failures}")
endif()
message(STATUS "build checks: every case as expected")
