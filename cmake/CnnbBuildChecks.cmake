# What the build takes from the machine, decided in functions that a test can feed (tests/configure/):
# which CUDA compiler, for which GPU architectures, and whether the oneDNN found can build cpu-onednn.

# What a command prints on stdout, or "" when it cannot be run, fails or takes longer than `timeout` seconds.
function(cnnb_command_output out timeout)
  set(text "")
  if(ARGN)
    execute_process(COMMAND ${ARGN} OUTPUT_VARIABLE text ERROR_QUIET RESULT_VARIABLE rc TIMEOUT ${timeout})
    if(NOT rc EQUAL 0)
      set(text "")
    endif()
  endif()
  set(${out} "${text}" PARENT_SCOPE)
endfunction()

# The version of an nvcc ("12.4"), or "" when it does not run or says no version.
function(cnnb_nvcc_version nvcc out)
  set(version "")
  if(nvcc AND EXISTS "${nvcc}")
    cnnb_command_output(text 30 "${nvcc}" --version)
    if(text MATCHES "release ([0-9]+\\.[0-9]+)")
      set(version "${CMAKE_MATCH_1}")
    endif()
  endif()
  set(${out} "${version}" PARENT_SCOPE)
endfunction()

# NVIDIA's toolkit under /usr/local/cuda over a distribution's older nvcc on PATH, unless CUDACXX or
# CMAKE_CUDA_COMPILER says which. Through the environment, so that check_language still tries the
# compiler and reports it unusable instead of failing the whole configure; the host compiler too, which
# check_language (CMake 3.22-3.25) takes from CUDAHOSTCXX only. A NOTFOUND left in the cache by an
# earlier configure is dropped, so that a toolkit installed since is found.
function(cnnb_prefer_toolkit_nvcc)
  if(DEFINED CMAKE_CUDA_COMPILER AND NOT CMAKE_CUDA_COMPILER)
    unset(CMAKE_CUDA_COMPILER CACHE)
    unset(CMAKE_CUDA_COMPILER PARENT_SCOPE)
  endif()
  if(NOT CMAKE_CUDA_COMPILER AND "$ENV{CUDACXX}" STREQUAL "" AND EXISTS /usr/local/cuda/bin/nvcc)
    set(ENV{CUDACXX} /usr/local/cuda/bin/nvcc)
  endif()
  if(CMAKE_CUDA_HOST_COMPILER AND "$ENV{CUDAHOSTCXX}" STREQUAL "")
    set(ENV{CUDAHOSTCXX} "${CMAKE_CUDA_HOST_COMPILER}")
  endif()
endfunction()

# Why the CUDA compiler cannot build cnnbench ("" when it can): none found, or older than CUDA 12.
# `compiler` is what check_language(CUDA) found (empty or NOTFOUND when it found none that works).
function(cnnb_cuda_unusable compiler out)
  if(NOT compiler)
    set(tried "")
    if(DEFINED ENV{CUDACXX})
      cnnb_nvcc_version("$ENV{CUDACXX}" v)
      if(v)
        string(APPEND tried "CUDACXX=$ENV{CUDACXX} is nvcc ${v}, which did not compile CMake's test program (its \
error is in CMakeFiles/CMakeError.log)")
      else()
        string(APPEND tried "CUDACXX=$ENV{CUDACXX} does not run as nvcc")
      endif()
    else()
      find_program(path_nvcc nvcc NO_CACHE)
      if(path_nvcc)
        cnnb_nvcc_version("${path_nvcc}" v)
        string(APPEND tried "${path_nvcc} (nvcc ${v}) did not compile CMake's test program (its error is in \
CMakeFiles/CMakeError.log)")
      else()
        string(APPEND tried "no nvcc in /usr/local/cuda/bin or on PATH, and CUDACXX is not set")
      endif()
    endif()
    set(${out} "no usable CUDA compiler: ${tried}" PARENT_SCOPE)
    return()
  endif()
  cnnb_nvcc_version("${compiler}" v)
  if(v AND v VERSION_LESS 12)
    set(${out} "${compiler} is nvcc ${v}; cnnbench needs CUDA 12 or newer (the choice is cached: configure a \
fresh build directory, or with -UCMAKE_CUDA_COMPILER)" PARENT_SCOPE)
    return()
  endif()
  set(${out} "" PARENT_SCOPE)
endfunction()

# What to do about it: CUDA asked for (ON) stops the configure; AUTO builds the CPU side and says why.
function(cnnb_cuda_refuse mode why)
  set(help "Needed: CUDA 12 or newer (NVIDIA's toolkit in /usr/local/cuda, or CUDACXX=/path/to/nvcc) with a host \
compiler it accepts (when nvcc rejects the default g++: CUDAHOSTCXX=g++-12 or -DCMAKE_CUDA_HOST_COMPILER=g++-12); \
or configure without CUDA: -DCNNB_CUDA=OFF (preset cpu).")
  if(mode STREQUAL "ON")
    message(FATAL_ERROR "CNNB_CUDA=ON (the cuda, ci and gpu presets) but ${why}. ${help}")
  endif()
  message(STATUS "cnnbench: CUDA backends not built: ${why}")
endfunction()

# The GPU architectures to compile for when neither CMAKE_CUDA_ARCHITECTURES nor CUDAARCHS says: the
# GPUs this machine shows (`caps`: nvidia-smi's compute_cap lines, "8.6"), SASS for each and PTX for the
# newest so a later driver can JIT it; without a visible GPU, SASS for T4 (7.5), A100 (8.0), A10/RTX 30
# (8.6), L4/RTX 40 (8.9) and H100 (9.0) plus PTX for 9.0. `supported`: what this nvcc compiles for
# (`nvcc --list-gpu-code`, "sm_75 sm_80 ..."; empty = not known). A GPU older than the oldest is left out
# (CUDA 13 has no 7.0, V100) with `dropped` saying so; one nvcc has no target for gets the SASS of the
# newest desktop target of its major version below it (10.3 on CUDA 12.8: 100), or else the PTX of the
# newest desktop target below it (12.0 on CUDA 12.4: 90).
function(cnnb_cuda_architectures caps supported out dropped)
  string(REGEX MATCHALL "[0-9]+\\.[0-9]+" found "${caps}")
  string(REGEX MATCHALL "sm_[0-9]+" sms "${supported}")
  set(can "")
  foreach(sm IN LISTS sms)
    string(REPLACE "sm_" "" n "${sm}")
    list(APPEND can "${n}")
  endforeach()
  list(SORT can COMPARE NATURAL)
  set(oldest "")
  set(newest_known "")
  if(can)
    list(GET can 0 oldest)
    list(GET can -1 newest_known)
  endif()
  set(sass "")
  set(ptx "")
  set(left_out "")
  foreach(cap IN LISTS found)
    string(REPLACE "." "" arch "${cap}")
    list(FIND can "${arch}" listed)
    if(NOT can OR listed GREATER -1)
      list(APPEND sass "${arch}")
    elseif(arch LESS oldest)
      list(APPEND left_out "${cap}")
    else()
      math(EXPR major "${arch} / 10")
      set(same_major "")
      set(below "")
      foreach(c IN LISTS can)
        math(EXPR c_major "${c} / 10")
        # Tegra targets (Jetson, Thor) run on their own GPU only.
        if(c LESS arch AND NOT c MATCHES "^(53|62|72|87|101|110)$")
          set(below "${c}")
          if(c_major EQUAL major)
            set(same_major "${c}")
          endif()
        endif()
      endforeach()
      if(same_major)
        list(APPEND sass "${same_major}")
      elseif(NOT ptx OR below GREATER ptx)
        set(ptx "${below}")
      endif()
    endif()
  endforeach()
  list(REMOVE_DUPLICATES sass)
  list(SORT sass COMPARE NATURAL)
  if(left_out)
    list(REMOVE_DUPLICATES left_out)
    string(REPLACE ";" ", " left_out "${left_out}")
    set(${dropped} "compute capability ${left_out} left out: this nvcc compiles for sm_${oldest} and newer"
        PARENT_SCOPE)
  else()
    set(${dropped} "" PARENT_SCOPE)
  endif()
  if(NOT sass AND NOT ptx)
    set(${out} "75-real;80-real;86-real;89-real;90" PARENT_SCOPE)
    return()
  endif()
  # PTX for the newest: of a GPU newer than nvcc knows, otherwise of the newest GPU here.
  if(NOT ptx)
    list(POP_BACK sass ptx)
  endif()
  list(REMOVE_ITEM sass "${ptx}")
  list(TRANSFORM sass APPEND "-real")
  set(${out} "${sass};${ptx}" PARENT_SCOPE)
  if(NOT sass)
    set(${out} "${ptx}" PARENT_SCOPE)
  endif()
endfunction()

# What an nvcc compiles for: `nvcc --list-gpu-code` ("" when it cannot say).
function(cnnb_nvcc_gpu_codes nvcc out)
  set(codes "")
  if(nvcc)
    cnnb_command_output(codes 30 "${nvcc}" --list-gpu-code)
  endif()
  set(${out} "${codes}" PARENT_SCOPE)
endfunction()

# The compute capabilities nvidia-smi reports here ("" without a driver or a GPU).
function(cnnb_visible_compute_caps out)
  set(caps "")
  find_program(smi nvidia-smi NO_CACHE)
  if(smi)
    cnnb_command_output(caps 20 "${smi}" --query-gpu=compute_cap --format=csv,noheader)
  endif()
  set(${out} "${caps}" PARENT_SCOPE)
endfunction()

# Whether the oneDNN found can build backends/onednn, which uses the v2 API (the primitives' `desc`
# classes that oneDNN 3 removed); `reason` says why not.
function(cnnb_onednn_usable version out reason)
  if(version VERSION_GREATER_EQUAL 3)
    set(${out} OFF PARENT_SCOPE)
    set(${reason} "oneDNN ${version} was found, but backends/onednn uses the oneDNN 2 API (the primitives' desc \
classes, removed in oneDNN 3): cpu-onednn is not built. Install oneDNN 2.x (Debian 12: libdnnl-dev) to build it"
        PARENT_SCOPE)
  else()
    set(${out} ON PARENT_SCOPE)
    set(${reason} "" PARENT_SCOPE)
  endif()
endfunction()
