#!/usr/bin/env bash
# Runs nvmevm on this machine's /dev/kvm and checks how the VM ended.
#   expect-run.sh EXPECTED_EXIT_CODE OUTPUT_REGEX [OUTPUT_REGEX...] -- NVMEVM ARGS...
# Passes when nvmevm exits with EXPECTED_EXIT_CODE and its combined output matches every
# OUTPUT_REGEX (grep -E, each on some line). Without a usable /dev/kvm here, it runs in the
# nested lab (need.sh).
set -uo pipefail
# Needs /dev/kvm: where this machine has none, the same command runs in the nested lab.
. "$(dirname "$0")/need.sh"
expected_rc=$1
shift
regexes=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
  regexes+=("$1")
  shift
done
[ $# -gt 0 ] && shift
out=$(mktemp)
trap 'rm -f "$out"' EXIT
timeout 60 "$@" >"$out" 2>&1
rc=$?
cat "$out"
if [ "$rc" -ne "$expected_rc" ]; then
  echo "FAIL: exit code $rc, expected $expected_rc" >&2
  exit 1
fi
missing=0
for regex in "${regexes[@]}"; do
  grep -Eq -- "$regex" "$out" && continue
  echo "FAIL: output does not match /$regex/" >&2
  missing=1
done
[ $missing -eq 0 ] || exit 1
echo "ok: exit code $rc, output matches $(printf '/%s/ ' "${regexes[@]}")"
