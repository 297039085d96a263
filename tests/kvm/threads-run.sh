#!/usr/bin/env bash
# "No worker threads": runs nvmevm with sustained virtio-blk I/O (the test guest's blkbench) and
# samples /proc/PID/task while it runs. Passes when nvmevm never has more threads of its own than
# vCPUs + 1 (the main thread) and nothing else runs in its process but the KVM helpers allowed
# below (and, without --no-io-workers, io_uring's workers).
#   threads-run.sh NVMEVM GUEST --vcpus N --engine null|uring [--no-io-workers] [--direct]
#   --no-io-workers  an io_uring worker (iou-wrk-*) in the process fails the run
#   --direct         the drive must run O_DIRECT: its file goes on a filesystem that has it
#                    (/var/tmp, a real disk; in the nested lab, where /tmp and /var/tmp are
#                    tmpfs, L1's spare disk /dev/vda formatted and mounted for the run), and the
#                    run fails unless nvmevm's fd for it has O_DIRECT (/proc/PID/fdinfo)
# Without --direct the drive is a sparse file in /tmp.
# Every task in the process is classified by its name (comm, at most 15 characters): nvmevm's own
# threads carry nvmevm's name; anything else is a kernel task working on its behalf.
set -uo pipefail
# Needs /dev/kvm: where this machine has none, the same command runs in the nested lab.
. "$(dirname "$0")/need.sh"
nvmevm=$1 guest=$2
shift 2
vcpus=1 engine=uring no_io_workers=false direct=false
while [ $# -gt 0 ]; do
  case $1 in
    --vcpus) vcpus=$2; shift 2 ;;
    --engine) engine=$2; shift 2 ;;
    --no-io-workers) no_io_workers=true; shift ;;
    --direct) direct=true; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

# Kernel tasks KVM itself starts inside the process, allowed by name: kvm-nx-lpage-recovery
# (cut to kvm-nx-lpage-re), the NX huge page recovery worker, a vhost_task in the VM's process
# on recent kernels (6.13 on; a kthread outside it on 6.1, the lab's and Debian 12's kernel).
# Not here: kvm-pit/PID, the PIT's kthread_worker, which lives outside the process.
# Everything else fails: io_uring's SQPOLL thread (iou-sqp-*) and, with --no-io-workers, its
# workers (iou-wrk-*) are I/O nvmevm did not do inline; an unknown name is unexplained.
kvm_helper() {
  case $1 in
    kvm-nx-lpage-re*) return 0 ;;
    *) return 1 ;;
  esac
}

# choose_drive_dir: sets `dir`, the folder for the drive file. With --direct in the nested lab,
# /dev/vda (an empty disk L1 gets from the host) is formatted with busybox's mke2fs and mounted
# as ext4 (sets `mounted`): its files take O_DIRECT, and non-blocking reads, which io_uring needs
# to read inline (the ext2 driver has no FMODE_NOWAIT; the ext4 driver reading ext2 has).
dir="" mounted=""
choose_drive_dir() {
  if ! $direct; then
    dir=/tmp
  elif [ -z "${NVMEVM_IN_LAB:-}" ]; then
    dir=/var/tmp
  else
    if ! { mkdir -p "$work/vda" && busybox mke2fs -q /dev/vda >/dev/null && mount -t ext4 /dev/vda "$work/vda"; }; then
      echo "FAIL: could not format and mount /dev/vda in the lab" >&2
      return 1
    fi
    dir=$work/vda mounted=$work/vda
  fi
}

# make_drive DIR: a 32 MiB drive file in DIR. With --direct its blocks are written and synced
# (reads then really go to the disk, and no dirty page makes a non-blocking read give up).
make_drive() {
  local file
  file=$(mktemp "$1/nvmevm-threads.XXXXXX") || return 1
  if $direct; then
    dd if=/dev/zero of="$file" bs=1M count=32 conv=fsync status=none || return 1
  else
    truncate -s 32M "$file" || return 1
  fi
  echo "$file"
}

# fd_flags_direct PID FILE: prints "yes" when every fd PID holds on FILE was opened with
# O_DIRECT (040000 in fdinfo's octal flags on x86), "no" when one was not, nothing when PID
# holds none.
fd_flags_direct() {
  local fd flags answer=""
  for fd in /proc/"$1"/fd/*; do
    [ "$(readlink "$fd" 2>/dev/null)" = "$2" ] || continue
    flags=$(awk '/^flags:/ { print $2 }' "/proc/$1/fdinfo/${fd##*/}" 2>/dev/null) || continue
    [ -n "$flags" ] || continue
    if (((8#$flags & 8#40000) != 0)); then answer=${answer:-yes}; else answer=no; fi
  done
  echo "$answer"
}

work=$(mktemp -d)
disk=""
# shellcheck disable=SC2317  # run by the trap
cleanup() {
  [ -n "$disk" ] && rm -f "$disk"
  [ -n "$mounted" ] && umount "$mounted"
  rm -rf "$work"
}
trap cleanup EXIT
choose_drive_dir || exit 1
disk=$(make_drive "$dir") || { echo "FAIL: could not make the drive file in $dir" >&2; exit 1; }
disk=$(realpath "$disk")
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
own_comm=$(basename "$nvmevm" | cut -c1-15)
max_own=0 samples=0 io_workers="" kvm_tasks="" unexpected="" odirect=""
while kill -0 "$pid" 2>/dev/null; do
  own=0
  for task in /proc/"$pid"/task/*; do
    comm=$(cat "$task/comm" 2>/dev/null) || continue
    case $comm in
      "$own_comm") own=$((own + 1)) ;;
      iou-wrk-*) io_workers="$io_workers $comm" ;;
      *) if kvm_helper "$comm"; then kvm_tasks="$kvm_tasks $comm"; else unexpected="$unexpected $comm"; fi ;;
    esac
  done
  ((own > max_own)) && max_own=$own
  # Once: nvmevm opens the drive before the VM starts and keeps the fd to its end.
  $direct && [ -z "$odirect" ] && odirect=$(fd_flags_direct "$pid" "$disk")
  samples=$((samples + 1))
  sleep 0.01
done
wait "$pid"
rc=$?
cat "$work/out.log"
# distinct WORDS...: the words, each once, sorted, on one line.
distinct() { echo "$*" | tr ' ' '\n' | sed '/^$/d' | sort -u | tr '\n' ' '; }
echo "samples=$samples max_own_threads=$max_own expected=$((vcpus + 1))"
echo "KVM helper tasks seen: $(distinct "$kvm_tasks")"
echo "io_uring workers seen: $(distinct "$io_workers")"
echo "other tasks seen: $(distinct "$unexpected")"
$direct && echo "drive $disk: O_DIRECT fd: ${odirect:-none seen}"
fail=0
[ "$rc" -eq 16 ] || { echo "FAIL: nvmevm exited $rc, expected 16" >&2; fail=1; }
[ "$samples" -ge 3 ] || { echo "FAIL: too few samples ($samples)" >&2; fail=1; }
[ "$max_own" -eq $((vcpus + 1)) ] || { echo "FAIL: $max_own threads of nvmevm's own, expected $((vcpus + 1))" >&2; fail=1; }
if $no_io_workers && [ -n "$io_workers" ]; then
  echo "FAIL: io_uring worker threads appeared" >&2
  fail=1
fi
if [ -n "$unexpected" ]; then
  echo "FAIL: tasks neither nvmevm's nor an allowed KVM helper:$(distinct "$unexpected")" >&2
  fail=1
fi
if $direct; then
  if [ "$odirect" != yes ]; then
    echo "FAIL: the drive's fd in nvmevm has no O_DIRECT (${odirect:-no fd seen})" >&2
    fail=1
  fi
  if grep -q "no O_DIRECT on this filesystem" "$work/out.log"; then
    echo "FAIL: nvmevm fell back to the page cache for the drive" >&2
    fail=1
  fi
fi
exit $fail
