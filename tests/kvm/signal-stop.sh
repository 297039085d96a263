#!/usr/bin/env bash
# SIGTERM and SIGINT stop a running VM gracefully with exit code 5 (docs/exit-codes.md), and
# the running nvmevm is confined by seccomp (/proc/PID/status: "Seccomp: 2", filter mode).
#   signal-stop.sh NVMEVM CONFIG SIGNAL [SECCOMP_MODE]
# SECCOMP_MODE: 2 (filter; the default), or 0 for a sanitizer build, which runs without it.
set -uo pipefail
# Needs /dev/kvm: where this machine has none, the same command runs in the nested lab.
. "$(dirname "$0")/need.sh"
nvmevm=$1 config=$2 signal=$3 expected_seccomp=${4:-2}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$nvmevm" run --config "$config" --cmdline spin --log-level info >"$out" 2>&1 &
pid=$!
# Wait until the guest runs (it prints "spinning"), at most 10 s.
for _ in $(seq 100); do grep -q spinning "$out" && break; sleep 0.1; done
seccomp=$(awk '/^Seccomp:/{print $2}' "/proc/$pid/status")
kill "-$signal" "$pid"
wait "$pid"
rc=$?
cat "$out"
fail=0
[ "$rc" -eq 5 ] || { echo "FAIL: exit code $rc after SIG$signal, expected 5" >&2; fail=1; }
[ "$seccomp" = "$expected_seccomp" ] || { echo "FAIL: Seccomp mode '$seccomp' while running, expected $expected_seccomp" >&2; fail=1; }
grep -q "stopped by signal" "$out" || { echo "FAIL: no 'stopped by signal' line" >&2; fail=1; }
exit $fail
