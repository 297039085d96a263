# shellcheck shell=bash disable=SC2034  # the LAB_* variables are read by scripts/lab-run.sh
# nvmevm's virtio-blk with a real filesystem. The host makes an ext4 image, which is L1's
# /dev/vda; nvmevm gives that whole block device to L2 (2 vCPUs) as its /dev/vda. L2 mounts it,
# writes files of known content from both vCPUs at once (so both request queues carry I/O),
# writes and reads a file with O_DIRECT, deletes a large file and runs fstrim, reports the
# multi-queue layout, unmounts and powers off. L1 watches nvmevm's threads meanwhile. On the
# host, fsck.ext4 must find the image clean, the files read back with debugfs must have the
# contents L2 wrote (and the checksums L2 printed), and the deleted file's bytes must be gone
# (fstrim's discards reached the image: QEMU runs L1's disk with discard=unmap).
# Format: docs/lab.md "Writing a scenario". Needs e2fsprogs on the host.
# LAB_BLK_MOUNT_OPTS (host environment, default none) adds ext4 mount options in L2, e.g.
# "nobarrier" to keep ext4 from sending FLUSH requests while looking at something else.
# shellcheck source=tests/lab/vm-config.sh
source "$lab_src/vm-config.sh"
LAB_DESCRIPTION="virtio-blk: ext4 on L1's /dev/vda, 2 vCPUs, files + O_DIRECT + fstrim, fsck and checksums on the host"
LAB_L2_KERNEL=bzimage
LAB_EXPECT_EXIT=0
LAB_L1_DISK_MIB=64
LAB_EXPECT_MARKERS=(L2-UP L2-CPUS=2 L2-VDA=present L2-MOUNT=ok L2-WRITES=ok L2-SYNC=ok
  L2-DIRECT=ok L2-MQ-QUEUES=2 L2-MQ-BOTH-USED=yes L2-UMOUNT=ok L2-POWEROFF L1-NVMEVM-TASKS=)
LAB_FORBID_MARKERS+=(L2-FAIL= L2-STUCK-REQUESTS)

# The files L2 writes: name and the busybox pipeline that makes its contents. The host builds
# the same contents with the host's busybox to know what the image must hold.
blk_ext4_files() {
    cat <<'EOF'
seq.txt busybox seq 1 150000
yes.txt busybox yes nvmevm-virtio-blk-lab | busybox head -c 2000000
dir/nested.txt busybox seq -w 7 7 700000
cpu1.txt busybox seq 1000000 1120000
direct.bin busybox yes 0123456789abcdef | busybox head -c 4194304
EOF
}

lab_host_prepare() {
    command -v mkfs.ext4 >/dev/null || { echo "mkfs.ext4 missing: install e2fsprogs" >&2; return 1; }
    # Everything initialised now (no lazy init thread writing in L2), a label to check.
    mkfs.ext4 -F -q -L labext4 -E lazy_itable_init=0,lazy_journal_init=0 "$LAB_DISK"
}

lab_vm_config() {
    lab_vm_config_head 2
    cat <<TOML

[[drive]]
id = "root"
path = "/dev/vda"
read_only = false
TOML
}

lab_l1_run() {
    cat <<'SH'
. /lab/lib.sh
lab_run_nvmevm /nvmevm run --config /lab/vm.toml
SH
}

lab_l2_init() {
    echo "mount_opts='${LAB_BLK_MOUNT_OPTS:-}'"
    cat <<'SH'
l2_report
fail() { echo "L2-FAIL=$*"; umount /mnt 2>/dev/null; poweroff -f; l2_stuck poweroff; }
[ -b /dev/vda ] && echo "L2-VDA=present" || fail "no /dev/vda"
echo "L2-VDA-SIZE=$(blockdev --getsize64 /dev/vda) serial=$(cat /sys/block/vda/serial 2>/dev/null) ro=$(cat /sys/block/vda/ro)"
q=/sys/block/vda/queue
echo "L2-VDA-QUEUE lbs=$(cat $q/logical_block_size) pbs=$(cat $q/physical_block_size) max_hw_kb=$(cat $q/max_hw_sectors_kb) max_segs=$(cat $q/max_segments) discard_max=$(cat $q/discard_max_bytes) wz_max=$(cat $q/write_zeroes_max_bytes) wc=$(cat $q/write_cache) rot=$(cat $q/rotational)"
echo "L2-MQ-QUEUES=$(ls /sys/block/vda/mq | wc -l)"
for d in /sys/block/vda/mq/*; do
    echo "L2-MQ ${d##*/} cpus=$(cat $d/cpu_list) nr_tags=$(cat $d/nr_tags) nr_reserved_tags=$(cat $d/nr_reserved_tags)"
done
l2_watch_stuck_requests  # tests/lab/l2-prologue.sh
mkdir -p /mnt
echo "L2-MOUNT-START opts=${mount_opts:-none}"
mount -t ext4 ${mount_opts:+-o "$mount_opts"} /dev/vda /mnt && echo "L2-MOUNT=ok" || fail "mount"
echo "L2-IO-START uptime=$(cut -d' ' -f1 /proc/uptime)"
mkdir -p /mnt/dir
# Two writers at once, one pinned to each vCPU: each vCPU submits on its own queue.
(taskset 1 sh -c 'seq 1 150000 >/mnt/seq.txt; yes nvmevm-virtio-blk-lab | head -c 2000000 >/mnt/yes.txt; sync') &
w0=$!
(taskset 2 sh -c 'seq -w 7 7 700000 >/mnt/dir/nested.txt; seq 1000000 1120000 >/mnt/cpu1.txt; sync') &
w1=$!
wait $w0 && wait $w1 && echo "L2-WRITES=ok" || fail "writes"
# A big file to delete: its blocks hold a pattern the host looks for after fstrim.
yes LABTRASHPATTERN-0123456789 | head -c 16777216 >/mnt/trash.bin
sync && echo "L2-SYNC=ok" || fail "sync"
# O_DIRECT: write through the page cache's back, read back the same way.
yes 0123456789abcdef | head -c 4194304 >/tmp/direct.src
dd if=/tmp/direct.src of=/mnt/direct.bin bs=65536 oflag=direct conv=fsync 2>/dev/null || fail "O_DIRECT write"
want=$(sha256sum </tmp/direct.src | cut -d' ' -f1)
got=$(dd if=/mnt/direct.bin bs=65536 iflag=direct 2>/dev/null | sha256sum | cut -d' ' -f1)
[ "$want" = "$got" ] && echo "L2-DIRECT=ok" || echo "L2-DIRECT=mismatch want=$want got=$got"
# Read everything back after dropping the page cache: the bytes come from the device.
sync
echo 3 >/proc/sys/vm/drop_caches
for f in seq.txt yes.txt dir/nested.txt cpu1.txt direct.bin; do
    echo "L2-SHA $f $(sha256sum </mnt/$f | cut -d' ' -f1)"
done
rm /mnt/trash.bin
sync
echo "L2-FSTRIM=$(fstrim -v /mnt 2>&1 | tr '\n' ' ')"
echo "L2-IO-END uptime=$(cut -d' ' -f1 /proc/uptime)"
grep -i virtio /proc/interrupts | sed 's/^/L2-IRQ /' | tr -s ' '
l2_report_queues_used  # tests/lab/l2-prologue.sh
df -k /mnt | tail -n 1 | sed 's/^/L2-DF /'
case "$mount_opts" in *init_itable*)
    # ext4's lazy init thread zeroes the inode tables (WRITE_ZEROES) in the background: let it
    # finish before the unmount stops it, or a fast run never sends one (up to 30 s).
    for _ in $(seq 60); do grep -qs ext4lazyinit /proc/[0-9]*/comm || break; sleep 0.5; done
    echo "L2-LAZYINIT-DONE uptime=$(cut -d' ' -f1 /proc/uptime)" ;;
esac
umount /mnt && echo "L2-UMOUNT=ok" || fail "umount"
echo "L2-POWEROFF"
poweroff -f
l2_stuck poweroff
SH
}

lab_host_check() {
    local out rc name cmd want got l2
    out=$(fsck.ext4 -fn "$LAB_DISK" 2>&1)
    rc=$?
    ((rc == 0)) || echo "fsck.ext4 -fn exited $rc: $(echo "$out" | tr '\n' '|' | cut -c1-400)"
    while read -r name cmd; do
        want=$(bash -c "$cmd" | sha256sum | cut -d' ' -f1)
        got=$(debugfs -R "cat /$name" "$LAB_DISK" 2>/dev/null | sha256sum | cut -d' ' -f1)
        l2=$(sed -n "s|^L2-SHA $name ||p" "$LAB_CONSOLE" | tail -n 1)
        [[ $got == "$want" ]] || echo "/$name in the image: sha256 $got, expected $want"
        [[ $l2 == "$want" ]] || echo "/$name as L2 read it: sha256 ${l2:-missing}, expected $want"
    done < <(blk_ext4_files)
    # fstrim must have discarded something, and the deleted file's bytes must be gone.
    got=$(sed -n 's/^L2-FSTRIM=.*: \([0-9]*\) bytes.*/\1/p' "$LAB_CONSOLE" | tail -n 1)
    [[ ${got:-0} -gt 0 ]] || echo "fstrim trimmed nothing: $(grep -m 1 '^L2-FSTRIM=' "$LAB_CONSOLE")"
    got=$(grep -c -a LABTRASHPATTERN "$LAB_DISK" || true)
    ((got == 0)) || echo "the deleted file's pattern is still in $got places of the image: the discards did not reach it"
    [[ $(debugfs -R "stat /trash.bin" "$LAB_DISK" 2>&1) == *"File not found"* ]] ||
        echo "/trash.bin still in the image"
}
