#!/usr/bin/env bash
# scripts/setup on a distribution that lacks some package names: it installs the rest one by one, says
# what could not be installed and what that turns off, and fails only for a package the build needs.
# apt-get and dpkg-query are stand-ins that refuse the names in $FAIL.
#   tests/configure/setup_fallback.sh SOURCE_DIR
set -euo pipefail
src="$1"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "setup_fallback: $*" >&2; exit 1; }

cat > "$work/dpkg-query" <<'STUB'
#!/bin/sh
exit 1
STUB
cat > "$work/apt-get" <<'STUB'
#!/bin/sh
[ "$1" = update ] && exit 0
shift  # install
pkgs=""
for a in "$@"; do case "$a" in -*) ;; *) pkgs="$pkgs $a" ;; esac; done
for p in $pkgs; do
  for f in $FAIL; do [ "$p" = "$f" ] && { echo "E: Unable to locate package $p" >&2; exit 100; }; done
done
echo "$pkgs" >> "$LOG"
exit 0
STUB
chmod +x "$work/dpkg-query" "$work/apt-get"
# env as sudo: the test runs the same as root or not, without asking for a password.
export CNNB_SETUP_APT_GET="$work/apt-get" CNNB_SETUP_DPKG_QUERY="$work/dpkg-query" CNNB_SETUP_SUDO=env \
       LOG="$work/installed"

run() { # FAIL... -> output; rc in $rc
  rc=0
  out=$(FAIL="$*" bash "$src/scripts/setup" 2>&1) || rc=$?
}

run libclang-rt-dev gnuplot-nox
[ "$rc" -eq 0 ] || fail "optional packages missing: exit $rc, expected 0; output:"$'\n'"$out"
grep -q "^setup: could not install libclang-rt-dev; turned off: the fuzzers" <<<"$out" || fail "libclang-rt-dev not named:"$'\n'"$out"
grep -q "^setup: could not install gnuplot-nox; turned off: rendered charts" <<<"$out" || fail "gnuplot-nox not named:"$'\n'"$out"
grep -q "(E: Unable to locate package gnuplot-nox)" <<<"$out" || fail "apt's reason not shown:"$'\n'"$out"
grep -qx " libdnnl-dev" "$LOG" || fail "the other packages were not installed one by one"
echo "ok  optional packages missing: named with what they turn off, exit 0"

: > "$LOG"
run libtomlplusplus-dev
[ "$rc" -eq 1 ] || fail "a needed package missing: exit $rc, expected 1; output:"$'\n'"$out"
grep -q "^setup: could not install libtomlplusplus-dev, which the build needs" <<<"$out" || fail "not named:"$'\n'"$out"
echo "ok  a needed package missing: named, exit 1"

: > "$LOG"
run
[ "$rc" -eq 0 ] || fail "nothing missing: exit $rc"
[ "$(wc -l < "$LOG")" -eq 1 ] || fail "everything installable: expected one apt-get install, got $(wc -l < "$LOG")"
echo "ok  everything installable: one apt-get install"
