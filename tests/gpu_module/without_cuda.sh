#!/usr/bin/env bash
# The CUDA-enabled program on a machine without CUDA's libraries (a login node, a CPU partition, a
# container without the runtime): the folders holding the libraries the GPU module links are hidden in
# a private mount namespace, then
#   - `cnnbench --version` and `cnnbench list` run; list marks the GPU backends and NCCL "not available"
#     with the library that is missing and what provides it;
#   - a CPU training run works, and its record says the GPU module was not loaded;
#   - a GPU training run is refused with one line naming the missing library, and exit code 2.
#   tests/gpu_module/without_cuda.sh BUILD_DIR     # exit 0 when all hold, 1 naming what did not
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: tests/gpu_module/without_cuda.sh BUILD_DIR" >&2; exit 2; }
build=$(cd "$1" && pwd)
module="$build/libcnnbench_gpu.so"
[ -f "$module" ] || { echo "without_cuda: $module is missing: configure with CUDA and build" >&2; exit 1; }

if [ "${CNNB_IN_NAMESPACE:-}" != 1 ]; then
  # The folders of the CUDA libraries the module links, as the dynamic loader finds them now.
  dirs=$(ldd "$module" | awk '$1 ~ /^lib(cudart|cublas|cublasLt|cudnn|nccl)[.]so/ && $3 ~ /^\// {print $3}' |
         xargs -r -n1 dirname | xargs -r -n1 readlink -f | sort -u)
  [ -n "$dirs" ] || { echo "without_cuda: ldd finds none of CUDA's libraries for $module" >&2; exit 1; }
  for d in $dirs; do
    case "$d" in
      /lib|/lib64|/usr/lib|/usr/lib64|/usr/lib/*-linux-gnu)
        echo "without_cuda: CUDA's libraries are in $d, a system folder that cannot be hidden alone" >&2; exit 1 ;;
    esac
  done
  empty=$(mktemp -d)
  trap 'rm -rf "$empty"' EXIT
  # Root in a fresh user namespace may mount; the hidden folders stay visible to every other process.
  mounts=""
  for d in $dirs; do mounts+="mount --bind '$empty' '$d' && "; done
  exec unshare --mount --map-root-user bash -c "${mounts} CNNB_IN_NAMESPACE=1 exec bash '$0' '$build'"
fi

fail() { echo "without_cuda: $*" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cli="$build/cnnbench"

ldd "$module" | grep -q "not found" || fail "the CUDA libraries are still visible in the private namespace"

"$cli" --version > "$work/version" 2>&1 || fail "cnnbench --version failed: $(cat "$work/version")"

"$cli" list > "$work/list" 2> "$work/list.err" || fail "cnnbench list failed: $(cat "$work/list.err")"
for backend in cuda-naive cuda-gemm cudnn; do
  grep -Eq "^  $backend +cuda +not available +lib[a-zA-Z]+[.]so[.][0-9]+ not found \(install .*, or build with -DCNNB_CUDA=OFF\)$" "$work/list" ||
    fail "list does not mark $backend not available with the missing library:
$(grep -- "$backend" "$work/list")"
done
grep -Eq "^  nccl +not available +lib[a-zA-Z]+[.]so[.][0-9]+ not found" "$work/list" ||
  fail "list does not mark nccl not available: $(grep '^  nccl' "$work/list")"
grep -q "^  cpu-gemm .* available " "$work/list" || fail "list lost cpu-gemm: $(grep cpu-gemm "$work/list")"
grep -q "^CUDA devices: 0$" "$work/list" || fail "list does not end with 'CUDA devices: 0'"

train=(train --dataset synthetic:n=64,shape=1x8x8,classes=2 --model fc2 --epochs 1 --batch 16 --threads 1)
"$cli" "${train[@]}" --backend cpu-gemm --out "$work/cpu.json" > "$work/cpu.log" 2>&1 ||
  fail "a CPU training run failed: $(tail -5 "$work/cpu.log")"
python3 - "$work/cpu.json" <<'EOF' || fail "the CPU run's record says the wrong thing about CUDA"
import json, sys
cuda = json.load(open(sys.argv[1]))["environment"]["cuda"]
assert cuda["built_with_cuda"] is True and cuda["queried"] is False, cuda
assert cuda["reason"] == "this process ran no GPU code, so it did not load the GPU module", cuda
EOF

set +e
"$cli" "${train[@]}" --backend cuda-naive --out "$work/gpu.json" > "$work/gpu.out" 2> "$work/gpu.err"
rc=$?
set -e
[ $rc -eq 2 ] || fail "a GPU training run exited $rc, expected 2: $(cat "$work/gpu.err")"
[ "$(wc -l < "$work/gpu.err")" -eq 1 ] || fail "a GPU training run printed more than one line:
$(cat "$work/gpu.err")"
grep -Eq "lib[a-zA-Z]+[.]so[.][0-9]+ not found \(install .*, or build with -DCNNB_CUDA=OFF\)" "$work/gpu.err" ||
  fail "a GPU training run's error does not name the missing library: $(cat "$work/gpu.err")"
[ ! -e "$work/gpu.json" ] || fail "a refused GPU run wrote a record"

echo "without_cuda: list, a CPU run and a refused GPU run behave with $(ldd "$module" | grep -c 'not found') of the module's libraries hidden"
echo "  $(grep '^  cudnn' "$work/list" | tr -s ' ')"
echo "  $(cat "$work/gpu.err")"
