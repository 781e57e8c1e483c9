#!/usr/bin/env bash
# A configure that asks for CUDA (the ci preset) on a machine whose nvcc cannot build cnnbench stops at
# once with one message naming what was found and what is needed, instead of building CPU-only:
#   tests/configure/cuda_required.sh SOURCE_DIR [CMAKE]
set -euo pipefail
src="$1"
cmake="${2:-cmake}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "cuda_required: $*" >&2; exit 1; }

# Ubuntu 22.04's own CUDA: an nvcc 11.5, which no CMake test program gets past here.
mkdir -p "$work/bin"
cat > "$work/bin/nvcc" <<'NVCC'
#!/bin/sh
if [ "$1" = "--version" ]; then echo 'Cuda compilation tools, release 11.5, V11.5.119'; exit 0; fi
echo 'error -- unsupported GNU version! gcc versions later than 11 are not supported!' >&2
exit 1
NVCC
chmod +x "$work/bin/nvcc"

check() {
  local name="$1" want="$2"; shift 2
  local out rc=0
  out=$("$@" 2>&1) || rc=$?
  [ "$rc" -ne 0 ] || fail "$name: the configure succeeded; expected it to stop"
  out=$(tr -s ' \n' ' ' <<<"$out")  # CMake wraps its messages
  grep -q "CNNB_CUDA=ON (the cuda, ci and gpu presets) but $want" <<<"$out" ||
    fail "$name: no message naming what was found ($want); the output was:"$'\n'"$out"
  grep -q -- "CUDAHOSTCXX=g++-12 or -DCMAKE_CUDA_HOST_COMPILER=g++-12" <<<"$out" ||
    fail "$name: the message does not say what is needed"
  grep -q -- "-DCNNB_CUDA=OFF" <<<"$out" || fail "$name: the message does not say how to build without CUDA"
  echo "ok  $name"
}

check "ci preset, CUDACXX is an old nvcc" \
  "no usable CUDA compiler: CUDACXX=$work/bin/nvcc is nvcc 11.5, which did not compile CMake's test program" \
  env CUDACXX="$work/bin/nvcc" "$cmake" -S "$src" -B "$work/build-old" --preset ci
check "ci preset, CUDACXX names nothing" \
  "no usable CUDA compiler: CUDACXX=$work/none/nvcc does not run as nvcc" \
  env CUDACXX="$work/none/nvcc" "$cmake" -S "$src" -B "$work/build-none" --preset ci

# AUTO with an nvcc that cannot be used builds the CPU side and says why; once the toolkit is there, the
# next configure of the same directory finds it (the failed search is not cached).
if [ -x /usr/local/cuda/bin/nvcc ]; then
  out=$(env CUDACXX="$work/none/nvcc" "$cmake" -S "$src" -B "$work/build-auto" --preset cpu -DCNNB_CUDA=AUTO 2>&1) ||
    fail "AUTO with no usable nvcc: the configure failed:"$'\n'"$out"
  grep -q "cnnbench: CUDA backends not built: no usable CUDA compiler" <<<"$out" ||
    fail "AUTO with no usable nvcc: no message saying why:"$'\n'"$out"
  out=$(env -u CUDACXX "$cmake" -S "$src" -B "$work/build-auto" 2>&1) || fail "AUTO, second configure failed:"$'\n'"$out"
  grep -q "cnnbench: CUDA [0-9.]* (/usr/local/cuda/bin/nvcc)" <<<"$out" ||
    fail "AUTO, second configure: NVIDIA's toolkit was not found:"$'\n'"$out"
  echo "ok  AUTO: CPU side with the reason, then the toolkit found on the next configure"
fi
