#!/usr/bin/env bash
# Runs nvmevm on this machine's /dev/kvm and checks how the VM ended.
#   expect-run.sh EXPECTED_EXIT_CODE OUTPUT_REGEX -- NVMEVM ARGS...
# Passes when nvmevm exits with EXPECTED_EXIT_CODE and its combined output matches
# OUTPUT_REGEX (grep -E). Exits 77 (ctest: skipped) when there is no usable /dev/kvm.
set -uo pipefail
expected_rc=$1 regex=$2
shift 2
[ "$1" = "--" ] && shift
if [ ! -c /dev/kvm ] || ! [ -r /dev/kvm ] || ! [ -w /dev/kvm ]; then
  echo "no usable /dev/kvm: skipped"
  exit 77
fi
out=$(mktemp)
trap 'rm -f "$out"' EXIT
timeout 60 "$@" >"$out" 2>&1
rc=$?
cat "$out"
if [ "$rc" -ne "$expected_rc" ]; then
  echo "FAIL: exit code $rc, expected $expected_rc" >&2
  exit 1
fi
if ! grep -Eq -- "$regex" "$out"; then
  echo "FAIL: output does not match /$regex/" >&2
  exit 1
fi
echo "ok: exit code $rc, output matches /$regex/"
