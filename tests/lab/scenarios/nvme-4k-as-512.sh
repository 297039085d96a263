# shellcheck shell=bash disable=SC2034  # the LAB_* variables are read by scripts/lab-run.sh
# A 4 KiB-LBA NVMe namespace presented as a 512-byte-sector disk, because the drive asks for it
# (logical_block_size = 512, docs/config.md). QEMU gives L1 a namespace with 4 KiB LBAs; nvmevm
# serves L1's /dev/ng0n1 with engine = "nvme" to L2 (1 vCPU). L2 must see 512-byte logical and
# 4 KiB physical blocks in sysfs; an O_DIRECT 4 KiB write at a 4 KiB boundary must read back
# (and be in nvme.img on the host); an O_DIRECT 512-byte write and read at an odd sector must
# fail with an I/O error, refused by nvmevm (its warning says why) and never rounded (the odd
# write's bytes are nowhere in the image), while the VM goes on (a second aligned write works
# after the errors). Last, L2 tries to mount the ext4 the host made in the first 32 MiB and
# reports what happened (L2-EXT4-MOUNT=...), for the record: ext4 reads its superblock in 1 KiB
# blocks, which nvmevm refuses on such a drive (docs/nvme.md).
# Format: docs/lab.md "Writing a scenario"; the option: docs/nvme.md.
# shellcheck source=tests/lab/vm-config.sh
source "$lab_src/vm-config.sh"
LAB_DESCRIPTION="NVMe passthrough: 4 KiB-LBA namespace presented with logical_block_size = 512; aligned O_DIRECT works, odd sectors fail, VM goes on"
LAB_L2_KERNEL=bzimage
LAB_EXPECT_EXIT=0
LAB_L1_NVME=1
LAB_NVME_LBS=4096
LAB_NVME_DISK_MIB=64
LAB_EXPECT_MARKERS=(L2-UP L2-CPUS=1 L1-NVME-NG=present "L1-NVME-QUEUE lbs=4096"
  "presenting 512-byte sectors on 4096-byte blocks" "engine nvme"
  "L2-VDA-BLOCKS lbs=512 pbs=4096 min_io=4096"
  L2-ALIGNED-WRITE=ok L2-ALIGNED-READBACK=ok L2-ODD-WRITE=failed L2-ODD-READ=failed
  "I/O error, dev vda, sector 98313" "not aligned to the backing's logical block (sector 98313, 1 sectors"
  L2-AFTER-ERRORS=ok L2-EXT4-MOUNT= L2-POWEROFF "nvme /dev/ng0n1: read=")
LAB_FORBID_MARKERS+=(L2-FAIL= "NVMe status" "flush at stop failed" L2-ODD-WRITE=succeeded
  L2-ODD-READ=succeeded)

# 48 MiB into the disk: sector 98304, byte 50331648; the filesystem ends at 32 MiB.
nvme_4k512_aligned() { busybox yes NVME4KAS512-ALIGNED | busybox head -c 4096; }
nvme_4k512_second() { busybox yes NVME4KAS512-SECOND | busybox head -c 4096; }

lab_host_prepare() {
    command -v mkfs.ext4 >/dev/null || { echo "mkfs.ext4 missing: install e2fsprogs" >&2; return 1; }
    mkfs.ext4 -F -q -b 4096 -L lab4kas512 -E lazy_itable_init=0,lazy_journal_init=0,nodiscard \
        "$LAB_NVME_DISK" 32M
}

lab_vm_config() {
    lab_vm_config_head 1
    lab_nvme_drive "logical_block_size = 512"
}

lab_l1_run() {
    cat <<'SH'
. /lab/lib.sh
lab_report_nvme_ng
echo "L1-NVME-QUEUE lbs=$(cat /sys/block/nvme0n1/queue/logical_block_size)"
lab_run_nvmevm /nvmevm run --log-level info --config /lab/vm.toml
SH
}

lab_l2_init() {
    cat <<'SH'
l2_report
fail() { echo "L2-FAIL=$*"; poweroff -f; l2_stuck poweroff; }
[ -b /dev/vda ] || fail "no /dev/vda"
q=/sys/block/vda/queue
echo "L2-VDA-BLOCKS lbs=$(cat $q/logical_block_size) pbs=$(cat $q/physical_block_size) min_io=$(cat $q/minimum_io_size) discard_gran=$(cat $q/discard_granularity) size=$(blockdev --getsize64 /dev/vda)"
# O_DIRECT, 4 KiB at sector 98304 (a 4 KiB boundary, 48 MiB in): one whole LBA.
yes NVME4KAS512-ALIGNED | head -c 4096 >/tmp/aligned.bin
dd if=/tmp/aligned.bin of=/dev/vda bs=4096 seek=12288 count=1 oflag=direct conv=notrunc 2>/dev/null &&
    echo "L2-ALIGNED-WRITE=ok" || echo "L2-ALIGNED-WRITE=failed"
want=$(sha256sum </tmp/aligned.bin | cut -d' ' -f1)
got=$(dd if=/dev/vda bs=4096 skip=12288 count=1 iflag=direct 2>/dev/null | sha256sum | cut -d' ' -f1)
[ "$want" = "$got" ] && echo "L2-ALIGNED-READBACK=ok" || echo "L2-ALIGNED-READBACK=mismatch want=$want got=$got"
# O_DIRECT, 512 bytes at sector 98313 (inside the next LBA, not at its start): the guest may send
# it (its logical block is 512 bytes), nvmevm must refuse it. busybox dd takes a page-aligned
# buffer only for bs >= 4096 (a malloc'd one fails O_DIRECT with EINVAL, and dd then quietly
# retries buffered), so: bs=4096 with a 512-byte count and byte offsets.
yes NVME4KAS512-ODDSECTOR | head -c 512 >/tmp/odd.bin
if dd if=/tmp/odd.bin of=/dev/vda bs=4096 count=512 iflag=count_bytes seek=$((98313 * 512)) \
    oflag=seek_bytes,direct conv=notrunc 2>/tmp/dd.err; then
    echo "L2-ODD-WRITE=succeeded"
else
    echo "L2-ODD-WRITE=failed ($(head -n 1 /tmp/dd.err))"
fi
if dd if=/dev/vda of=/dev/null bs=4096 count=512 skip=$((98313 * 512)) \
    iflag=count_bytes,skip_bytes,direct 2>/tmp/dd.err; then
    echo "L2-ODD-READ=succeeded"
else
    echo "L2-ODD-READ=failed ($(head -n 1 /tmp/dd.err))"
fi
# The device goes on after the refusals: another aligned block, and the first one again.
yes NVME4KAS512-SECOND | head -c 4096 >/tmp/second.bin
dd if=/tmp/second.bin of=/dev/vda bs=4096 seek=12290 count=1 oflag=direct conv=notrunc 2>/dev/null &&
    got=$(dd if=/dev/vda bs=4096 skip=12288 count=1 iflag=direct 2>/dev/null | sha256sum | cut -d' ' -f1) &&
    [ "$want" = "$got" ] && echo "L2-AFTER-ERRORS=ok" || echo "L2-AFTER-ERRORS=failed"
sync
# For the record, not a requirement: can ext4 (4 KiB blocks, made on the host) be mounted?
mkdir -p /mnt
if mount -t ext4 -o ro /dev/vda /mnt 2>/tmp/mount.err; then
    echo "L2-EXT4-MOUNT=ok"
    umount /mnt
else
    echo "L2-EXT4-MOUNT=failed ($(head -n 1 /tmp/mount.err))"
fi
echo "L2-POWEROFF"
poweroff -f
l2_stuck poweroff
SH
}

lab_host_check() {
    local got want
    want=$(nvme_4k512_aligned | sha256sum | cut -d' ' -f1)
    got=$(dd if="$LAB_NVME_DISK" bs=4096 skip=12288 count=1 2>/dev/null | sha256sum | cut -d' ' -f1)
    [[ $got == "$want" ]] || echo "nvme.img at 48 MiB: sha256 $got, expected the aligned 4 KiB block ($want)"
    want=$(nvme_4k512_second | sha256sum | cut -d' ' -f1)
    got=$(dd if="$LAB_NVME_DISK" bs=4096 skip=12290 count=1 2>/dev/null | sha256sum | cut -d' ' -f1)
    [[ $got == "$want" ]] || echo "nvme.img at 48 MiB + 8 KiB: sha256 $got, expected the second block ($want)"
    # The refused write must have changed nothing: LBA 12289 (sectors 98312-98319) is still zero.
    got=$(dd if="$LAB_NVME_DISK" bs=4096 skip=12289 count=1 2>/dev/null | tr -d '\0' | wc -c)
    ((got == 0)) || echo "the LBA holding the refused odd-sector write is not zero ($got non-zero bytes)"
    got=$(grep -c -a NVME4KAS512-ODDSECTOR "$LAB_NVME_DISK" || true)
    ((got == 0)) || echo "the refused odd-sector write's bytes are in the image ($got places)"
    got=$(fsck.ext4 -fn "$LAB_NVME_DISK" 2>&1) || echo "fsck.ext4 -fn: $(echo "$got" | tr '\n' '|' | cut -c1-300)"
    return 0
}
