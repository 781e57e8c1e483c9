#!/usr/bin/env bash
# ctest RecordsEqual.TwoRunsAreEqualAndEveryChangeIsNamed: scripts/records-equal must find two runs of one
# binary equal, and must catch a one-ulp change of a loss, a deleted field and a changed weight, naming each;
# bad input is exit 2.
#   tests/records_equal_test.sh CNNBENCH_BINARY SCRIPTS_RECORDS_EQUAL
set -euo pipefail
bin="$1"
check="$2"
# A subset keeps the test short: a backend, the overlapped exchange, a periodic exchange, and MPI when
# the build and the machine have it (both runs skip it otherwise, and compare sees the same set).
only=backend-cpu-ref,strategy-allreduce-buckets,strategy-param-avg,mpi-allreduce

work=$(mktemp -d /tmp/records-equal-test.XXXXXX)
trap 'rm -rf "$work"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
# expect RC NEEDLE... -- COMMAND...: the exit code must be RC and the output must contain every NEEDLE.
expect() {
  local want="$1" needles=() rc=0 out n
  shift
  while [ "$1" != "--" ]; do needles+=("$1"); shift; done
  shift
  out=$("$@" 2>&1) || rc=$?
  printf '%s\n' "$out" | sed 's/^/  | /'
  [ "$rc" -eq "$want" ] || fail "'$*' exited $rc, expected $want"
  for n in "${needles[@]}"; do
    grep -qF -- "$n" <<<"$out" || fail "'$*' did not print '$n'"
  done
}

"$check" run "$bin" "$work/a" --only "$only"
"$check" run "$bin" "$work/b" --only "$only"

echo "(a) two runs of the same binary are equal"
expect 0 "EQUAL" "fields compared" -- "$check" compare "$work/a" "$work/b"

echo "(b) a loss one ulp away and a deleted field are both named"
cp -r "$work/a" "$work/c"
python3 - "$work/c/backend-cpu-ref.json" <<'PY'
import json, math, sys
path = sys.argv[1]
with open(path) as f:
    rec = json.load(f)
loss = rec["epochs"][0]["train_loss"]
rec["epochs"][0]["train_loss"] = math.nextafter(loss, math.inf)
del rec["model"]["params"]
with open(path, "w") as f:
    json.dump(rec, f, indent=2)
PY
expect 1 "backend-cpu-ref:epochs[0].train_loss" "backend-cpu-ref:model.params" "DIFFERENT: 2 field(s)" \
  -- "$check" compare "$work/a" "$work/c"

echo "(b2) one weight one ulp away is named with its element"
cp -r "$work/a" "$work/d"
python3 - "$work/d/strategy-param-avg.safetensors" <<'PY'
import json, struct, sys
path = sys.argv[1]
with open(path, "rb") as f:
    data = bytearray(f.read())
(n,) = struct.unpack_from("<Q", data, 0)
header = json.loads(data[8:8 + n])
lo, _ = header["fc2.bias"]["data_offsets"]
at = 8 + n + lo + 4 * 3
(bits,) = struct.unpack_from("<I", data, at)
struct.pack_into("<I", data, at, bits ^ 1)
with open(path, "wb") as f:
    f.write(data)
PY
expect 1 "strategy-param-avg:weights.fc2.bias[3]" "1 of 10 elements differ" -- "$check" compare "$work/a" "$work/d"

echo "(c) bad input is exit 2 with a message naming what and where"
expect 2 "$work/missing: no such directory" -- "$check" compare "$work/a" "$work/missing"
cp -r "$work/a" "$work/e"
rm "$work/e/strategy-param-avg.json"
expect 2 "strategy-param-avg.json is in $work/a but missing from $work/e" -- "$check" compare "$work/a" "$work/e"
cp -r "$work/a" "$work/f"
head -c 100 "$work/a/backend-cpu-ref.json" >"$work/f/backend-cpu-ref.json"
expect 2 "$work/f/backend-cpu-ref.json:" "not valid JSON" -- "$check" compare "$work/a" "$work/f"
expect 2 "unknown configuration 'no-such'" -- "$check" run "$bin" "$work/g" --only no-such

echo "PASS"
