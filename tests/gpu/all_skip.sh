#!/usr/bin/env bash
# Without a GPU: run every GPU test in one process and pass only if all COUNT of them ran and skipped,
# each saying that no usable CUDA GPU is present. A GPU test that passes, fails, or skips for another
# reason here is a defect (it ran GPU-less code it should not have, or skipped what it could have run).
#   all_skip.sh GPU_TEST_BINARY COUNT
set -uo pipefail
bin="$1" count="$2"
out=$("$bin" --gtest_also_run_disabled_tests 2>&1)
rc=$?
fail() { printf '%s\n' "$out" | tail -n 40; echo "all_skip.sh: $*" >&2; exit 1; }
[ "$rc" -eq 0 ] || fail "$bin exited $rc"
ran=$(sed -n 's/^\[==========\] \([0-9]*\) tests\? from .* ran\..*/\1/p' <<<"$out")
passed=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) tests\?\..*/\1/p' <<<"$out")
skipped=$(sed -n 's/^\[  SKIPPED \] \([0-9]*\) tests\?, listed below:.*/\1/p' <<<"$out")
[ "$ran" = "$count" ] || fail "$ran tests ran, ctest lists $count"
[ "$passed" = 0 ] || fail "$passed GPU tests passed without a GPU (expected every one to skip)"
[ "$skipped" = "$count" ] || fail "${skipped:-0} of $count GPU tests skipped"
reasons=$(grep -A1 ': Skipped$' <<<"$out" | grep -v -e ': Skipped$' -e '^--$')
said=$(grep -cE '^(needs [0-9]+ CUDA GPUs?, found 0|no usable CUDA GPU)' <<<"$reasons")
[ "$said" = "$count" ] ||
  fail "$((count - said)) skips do not say that no GPU is present: $(grep -vE '^(needs|no usable)' <<<"$reasons" | sort -u | head -3)"
echo "all $count GPU tests skipped in one process: $(sort <<<"$reasons" | uniq -c | sort -rn | head -1 | sed 's/^ *[0-9]* //')"
