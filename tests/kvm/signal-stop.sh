#!/usr/bin/env bash
# SIGTERM and SIGINT stop a running VM gracefully with exit code 5 (docs/exit-codes.md), and
# the running nvmevm is confined by seccomp (/proc/PID/status: "Seccomp: 2", filter mode), has no
# new privileges ("NoNewPrivs: 1") and holds none of the descriptors its parent left open (fd 7
# here: cli/main.cc closes them, docs/security.md).
#   signal-stop.sh NVMEVM CONFIG SIGNAL [SECCOMP_MODE]
# SECCOMP_MODE: 2 (filter; the default), or 0 for a sanitizer build, which runs without it.
set -uo pipefail
# Needs /dev/kvm: where this machine has none, the same command runs in the nested lab.
. "$(dirname "$0")/need.sh"
nvmevm=$1 config=$2 signal=$3 expected_seccomp=${4:-2}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$nvmevm" run --config "$config" --cmdline spin --log-level info >"$out" 2>&1 7</dev/null &
pid=$!
# Wait until the guest runs (it prints "spinning"), at most 10 s.
for _ in $(seq 100); do grep -q spinning "$out" && break; sleep 0.1; done
seccomp=$(awk '/^Seccomp:/{print $2}' "/proc/$pid/status")
no_new_privs=$(awk '/^NoNewPrivs:/{print $2}' "/proc/$pid/status")
inherited=$(ls -l "/proc/$pid/fd/7" 2>/dev/null || true)
kill "-$signal" "$pid"
wait "$pid"
rc=$?
cat "$out"
fail=0
[ "$rc" -eq 5 ] || { echo "FAIL: exit code $rc after SIG$signal, expected 5" >&2; fail=1; }
[ "$seccomp" = "$expected_seccomp" ] || { echo "FAIL: Seccomp mode '$seccomp' while running, expected $expected_seccomp" >&2; fail=1; }
grep -q "stopped by signal" "$out" || { echo "FAIL: no 'stopped by signal' line" >&2; fail=1; }
[ "$no_new_privs" = 1 ] || { echo "FAIL: NoNewPrivs '$no_new_privs' while running, expected 1" >&2; fail=1; }
[ -z "$inherited" ] || { echo "FAIL: the inherited fd 7 is still open in nvmevm: $inherited" >&2; fail=1; }
exit $fail
