#!/usr/bin/env bash
# Failing backends (docs/robustness.md): the guest must get VIRTIO_BLK_S_IOERR for requests the
# host cannot do, never a hang, and nvmevm must keep serving the other requests and log the
# failures at a rate limit.
#   failing-backend.sh NVMEVM GUEST full-disk     a sparse 8 MiB drive file on a 2 MiB tmpfs:
#                                                 writes past the real space fail with ENOSPC
#   failing-backend.sh NVMEVM GUEST bad-sectors   a device-mapper drive whose sectors
#                                                 [8192, 8256) are an `error` target (EIO)
# Needs /dev/kvm, and root (full-disk mounts a tmpfs) or device-mapper and loop devices
# (bad-sectors). Where this machine lacks one, the same command runs in the nested lab, which
# has all of them (tests/kvm/need.sh); once they are there, any failure to set up is a failure.
set -uo pipefail
. "$(dirname "$0")/need.sh"
is_root() { [ "$(id -u)" -eq 0 ]; }
# The kernel's device-mapper answers (dmsetup version prints its driver version) and loop
# devices can be made.
dm_usable() {
  command -v dmsetup >/dev/null && command -v losetup >/dev/null && [ -e /dev/loop-control ] &&
    dmsetup version 2>/dev/null | grep -q '^Driver version'
}
case ${3:-} in
  full-disk) need_or_lab "root (to mount a tmpfs)" is_root "$@" ;;
  bad-sectors) need_or_lab "device-mapper" dm_usable "$@" ;;
esac
nvmevm=$(realpath "$1") guest=$(realpath "$2") what=$3
work=$(mktemp -d)
mnt="" loop="" dmname="" madenode=""
# The device-mapper device, the node made for it and the loop device under it, once each.
cleanup_dm() {
  # --retry: right after nvmevm exits the device can still be open for a moment (seen in the
  # nested lab: open count 2, then 0; io_uring drops its files asynchronously).
  [ -n "$dmname" ] && dmsetup remove --retry "$dmname" 2>/dev/null
  [ -n "$madenode" ] && rm -f "$madenode"
  [ -n "$loop" ] && losetup -d "$loop" 2>/dev/null
  dmname="" madenode="" loop=""
}
cleanup() {
  cleanup_dm
  [ -n "$mnt" ] && umount "$mnt" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

# run_guest DRIVE CMDLINE EXPECTED_RC: runs the test guest on one drive; output in $out.
out=$work/out.log
run_guest() {
  cat >"$work/vm.toml" <<TOML
[machine]
vcpus = 1
memory_mib = 64
[boot]
kernel = "$guest"
cmdline = "$2"
[[drive]]
id = "d0"
path = "$1"
TOML
  timeout 120 "$nvmevm" --log-level info run --config "$work/vm.toml" >"$out" 2>&1
  local rc=$?
  # The log lines of failed requests are shown counted, not one by one.
  grep -v "I/O error" "$out"
  echo "(\"I/O error\" log lines: $(grep -c "I/O error" "$out"))"
  if [ "$rc" -ne "$3" ]; then
    echo "FAIL: '$2' exited $rc, expected $3" >&2
    [ "$rc" -eq 124 ] && echo "FAIL: nvmevm hung (timeout)" >&2
    fail=1
  fi
}
# bench_field NAME: the value of NAME in the guest's NVMEVM-BENCH line.
bench_field() {
  grep -o 'NVMEVM-BENCH .*' "$out" | grep -o "\"$1\":[0-9]*" | head -1 | cut -d: -f2
}
host_errors() { grep -o 'blk_errors=[0-9]*' "$out" | tail -1 | cut -d= -f2; }

fail=0
case $what in
full-disk)
  mnt=$work/mnt
  mkdir -p "$mnt"
  if ! mount -t tmpfs -o size=2m tmpfs "$mnt" 2>"$work/mount.err"; then
    cat "$work/mount.err"
    mnt=""
    echo "FAIL: cannot mount a tmpfs" >&2
    exit 1
  fi
  disk=$mnt/disk.img
  truncate -s 8M "$disk"
  ops=4000
  # 4000 random 4 KiB writes over 8 MiB touch about 1600 distinct blocks (6 MiB): those past
  # the 2 MiB of real space fail with ENOSPC; overwrites of blocks already allocated succeed.
  echo "== randwrite on a sparse 8 MiB file on a full 2 MiB tmpfs: expect exit 17, errors > 0"
  run_guest "$disk" "bench rw=randwrite ops=$ops qd=8" 17
  errors=$(bench_field errors) lines=$(grep -c "I/O error" "$out")
  echo "guest errors=$errors of $ops, host blk_errors=$(host_errors), log lines=$lines"
  grep -q "No space left on device" "$out" || { echo "FAIL: no ENOSPC logged" >&2; fail=1; }
  if [ -z "$errors" ] || [ "$errors" -le 0 ]; then
    echo "FAIL: the guest saw no failed request" >&2; fail=1
  elif [ "$errors" -ge "$ops" ]; then
    echo "FAIL: every request failed: nvmevm stopped serving writes that fit" >&2; fail=1
  fi
  [ "$(host_errors)" = "$errors" ] || { echo "FAIL: host blk_errors != guest errors" >&2; fail=1; }
  if [ "$lines" -lt 1 ] || [ "$lines" -gt 100 ]; then
    echo "FAIL: $lines 'I/O error' log lines, expected 1..100 (rate-limited)" >&2; fail=1
  fi
  [ "$(df --output=avail "$mnt" | tail -1)" -eq 0 ] || { echo "FAIL: the tmpfs is not full" >&2; fail=1; }
  # The full disk still serves reads (O_DIRECT, allocated and sparse blocks alike) and flushes.
  echo "== reads on the full disk: expect exit 16"
  run_guest "$disk" "blkbench bench rw=randread ops=$ops qd=8" 16
  [ "$(bench_field errors)" = "0" ] || { echo "FAIL: reads failed on the full disk" >&2; fail=1; }
  ;;
bad-sectors)
  img=$work/disk.img
  truncate -s 8M "$img"
  if ! loop=$(losetup -f --show "$img" 2>"$work/dm.err"); then
    cat "$work/dm.err"; loop=""
    echo "FAIL: losetup could not set up a loop device" >&2
    exit 1
  fi
  # Sectors [8192, 8256) (32 KiB at byte 4 MiB) fail with EIO; the rest maps to the loop device.
  dmname=nvmevm-bad-$$ dmname_made=nvmevm-bad-$$
  if ! printf '0 8192 linear %s 0\n8192 64 error\n8256 8128 linear %s 8256\n' "$loop" "$loop" |
      dmsetup create "$dmname" 2>"$work/dm.err"; then
    cat "$work/dm.err"; dmname=""
    echo "FAIL: dmsetup create failed" >&2
    exit 1
  fi
  dev=/dev/mapper/$dmname
  [ -b "$dev" ] || { udevadm settle 2>/dev/null; sleep 1; }
  # Without udev (a busybox system such as the nested lab's L1, docs/lab.md) libdevmapper leaves
  # the node to udev: make it here, and remove it in cleanup.
  if [ ! -b "$dev" ]; then dmsetup mknodes "$dmname" && madenode=$dev; fi
  # Sequential 4 KiB reads cover the 8 MiB drive once (2048 requests): exactly the 8 requests
  # inside the error range fail, the 2040 others succeed.
  echo "== sequential reads across the drive: expect exit 17 and errors == 8"
  run_guest "$dev" "bench rw=read bs=4096 ops=2048 qd=8" 17
  errors=$(bench_field errors)
  echo "guest errors=$errors of 2048, host blk_errors=$(host_errors)"
  [ "$errors" = "8" ] || { echo "FAIL: expected 8 failed reads, got '$errors'" >&2; fail=1; }
  [ "$(host_errors)" = "8" ] || { echo "FAIL: host blk_errors is '$(host_errors)', expected 8" >&2; fail=1; }
  # One log line per failure: 8 is under the rate limiter's burst (10).
  lines=$(grep -c "I/O error" "$out")
  [ "$lines" = "8" ] || { echo "FAIL: $lines 'I/O error' log lines, expected 8" >&2; fail=1; }
  grep -q "I/O error at byte 41[0-9][0-9][0-9][0-9][0-9]: Input/output error" "$out" ||
    { echo "FAIL: no EIO near byte 4 MiB logged" >&2; fail=1; }
  # Reads that stay clear of the range all succeed. The guest's uncounted warm-up round (qd
  # requests) reads blocks 0-7 first, so 1016 counted reads end exactly at 4 MiB.
  echo "== reads of the first 4 MiB only: expect exit 16"
  run_guest "$dev" "bench rw=read bs=4096 ops=1016 qd=8" 16
  lines=$(grep -c "I/O error" "$out")
  [ "$lines" = "0" ] || { echo "FAIL: $lines 'I/O error' log lines on clean reads" >&2; fail=1; }
  # Tear down here rather than only in the trap, to check that nothing is left behind.
  cleanup_dm
  left=$(dmsetup ls 2>&1 | grep -c "$dmname_made" || true)
  [ "$left" = "0" ] || { echo "FAIL: device-mapper device $dmname_made left behind" >&2; fail=1; }
  [ ! -e "/dev/mapper/$dmname_made" ] || { echo "FAIL: node /dev/mapper/$dmname_made left behind" >&2; fail=1; }
  ;;
*) echo "unknown case $what" >&2; exit 2 ;;
esac
[ $fail -eq 0 ] && echo "ok: $what"
exit $fail
