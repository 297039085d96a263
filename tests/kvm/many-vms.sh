#!/usr/bin/env bash
# Many VMs at once (docs/robustness.md): starts N `nvmevm bench` VMs together, each its own
# process in the background, waits for all, and checks that every one exited 0 with a JSON
# result with iops > 0 and errors 0. Reports VMs per second and per-VM start-to-exit times.
#   many-vms.sh NVMEVM [N]      N: default $NVMEVM_MANY_VMS, else 20
# Without a usable /dev/kvm here, it runs itself in the nested lab (tests/kvm/need.sh).
set -uo pipefail
# Needs /dev/kvm: where this machine has none, the same command runs in the nested lab.
. "$(dirname "$0")/need.sh"
nvmevm=$1
n=${2:-${NVMEVM_MANY_VMS:-20}}
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT

now_ns() { date +%s%N; }
t0=$(now_ns)
for i in $(seq 1 "$n"); do
  (
    s=$(now_ns)
    timeout 240 "$nvmevm" bench --null 64 --ops 2000 --qd 8 --json --no-progress \
      >"$work/$i.json" 2>"$work/$i.err"
    rc=$?
    echo "$s $(now_ns) $rc" >"$work/$i.t"
  ) &
  pids+=($!)
done
wait
pids=()
t1=$(now_ns)

fail=0 ok=0 durations=()
last_exit=0 last_start=0
for i in $(seq 1 "$n"); do
  if [ ! -s "$work/$i.t" ]; then echo "FAIL: VM $i left no timing" >&2; fail=1; continue; fi
  read -r s e rc <"$work/$i.t"
  ((e > last_exit)) && last_exit=$e
  ((s > last_start)) && last_start=$s
  durations+=($(((e - s) / 1000000)))
  json=$(cat "$work/$i.json")
  iops=$(grep -o '"iops":[0-9.]*' <<<"$json" | head -1 | cut -d: -f2)
  errors=$(grep -o '"errors":[0-9]*' <<<"$json" | head -1 | cut -d: -f2)
  if [ "$rc" -ne 0 ] || [ -z "$iops" ] || ! awk -v x="$iops" 'BEGIN { exit !(x > 0) }' ||
      [ "$errors" != "0" ]; then
    echo "FAIL: VM $i: exit $rc, iops '$iops', errors '$errors'" >&2
    head -c 2000 "$work/$i.err" >&2
    fail=1
  else
    ok=$((ok + 1))
  fi
done
sorted=($(printf '%s\n' "${durations[@]}" | sort -n))
count=${#sorted[@]}
median=${sorted[$((count / 2))]:-0} max=${sorted[$((count - 1))]:-0} min=${sorted[0]:-0}
wall_ms=$(((last_exit - t0) / 1000000))
launch_ms=$(((last_start - t0) / 1000000))
echo "VMs: $n started, $ok ok"
echo "all $n started (last process running) after ${launch_ms} ms; wall time first start to last exit: ${wall_ms} ms"
awk -v n="$n" -v ms="$wall_ms" -v l="$launch_ms" 'BEGIN {
  printf "VMs per second: %.1f started, %.1f finished (start to exit of all)\n",
         (l > 0 ? n * 1000 / l : 0), (ms > 0 ? n * 1000 / ms : 0) }'
echo "per-VM start to exit: min ${min} ms, median ${median} ms, max ${max} ms"
[ "$ok" -eq "$n" ] || fail=1
[ $fail -eq 0 ] && echo "ok: $n VMs"
exit $fail
