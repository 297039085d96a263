# shellcheck shell=bash disable=SC2034  # the LAB_* variables are read by scripts/lab-run.sh
# nvme-4k-gpt-ext4-1k on a file instead of an NVMe namespace: the GPT image (512-byte sectors,
# ext4 with 1 KiB blocks in partition 1) is a file on an ext4 (4 KiB blocks) that the host made
# on nvme.img, which QEMU gives L1 as a namespace with 4 KiB LBAs. L1 mounts it; nvmevm serves
# /mnt/outer/gpt.img with engine = "uring" and logical_block_size = 512. O_DIRECT on that file
# needs 4 KiB alignment (STATX_DIOALIGN: the namespace's LBA), so nvmevm's log must say it
# presents 512-byte sectors on 4096-byte blocks, and everything misaligned goes through its
# read-modify-write. Here partition 1 starts at sector 2049, not at a 4 KiB boundary, so that
# even L2's page-sized I/O to the filesystem is misaligned. L2 does all that
# nvme-4k-gpt-ext4-1k's does (files from both vCPUs, O_DIRECT, fstrim, Write Zeroes from ext4's
# lazy init) except fio, left out to keep the run short (LAB_FILE_GPT_FIO=1 in the host's
# environment puts it back); L1 unmounts its filesystem after nvmevm exits. On the host
# fsck.ext4 -fn must find the outer filesystem clean; the image, taken out of it with debugfs,
# gets nvme-4k-gpt-ext4-1k's checks (partition table, fsck of partition 1, every file's contents).
# Format: docs/lab.md "Writing a scenario". Needs sfdisk (fdisk) and e2fsprogs on the host.
GPT_BACKING="file"
GPT_PART_START=2049
GPT_FIO=${LAB_FILE_GPT_FIO:-0}
# shellcheck source=tests/lab/scenarios/nvme-4k-gpt-ext4-1k.sh
source "$(dirname "${BASH_SOURCE[0]}")/nvme-4k-gpt-ext4-1k.sh"

LAB_DESCRIPTION="io_uring on a file with 4 KiB O_DIRECT alignment as 512-byte sectors: GPT (partition at sector 2049) + ext4 with 1 KiB blocks, files from 2 vCPUs, fio verify"
LAB_NVME_DISK_MIB=96
LAB_EXPECT_MARKERS+=("L1-NVME-QUEUE lbs=4096" L1-OUTER-MOUNT-RC=0 "L1-IMAGE size=$((GPT_DISK_MIB << 20))"
  "engine uring" L1-OUTER-UMOUNT-RC=0)

lab_host_prepare() {
    local outer=$LAB_STAGE/outer
    rm -rf "$outer"
    mkdir -p "$outer"
    gpt_make_image "$outer/gpt.img" "$LAB_STAGE" || return 1
    # The outer filesystem, with the image in it (mke2fs -d keeps its holes).
    mkfs.ext4 -F -q -b 4096 -L labouter -E lazy_itable_init=0,lazy_journal_init=0,nodiscard \
        -d "$outer" "$LAB_NVME_DISK" || return 1
    rm -rf "$outer"
}

lab_vm_config() {
    lab_vm_config_head 2 "$GPT_MEMORY_MIB"
    cat <<TOML

[[drive]]
id = "gpt"
path = "/mnt/outer/gpt.img"
engine = "uring"
logical_block_size = 512
queues = 2
TOML
}

lab_l1_run() {
    cat <<'SH'
. /lab/lib.sh
echo "L1-NVME-QUEUE lbs=$(cat /sys/block/nvme0n1/queue/logical_block_size)"
mkdir -p /mnt/outer
mount -t ext4 /dev/nvme0n1 /mnt/outer
echo "L1-OUTER-MOUNT-RC=$?"
echo "L1-IMAGE size=$(stat -c %s /mnt/outer/gpt.img) blocks=$(stat -c %b /mnt/outer/gpt.img)"
lab_run_nvmevm /nvmevm run --log-level info --config /lab/vm.toml
status=$?
echo "L1-IMAGE-AFTER size=$(stat -c %s /mnt/outer/gpt.img) blocks=$(stat -c %b /mnt/outer/gpt.img)"
# io_uring lets go of nvmevm's files a moment after it exits (its ring teardown is deferred):
# until then the filesystem is busy.
rc=1
for _ in 1 2 3 4 5 6 7 8 9 10; do umount /mnt/outer 2>/dev/null && { rc=0; break; }; sleep 0.5; done
echo "L1-OUTER-UMOUNT-RC=$rc"
exit $status
SH
}

lab_host_check() {
    local out rc img=$LAB_STAGE/gpt-out.img
    out=$(fsck.ext4 -fn "$LAB_NVME_DISK" 2>&1)
    rc=$?
    ((rc == 0)) || echo "fsck.ext4 -fn of the outer filesystem exited $rc: $(echo "$out" | tr '\n' '|' | cut -c1-400)"
    rm -f "$img"
    debugfs -R "dump /gpt.img $img" "$LAB_NVME_DISK" >/dev/null 2>&1
    gpt_check_image "$img"
    rm -f "$img"
    lab_check_rmw_stats
}
