#!/usr/bin/env bash
# Guest RAM that the guest never touched stays unallocated when it does I/O: a 1 GiB guest runs
# a few hundred O_DIRECT reads and writes on a file, and nvmevm's end-of-run line must report
# little of its RAM resident. (Registering all of guest RAM as io_uring fixed buffers at the
# first request used to make it all resident: 1048576 KiB, and 5.3 s to pin it.)
#   io-footprint.sh NVMEVM [DIR]
set -uo pipefail
# Needs /dev/kvm: where this machine has none, the same command runs in the nested lab.
. "$(dirname "$0")/need.sh"
nvmevm=$1 dir=${2:-/var/tmp}
work=$(mktemp -d "$dir/nvmevm-footprint.XXXXXX")
trap 'rm -rf "$work"' EXIT
head -c $((16 << 20)) /dev/zero >"$work/drive.img"
limit_kib=$((64 << 10))
fail=0
for rw in randread randwrite; do
  out=$(timeout 60 "$nvmevm" bench --drive "$work/drive.img" --rw "$rw" --qd 8 --ops 400 \
        --memory 1024 --no-progress --log-level info 2>&1)
  rc=$?
  echo "$out" | grep -E 'io:|resident'
  resident=$(echo "$out" | sed -n 's/.*guest RAM resident \([0-9]*\) KiB.*/\1/p')
  if [ "$rc" -ne 0 ] || [ -z "$resident" ]; then
    echo "FAIL: $rw: exit code $rc, no residency figure" >&2
    fail=1
  elif [ "$resident" -ge "$limit_kib" ]; then
    echo "FAIL: $rw: $resident KiB of a 1 GiB guest resident (limit $limit_kib KiB)" >&2
    fail=1
  fi
done
[ $fail -eq 0 ] && echo "ok: guest RAM stays mostly unallocated under I/O"
exit $fail
