#!/usr/bin/env bash
# The include layers (docs/ARCHITECTURE.md): each folder may include only from the folders below it, so that
# the core knows no backend, the reports no harness, and nothing but the CLI knows the harness.
#   tests/layers_check.sh ROOT        # exit 0 when every #include "dir/..." follows the table, 1 listing each
#                                     # one that does not (file:line: what), 2 on bad usage
#   tests/layers_check.sh --self-test ROOT   # also proves a forbidden include in a copy of ROOT fails
set -euo pipefail

usage() { echo "usage: tests/layers_check.sh [--self-test] ROOT" >&2; exit 2; }
self_test=0
if [ "${1:-}" = "--self-test" ]; then self_test=1; shift; fi
[ $# -eq 1 ] || usage
root="$1"
[ -d "$root/core" ] || { echo "layers_check: $root has no core/ folder; expected the repository root" >&2; exit 2; }

# folder -> the folders its sources may include from (its own included).
declare -A allowed=(
  [core]="core"
  [backends]="core backends"
  [model]="core backends model"
  [datasets]="core datasets"
  [strategies]="core backends model datasets strategies"
  [reports]="core backends reports"
)

check() {
  local tree="$1" bad=0 folder file line target
  for folder in "${!allowed[@]}"; do
    [ -d "$tree/$folder" ] || continue
    while IFS=: read -r file line target; do
      target="${target#*\"}"
      target="${target%%/*}"
      case " ${allowed[$folder]} " in
        *" $target "*) ;;
        *) echo "${file#"$tree"/}:$line: $folder/ includes from $target/, which it may not (allowed: ${allowed[$folder]})"
           bad=1 ;;
      esac
    done < <(grep -rnE --include='*.h' --include='*.cpp' --include='*.cu' --include='*.cuh' \
               '^[[:space:]]*#[[:space:]]*include[[:space:]]+"[a-z_]+/' "$tree/$folder" || true)
  done
  return $bad
}

if [ $self_test -eq 1 ]; then
  copy=$(mktemp -d)
  trap 'rm -rf "$copy"' EXIT
  cp -r "$root/core" "$root/reports" "$copy/"
  echo '#include "backends/backend.h"' >> "$copy/core/error.h"
  echo '#include "bench/harness/sweep.h"' >> "$copy/reports/results.h"
  out=$(check "$copy") && { echo "layers_check: the self-test's forbidden includes were not found" >&2; exit 1; }
  for want in "core/error.h" "reports/results.h"; do
    grep -q "^$want:[0-9]*: " <<<"$out" || { echo "layers_check: self-test: $want's forbidden include not named:" >&2; echo "$out" >&2; exit 1; }
  done
fi

if out=$(check "$root"); then
  echo "layers_check: every include follows the layers (${#allowed[@]} folders)"
else
  echo "$out"
  exit 1
fi
