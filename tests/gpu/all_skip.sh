#!/usr/bin/env bash
# Without a GPU: run every GPU test in one process and pass only if all COUNT of them ran and skipped,
# each saying that no usable CUDA GPU is present. A GPU test that passes, fails, or skips for another
# reason here is a defect (it ran GPU-less code it should not have, or skipped what it could have run).
#   all_skip.sh GPU_TEST_BINARY COUNT
set -uo pipefail
bin="$1" count="$2"
# Explicit flags: the GTEST_* variables of the caller's environment must not filter, repeat or colour the run.
out=$("$bin" --gtest_also_run_disabled_tests --gtest_filter='*' --gtest_repeat=1 --gtest_color=no --gtest_brief=0 \
        --gtest_shuffle=0 2>&1)
rc=$?
fail() { printf '%s\n' "$out" | tail -n 40; echo "all_skip.sh: $*" >&2; exit 1; }
[ "$rc" -eq 0 ] || fail "$bin exited $rc"
ran=$(sed -n 's/^\[==========\] \([0-9]*\) tests\? from .* ran\..*/\1/p' <<<"$out")
passed=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) tests\?\..*/\1/p' <<<"$out")
[ "$ran" = "$count" ] || fail "${ran:-no} tests ran, ctest lists $count"
[ "$passed" = 0 ] || fail "${passed:-an unknown number of} GPU tests passed without a GPU (expected every one to skip)"
# Each test on its own: from its RUN line to its result line, one skip whose message says there is no GPU.
verdicts=$(awk '
  /^\[ RUN      \] / { name = $4; reason = ""; next }
  /: Skipped$/ { getline reason; next }
  /^\[  SKIPPED \] [^0-9]/ && name != "" {
    ok = reason ~ /^(needs [0-9]+ CUDA GPUs?, found 0|no usable CUDA GPU)/
    print (ok ? "ok " : "bad ") $4 ": " reason; name = ""; next }
  /^\[ +(OK|FAILED) +\] [^0-9]/ && name != "" { print "bad " $4 ": did not skip"; name = "" }' <<<"$out")
good=$(grep -c '^ok ' <<<"$verdicts")
[ "$good" = "$count" ] ||
  fail "$((count - good)) of $count GPU tests did not skip saying no GPU is present: $(grep '^bad ' <<<"$verdicts" | head -3)"
echo "all $count GPU tests skipped in one process: $(sed 's/^ok [^:]*: //' <<<"$verdicts" | sort | uniq -c | sort -rn | head -1 |
  sed 's/^ *[0-9]* //')"
