#!/usr/bin/env bash
# "No worker threads": runs nvmevm with sustained virtio-blk I/O (the test guest's blkbench) and
# samples /proc/PID/task while it runs. Passes when nvmevm never has more threads of its own than
# vCPUs + 1 (the main thread) and, with --no-io-workers, when no io_uring kernel worker
# (iou-wrk-*) ever appears in the process.
#   threads-run.sh NVMEVM GUEST --vcpus N --engine null|uring [--no-io-workers] [--dir DIR]
# Tasks the kernel creates inside the process are counted apart: io_uring's workers (comm
# "iou-wrk-*") and KVM's own helper tasks (PF_USER_WORKER, e.g. "kvm-nx-lpage-recovery").
set -uo pipefail
nvmevm=$1 guest=$2
shift 2
vcpus=1 engine=uring no_io_workers=false dir=/tmp
while [ $# -gt 0 ]; do
  case $1 in
    --vcpus) vcpus=$2; shift 2 ;;
    --engine) engine=$2; shift 2 ;;
    --no-io-workers) no_io_workers=true; shift ;;
    --dir) dir=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
if [ ! -c /dev/kvm ] || ! [ -r /dev/kvm ] || ! [ -w /dev/kvm ]; then
  echo "no usable /dev/kvm: skipped"
  exit 77
fi
work=$(mktemp -d)
disk=$(mktemp "$dir/nvmevm-threads.XXXXXX")
trap 'rm -rf "$work" "$disk"' EXIT
truncate -s 64M "$disk"
cat >"$work/vm.toml" <<TOML
[machine]
vcpus = $vcpus
memory_mib = 64
[boot]
kernel = "$guest"
cmdline = "blkbench blkbench blkbench"
[[drive]]
id = "d0"
path = "$disk"
engine = "$engine"
TOML
"$nvmevm" run --config "$work/vm.toml" --log-level info >"$work/out.log" 2>&1 &
pid=$!
PF_USER_WORKER=$((0x4000))
max_own=0 samples=0 io_workers="" kernel_tasks=""
while kill -0 "$pid" 2>/dev/null; do
  own=0
  for task in /proc/$pid/task/*; do
    comm=$(cat "$task/comm" 2>/dev/null) || continue
    flags=$(awk '{print $9}' "$task/stat" 2>/dev/null) || continue
    [ -n "$flags" ] || continue
    case $comm in
      iou-wrk-*) io_workers="$io_workers $comm" ;;
      *) if (( flags & PF_USER_WORKER )); then kernel_tasks="$kernel_tasks $comm"; else own=$((own + 1)); fi ;;
    esac
  done
  ((own > max_own)) && max_own=$own
  samples=$((samples + 1))
  sleep 0.01
done
wait "$pid"
rc=$?
cat "$work/out.log"
echo "samples=$samples max_own_threads=$max_own expected=$((vcpus + 1))"
echo "kernel tasks seen:$(echo "$kernel_tasks" | tr ' ' '\n' | sort -u | tr '\n' ' ')"
echo "io_uring workers seen:$(echo "$io_workers" | tr ' ' '\n' | sort -u | tr '\n' ' ')"
fail=0
[ "$rc" -eq 16 ] || { echo "FAIL: nvmevm exited $rc, expected 16" >&2; fail=1; }
[ "$samples" -ge 3 ] || { echo "FAIL: too few samples ($samples)" >&2; fail=1; }
[ "$max_own" -eq $((vcpus + 1)) ] || { echo "FAIL: $max_own threads of nvmevm's own, expected $((vcpus + 1))" >&2; fail=1; }
if $no_io_workers && [ -n "$io_workers" ]; then
  echo "FAIL: io_uring worker threads appeared" >&2
  fail=1
fi
exit $fail
