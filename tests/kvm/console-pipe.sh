#!/usr/bin/env bash
# The reader of the console goes away while the guest still prints (`nvmevm run ... | head`):
# nvmevm must not die of SIGPIPE (exit code 141 in the shell, and no final drive flush) nor stop
# the VM. It says once that the console is gone and exits with the guest's code (docs/cli.md,
# "Output").
#   console-pipe.sh NVMEVM GUEST_CONFIG
set -uo pipefail
# Needs /dev/kvm: where this machine has none, the same command runs in the nested lab.
. "$(dirname "$0")/need.sh"
nvmevm=$1 config=$2
err=$(mktemp)
trap 'rm -f "$err"' EXIT
# `chatter` prints 150 KiB, more than a pipe holds: nvmevm writes on after head has exited.
timeout 120 "$nvmevm" run --config "$config" --cmdline "chatter status=5" 2>"$err" |
  head -c 100 >/dev/null
rc=${PIPESTATUS[0]}
cat "$err"
fail=0
[ "$rc" -eq 21 ] || { echo "FAIL: exit code $rc, expected 21 (guest status 5)" >&2; fail=1; }
gone=$(grep -c "console output: its reader is gone" "$err")
[ "$gone" -eq 1 ] || { echo "FAIL: $gone 'reader is gone' lines, expected 1" >&2; fail=1; }
[ $fail -eq 0 ] && echo "ok: exit code $rc, the console's end said once"
exit $fail
