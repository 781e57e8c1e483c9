#!/usr/bin/env bash
# The CUDA-enabled program and the GPU module it loads on demand (core/gpu_module.h):
# 1. with CUDA's libraries visible, CPU work never opens the module (the dynamic loader's own log,
#    LD_DEBUG=files): training on cpu-gemm, alone and as two all-reduce replicas, and `verify` of cpu-ref;
# 2. with the folders holding the libraries the module links hidden in a private mount namespace (a login
#    node, a CPU partition, a container without the CUDA runtime):
#    - `cnnbench --version` and `cnnbench list` run; list marks the GPU backends (and NCCL) "not available"
#      with the library that is missing and what provides it;
#    - a CPU training run works, and its record says the GPU module was not loaded;
#    - a GPU training run is refused with one line naming the missing library, and exit code 2.
#   tests/gpu_module/without_cuda.sh BUILD_DIR cudnn|no-cudnn nccl|no-nccl
# Exit 0 when all hold, 1 naming what did not, 77 when this machine cannot hide the libraries (no user
# namespaces, or CUDA's libraries in a system folder or beside cnnbench's own).
set -euo pipefail

[ $# -eq 3 ] || { echo "usage: tests/gpu_module/without_cuda.sh BUILD_DIR cudnn|no-cudnn nccl|no-nccl" >&2; exit 2; }
build=$(cd "$1" && pwd)
cudnn=$2
nccl=$3
module="$build/libcnnbench_gpu.so"
cli="$build/cnnbench"
[ -f "$module" ] || { echo "without_cuda: $module is missing: configure with CUDA and build" >&2; exit 1; }

fail() { echo "without_cuda: $*" >&2; exit 1; }
skip() { echo "without_cuda: skipped: $*"; exit 77; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
train=(train --dataset synthetic:n=64,shape=1x8x8,classes=2 --model fc2 --epochs 1 --batch 16 --threads 1)

if [ "${CNNB_IN_NAMESPACE:-}" != 1 ]; then
  # 1. The dynamic loader names every object it opens; the module must not be among them.
  opened() {  # opened NAME ARGS...: runs cnnbench ARGS under LD_DEBUG=files, fails if it opened the module
    local name=$1
    shift
    LD_DEBUG=files LD_DEBUG_OUTPUT="$work/ld-$name" "$cli" "$@" > "$work/$name.log" 2>&1 ||
      fail "$name failed: $(tail -5 "$work/$name.log")"
    ! grep -Eq "file=.*lib(cnnbench_gpu|cuda|cudart|cublas|cublasLt|cudnn|nccl)[._]" "$work"/ld-"$name".* ||
      fail "$name opened the GPU module or a CUDA library:
$(grep -Eh "file=.*lib(cnnbench_gpu|cuda|cudart|cublas|cublasLt|cudnn|nccl)[._]" "$work"/ld-"$name".* | head -3)"
    grep -q "file=.*libcnnbench[.]so" "$work"/ld-"$name".* || fail "$name: LD_DEBUG logged nothing useful"
  }
  opened train-cpu-gemm "${train[@]}" --backend cpu-gemm --out "$work/visible.json"
  opened train-allreduce "${train[@]}" --backend cpu-gemm --strategy allreduce --devices cpu:2
  opened verify-cpu-ref verify --backend cpu-ref

  # The program itself links none of CUDA's libraries: that is what lets it start without them.
  ldd "$cli" > "$work/ldd-cli"
  ! grep -Eq "^\s*lib(cuda|cudart|cublas|cublasLt|cudnn|nccl)[._]" "$work/ldd-cli" || fail "cnnbench links a CUDA library:
$(grep -E "^\s*lib(cuda|cudart|cublas|cublasLt|cudnn|nccl)[._]" "$work/ldd-cli")"
  cli_dirs=$(awk '$3 ~ /^\// {print $3}' "$work/ldd-cli" | xargs -r -n1 dirname | xargs -r -n1 readlink -f | sort -u)

  # 2. The folders of the CUDA libraries the module links, as the dynamic loader finds them now; those that can
  # be hidden alone (not a system folder, not one cnnbench needs). One is enough for the module not to load.
  ldd "$module" > "$work/ldd-module"
  found=$(awk '$1 ~ /^lib(cudart|cublas|cublasLt|cudnn|nccl)[.]so/ && $3 ~ /^\// {print $3}' "$work/ldd-module" |
          xargs -r -n1 dirname | xargs -r -n1 readlink -f | sort -u)
  [ -n "$found" ] || fail "ldd finds none of CUDA's libraries for $module"
  dirs=""
  for d in $found; do
    case "$d" in /lib|/lib64|/usr/lib|/usr/lib64|/usr/lib/*-linux-gnu) continue ;; esac
    grep -qxF "$d" <<<"$cli_dirs" && continue
    dirs+="$d "
  done
  [ -n "$dirs" ] || skip "CUDA's libraries are only in system folders or beside cnnbench's own: $found"
  empty="$work/empty"
  mkdir "$empty"
  unshare --mount --map-root-user mount --bind "$empty" "$empty" 2>/dev/null ||
    skip "this machine refuses a bind mount in a private mount namespace (unshare)"
  mounts=""
  for d in $dirs; do mounts+="mount --bind '$empty' '$d' && "; done
  # Root in a fresh user namespace may mount; the hidden folders stay visible to every other process.
  unshare --mount --map-root-user bash -c "${mounts} CNNB_IN_NAMESPACE=1 bash '$0' '$build' '$cudnn' '$nccl'"
  exit $?
fi

ldd "$module" > "$work/ldd-module"
grep -q "not found" "$work/ldd-module" || fail "the CUDA libraries are still visible in the private namespace"

"$cli" --version > "$work/version" 2>&1 || fail "cnnbench --version failed: $(cat "$work/version")"

"$cli" list > "$work/list" 2> "$work/list.err" || fail "cnnbench list failed: $(cat "$work/list.err")"
missing='lib[a-zA-Z_]+[.]so[.][0-9]+ not found \(install .*, or build with -DCNNB_CUDA=OFF\)'
backends="cuda-naive cuda-gemm"
[ "$cudnn" = cudnn ] && backends+=" cudnn"
for backend in $backends; do
  grep -Eq "^  $backend +cuda +not available +$missing$" "$work/list" ||
    fail "list does not mark $backend not available with the missing library: $(grep -- "^  $backend " "$work/list")"
done
if [ "$nccl" = nccl ]; then
  grep -Eq "^  nccl +not available +$missing$" "$work/list" ||
    fail "list does not mark nccl not available: $(grep '^  nccl' "$work/list")"
fi
grep -Eq "^  cpu-gemm +cpu +available " "$work/list" || fail "list lost cpu-gemm: $(grep cpu-gemm "$work/list")"
grep -Eq "^  no usable GPU: $missing$" "$work/list" || fail "list's CUDA section does not say why: $(cat "$work/list")"
grep -q "^CUDA devices: 0$" "$work/list" || fail "list does not end with 'CUDA devices: 0'"

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
grep -Eq "^cnnbench: error: backend 'cuda-naive' is not available: $missing$" "$work/gpu.err" ||
  fail "a GPU training run's error does not name the missing library: $(cat "$work/gpu.err")"
[ ! -e "$work/gpu.json" ] || fail "a refused GPU run wrote a record"

echo "without_cuda: CPU runs never opened the GPU module; with $(grep -c 'not found' "$work/ldd-module") of its libraries hidden:"
echo "  $(grep '^  cuda-naive' "$work/list" | tr -s ' ')"
echo "  $(cat "$work/gpu.err")"
