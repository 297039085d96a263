# shellcheck shell=bash disable=SC2034  # the LAB_* variables are read by scripts/lab-run.sh
# nvmevm with two virtio-blk drives of two kinds: "blka" is L1's /dev/vda (a block device, the
# host's disk.img), "blkb" a 32 MiB file on L1's tmpfs (the 6.1 kernel's tmpfs refuses O_DIRECT,
# so nvmevm falls back to the page cache for it). L1 fills the file's first MiB with a pattern
# first. L2 (2 vCPUs) must see /dev/vda and /dev/vdb with the right sizes, serials and 2 queues
# each, read L1's pattern from vdb, write a marker to each drive with O_DIRECT and read it back.
# Afterwards L1 finds vdb's marker in its file, and the host finds vda's in disk.img.
# Format: docs/lab.md "Writing a scenario".
# shellcheck source=tests/lab/vm-config.sh
source "$lab_src/vm-config.sh"
LAB_DESCRIPTION="virtio-blk: two drives (L1 block device + L1 tmpfs file), markers on both"
LAB_L2_KERNEL=bzimage
LAB_EXPECT_EXIT=0
LAB_L1_DISK_MIB=64
LAB_EXPECT_MARKERS=(L2-UP L2-CPUS=2 L2-VDA=present L2-VDB=present "L2-VDA-INFO size=67108864"
  "L2-VDB-INFO size=33554432" L2-VDB-PREFILL=ok L2-VDA-MARK=ok L2-VDB-MARK=ok L2-POWEROFF
  L1-NVMEVM-TASKS=)
LAB_FORBID_MARKERS+=(L2-FAIL=)

# Where the markers go (bytes) and what they say.
BLK2_MARK_OFFSET=$((4 << 20))
BLK2_MARK_A=LAB-BLK2-MARK-A-vda-0123456789
BLK2_MARK_B=LAB-BLK2-MARK-B-vdb-9876543210
# vdb's marker, written by L2, read back by L1 from the file behind the drive.
LAB_EXPECT_MARKERS+=("L1-VDB-MARK read='$BLK2_MARK_B'")

lab_vm_config() {
    lab_vm_config_head 2
    cat <<TOML

[[drive]]
id = "blka"
path = "/dev/vda"

[[drive]]
id = "blkb"
path = "/tmp/blkb.img"
TOML
}

lab_l1_run() {
    cat <<SH
mark_b=$BLK2_MARK_B
mark_off=$BLK2_MARK_OFFSET
SH
    cat <<'SH'
. /lab/lib.sh
# The second drive: a file on L1's tmpfs, its first MiB a pattern L2 must read back.
truncate -s 32M /tmp/blkb.img
yes LAB-BLK2-PREFILL | head -c 1048576 | dd of=/tmp/blkb.img conv=notrunc 2>/dev/null
# info level: nvmevm says which drive lost O_DIRECT.
lab_run_nvmevm /nvmevm --log-level info run --config /lab/vm.toml
status=$?
got=$(dd if=/tmp/blkb.img bs=1 skip=$mark_off count=${#mark_b} 2>/dev/null)
# What the file holds there; the marker list says what it must be.
echo "L1-VDB-MARK read='$got'"
exit $status
SH
}

lab_l2_init() {
    cat <<SH
mark_a=$BLK2_MARK_A
mark_b=$BLK2_MARK_B
mark_off=$BLK2_MARK_OFFSET
SH
    cat <<'SH'
l2_report
fail() { echo "L2-FAIL=$*"; poweroff -f; l2_stuck poweroff; }
for d in vda vdb; do
    [ -b /dev/$d ] || fail "no /dev/$d"
    echo "L2-$(echo $d | tr a-z A-Z)=present"
    echo "L2-$(echo $d | tr a-z A-Z)-INFO size=$(blockdev --getsize64 /dev/$d) serial=$(cat /sys/block/$d/serial) queues=$(ls /sys/block/$d/mq | wc -l) ro=$(cat /sys/block/$d/ro)"
done
want=$(yes LAB-BLK2-PREFILL | head -c 1048576 | sha256sum | cut -d' ' -f1)
got=$(dd if=/dev/vdb bs=65536 count=16 iflag=direct 2>/dev/null | sha256sum | cut -d' ' -f1)
[ "$got" = "$want" ] && echo "L2-VDB-PREFILL=ok" || echo "L2-VDB-PREFILL=mismatch"
# One 4 KiB block at mark_off on each drive (the marker, zero-padded), from both vCPUs at once.
blk=$((mark_off / 4096))
(echo -n "$mark_a" | taskset 1 dd of=/dev/vda bs=4096 seek=$blk conv=sync oflag=direct 2>/dev/null) &
a=$!
(echo -n "$mark_b" | taskset 2 dd of=/dev/vdb bs=4096 seek=$blk conv=sync oflag=direct 2>/dev/null) &
b=$!
wait $a || fail "write vda"
wait $b || fail "write vdb"
for d in vda vdb; do
    [ $d = vda ] && m=$mark_a || m=$mark_b
    got=$(dd if=/dev/$d bs=4096 skip=$blk count=1 iflag=direct 2>/dev/null | head -c ${#m})
    [ "$got" = "$m" ] && echo "L2-$(echo $d | tr a-z A-Z)-MARK=ok" || echo "L2-$(echo $d | tr a-z A-Z)-MARK=mismatch '$got'"
done
grep -i virtio /proc/interrupts | sed 's/^/L2-IRQ /' | tr -s ' '
echo "L2-POWEROFF"
poweroff -f
l2_stuck poweroff
SH
}

lab_host_check() {
    local got
    got=$(dd if="$LAB_DISK" bs=1 skip="$BLK2_MARK_OFFSET" count=${#BLK2_MARK_A} 2>/dev/null)
    [[ $got == "$BLK2_MARK_A" ]] || echo "disk.img lacks vda's marker at $BLK2_MARK_OFFSET (read '$got')"
}
