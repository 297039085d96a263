# shellcheck shell=bash disable=SC2034  # the LAB_* variables are read by scripts/lab-run.sh
# A 4 KiB-LBA NVMe namespace presented as a 512-byte-sector disk, because the drive asks for it
# (logical_block_size = 512, docs/config.md). QEMU gives L1 a namespace with 4 KiB LBAs; nvmevm
# serves L1's /dev/ng0n1 with engine = "nvme" to L2 (1 vCPU). L2 must see 512-byte logical and
# 4 KiB physical blocks in sysfs; an O_DIRECT 4 KiB write at a 4 KiB boundary must read back
# (and be in nvme.img on the host). An O_DIRECT 512-byte write and read at an odd sector (98313,
# inside LBA 12289, not at its start) must succeed: nvmevm serves them by read-modify-write of
# the 4 KiB block around them (docs/nvme.md), so on the host the write's 512 bytes are at exactly
# byte 98313 * 512 of nvme.img and the other seven sectors of that LBA are still zero; a later
# aligned write works too. Then, on eight LBAs filled with a pattern, util-linux's blkdiscard
# (LAB_L2_BINARIES) zeroes sectors 98330-98349 (BLKZEROOUT: a misaligned Write Zeroes, served as
# zeroes merged into the partial LBAs at both ends and an NVMe Write Zeroes for the whole one
# between) and discards sectors 98354-98377 (shrunk to the two whole LBAs inside): on the host
# exactly those twenty sectors are zero amid the pattern, the two whole LBAs are deallocated
# (zero) and the sectors outside the discarded range keep the pattern; nvmevm's counters show
# the Write Zeroes and the Dataset Management.
# Last, L2 mounts read-write the ext4 the host made with 1 KiB blocks
# in the first 32 MiB (its 1 KiB superblock and metadata blocks are misaligned requests), writes
# a file whose size is no multiple of 4 KiB, syncs and unmounts; on the host fsck.ext4 -fn must
# find it clean and the file read back with debugfs must have the contents L2 wrote. nvmevm's
# exit line must count requests served by read-modify-write (blk_rmw) and no errors.
# Format: docs/lab.md "Writing a scenario"; the option: docs/nvme.md.
# shellcheck source=tests/lab/vm-config.sh
source "$lab_src/vm-config.sh"
LAB_DESCRIPTION="NVMe passthrough: 4 KiB-LBA namespace presented with logical_block_size = 512; odd-sector O_DIRECT by read-modify-write, ext4 with 1 KiB blocks read-write"
LAB_L2_KERNEL=bzimage
LAB_EXPECT_EXIT=0
LAB_L1_NVME=1
LAB_NVME_LBS=4096
LAB_NVME_DISK_MIB=64
# util-linux's blkdiscard: -z (BLKZEROOUT) and ranges in bytes; busybox's has neither.
LAB_L2_BINARIES=(/usr/sbin/blkdiscard)
LAB_EXPECT_MARKERS=(L2-UP L2-CPUS=1 L1-NVME-NG=present "L1-NVME-QUEUE lbs=4096"
  "presenting 512-byte sectors on 4096-byte blocks" "engine nvme"
  "L2-VDA-BLOCKS lbs=512 pbs=4096 min_io=4096"
  L2-ALIGNED-WRITE=ok L2-ALIGNED-READBACK=ok L2-ODD-WRITE=ok L2-ODD-READ=ok L2-ODD-READBACK=ok
  L2-AFTER-ODD=ok L2-ZEROOUT=ok L2-ZEROOUT-READBACK=ok L2-DISCARD=ok L2-DISCARD-NEIGHBOURS=ok
  L2-EXT4-MOUNT=ok L2-EXT4-WRITE=ok L2-EXT4-UMOUNT=ok L2-POWEROFF
  "nvme /dev/ng0n1: read=")
# The refusal of misaligned requests is gone: neither its warning nor an I/O error may appear.
LAB_FORBID_MARKERS+=(L2-FAIL= "NVMe status" "flush at stop failed" "not aligned to the backing's logical block"
  "I/O error, dev vda" L2-ODD-WRITE=failed L2-ODD-READ=failed L2-ODD-READBACK=mismatch
  L2-EXT4-MOUNT=failed L2-ZEROOUT=failed L2-DISCARD=failed)

# 48 MiB into the disk: sector 98304, byte 50331648; the filesystem ends at 32 MiB.
nvme_4k512_aligned() { busybox yes NVME4KAS512-ALIGNED | busybox head -c 4096; }
nvme_4k512_second() { busybox yes NVME4KAS512-SECOND | busybox head -c 4096; }
nvme_4k512_odd() { busybox yes NVME4KAS512-ODDSECTOR | busybox head -c 512; }
# LBAs 12291-12298 (sectors 98328-98391) hold this pattern before the zeroing and the discard.
nvme_4k512_fill() { busybox yes NVME4KAS512-FILL | busybox head -c 32768; }
# The file L2 writes into the filesystem: 100001 bytes, no multiple of 1 KiB or 4 KiB.
nvme_4k512_file() { busybox seq 1 30000 | busybox head -c 100001; }

lab_host_prepare() {
    command -v mkfs.ext4 >/dev/null || { echo "mkfs.ext4 missing: install e2fsprogs" >&2; return 1; }
    # 1 KiB blocks: ext4's superblock, bitmaps and inode table blocks are 1 KiB requests, most
    # of them not at a 4 KiB boundary of the namespace.
    mkfs.ext4 -F -q -b 1024 -L lab4kas512 -E lazy_itable_init=0,lazy_journal_init=0,nodiscard \
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
fail() { echo "L2-FAIL=$*"; umount /mnt 2>/dev/null; poweroff -f; l2_stuck poweroff; }
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
# it (its logical block is 512 bytes) and nvmevm must serve it by read-modify-write. busybox dd
# takes a page-aligned buffer only for bs >= 4096 (a malloc'd one fails O_DIRECT with EINVAL,
# and dd then quietly retries buffered), so: bs=4096 with a 512-byte count and byte offsets.
yes NVME4KAS512-ODDSECTOR | head -c 512 >/tmp/odd.bin
if dd if=/tmp/odd.bin of=/dev/vda bs=4096 count=512 iflag=count_bytes seek=$((98313 * 512)) \
    oflag=seek_bytes,direct conv=notrunc 2>/tmp/dd.err; then
    echo "L2-ODD-WRITE=ok"
else
    echo "L2-ODD-WRITE=failed ($(head -n 1 /tmp/dd.err))"
fi
if dd if=/dev/vda of=/tmp/odd.read bs=4096 count=512 skip=$((98313 * 512)) \
    iflag=count_bytes,skip_bytes,direct 2>/tmp/dd.err; then
    echo "L2-ODD-READ=ok"
else
    echo "L2-ODD-READ=failed ($(head -n 1 /tmp/dd.err))"
fi
want_odd=$(sha256sum </tmp/odd.bin | cut -d' ' -f1)
got=$(sha256sum </tmp/odd.read | cut -d' ' -f1)
[ "$want_odd" = "$got" ] && echo "L2-ODD-READBACK=ok" || echo "L2-ODD-READBACK=mismatch want=$want_odd got=$got"
# The sectors around it in the same 4 KiB block: still zero (sector 98312, then 98314-98319).
nz=$({ dd if=/dev/vda bs=4096 count=512 skip=$((98312 * 512)) iflag=count_bytes,skip_bytes,direct 2>/dev/null
    dd if=/dev/vda bs=4096 count=3072 skip=$((98314 * 512)) iflag=count_bytes,skip_bytes,direct 2>/dev/null; } |
    tr -d '\0' | wc -c)
echo "L2-ODD-NEIGHBOURS nonzero=$nz"
# Aligned I/O goes on: another aligned block, and the first one again.
yes NVME4KAS512-SECOND | head -c 4096 >/tmp/second.bin
dd if=/tmp/second.bin of=/dev/vda bs=4096 seek=12290 count=1 oflag=direct conv=notrunc 2>/dev/null &&
    got=$(dd if=/dev/vda bs=4096 skip=12288 count=1 iflag=direct 2>/dev/null | sha256sum | cut -d' ' -f1) &&
    [ "$want" = "$got" ] && echo "L2-AFTER-ODD=ok" || echo "L2-AFTER-ODD=failed"
# Write Zeroes and discard, misaligned, on LBAs 12291-12298 (sectors 98328-98391) filled first.
yes NVME4KAS512-FILL | head -c 32768 >/tmp/fill.bin
dd if=/tmp/fill.bin of=/dev/vda bs=4096 seek=12291 count=8 oflag=direct conv=notrunc 2>/dev/null ||
    echo "L2-FILL=failed"
echo "L2-BLKDISCARD $(/usr/sbin/blkdiscard --version 2>&1)"
# Sectors 98330-98349: the end of LBA 12291, LBA 12292 whole, the start of LBA 12293.
/usr/sbin/blkdiscard -f -z -o $((98330 * 512)) -l $((20 * 512)) /dev/vda 2>/tmp/bd.err &&
    echo "L2-ZEROOUT=ok" || echo "L2-ZEROOUT=failed ($(head -n 1 /tmp/bd.err))"
# Sectors 98354-98377: the end of LBA 12294, LBAs 12295 and 12296 whole, the start of 12297.
/usr/sbin/blkdiscard -f -o $((98354 * 512)) -l $((24 * 512)) /dev/vda 2>/tmp/bd.err &&
    echo "L2-DISCARD=ok" || echo "L2-DISCARD=failed ($(head -n 1 /tmp/bd.err))"
# sector_sha FIRST COUNT: sha256 of COUNT sectors from FIRST, read with O_DIRECT.
sector_sha() {
    dd if=/dev/vda bs=4096 count=$(($2 * 512)) skip=$(($1 * 512)) iflag=count_bytes,skip_bytes,direct 2>/dev/null |
        sha256sum | cut -d' ' -f1
}
fill_sha() { head -c $((($1 - 98328 + $2) * 512)) /tmp/fill.bin | tail -c $(($2 * 512)) | sha256sum | cut -d' ' -f1; }
zero_sha() { head -c $(($1 * 512)) /dev/zero | sha256sum | cut -d' ' -f1; }
[ "$(sector_sha 98328 2)" = "$(fill_sha 98328 2)" ] && [ "$(sector_sha 98330 20)" = "$(zero_sha 20)" ] &&
    [ "$(sector_sha 98350 2)" = "$(fill_sha 98350 2)" ] &&
    echo "L2-ZEROOUT-READBACK=ok" || echo "L2-ZEROOUT-READBACK=mismatch"
[ "$(sector_sha 98352 2)" = "$(fill_sha 98352 2)" ] && [ "$(sector_sha 98378 14)" = "$(fill_sha 98378 14)" ] &&
    echo "L2-DISCARD-NEIGHBOURS=ok" || echo "L2-DISCARD-NEIGHBOURS=mismatch"
sync
# ext4 with 1 KiB blocks (made on the host in the first 32 MiB), read-write.
mkdir -p /mnt
if mount -t ext4 /dev/vda /mnt 2>/tmp/mount.err; then
    echo "L2-EXT4-MOUNT=ok"
else
    echo "L2-EXT4-MOUNT=failed ($(head -n 1 /tmp/mount.err))"
    fail "mount"
fi
seq 1 30000 | head -c 100001 >/mnt/rmw.txt && sync && echo "L2-EXT4-WRITE=ok" || echo "L2-EXT4-WRITE=failed"
echo 3 >/proc/sys/vm/drop_caches
echo "L2-SHA rmw.txt $(sha256sum </mnt/rmw.txt | cut -d' ' -f1)"
umount /mnt && echo "L2-EXT4-UMOUNT=ok" || echo "L2-EXT4-UMOUNT=failed"
echo "L2-POWEROFF"
poweroff -f
l2_stuck poweroff
SH
}

lab_host_check() {
    local got want out rc l2
    want=$(nvme_4k512_aligned | sha256sum | cut -d' ' -f1)
    got=$(dd if="$LAB_NVME_DISK" bs=4096 skip=12288 count=1 2>/dev/null | sha256sum | cut -d' ' -f1)
    [[ $got == "$want" ]] || echo "nvme.img at 48 MiB: sha256 $got, expected the aligned 4 KiB block ($want)"
    want=$(nvme_4k512_second | sha256sum | cut -d' ' -f1)
    got=$(dd if="$LAB_NVME_DISK" bs=4096 skip=12290 count=1 2>/dev/null | sha256sum | cut -d' ' -f1)
    [[ $got == "$want" ]] || echo "nvme.img at 48 MiB + 8 KiB: sha256 $got, expected the second block ($want)"
    # The odd-sector write: its 512 bytes at exactly byte 98313 * 512 ...
    want=$(nvme_4k512_odd | sha256sum | cut -d' ' -f1)
    got=$(dd if="$LAB_NVME_DISK" bs=512 skip=98313 count=1 2>/dev/null | sha256sum | cut -d' ' -f1)
    [[ $got == "$want" ]] || echo "nvme.img sector 98313: sha256 $got, expected the odd-sector write ($want)"
    # ... the rest of its LBA (sectors 98312 and 98314-98319) still zero ...
    got=$({ dd if="$LAB_NVME_DISK" bs=512 skip=98312 count=1 2>/dev/null
        dd if="$LAB_NVME_DISK" bs=512 skip=98314 count=6 2>/dev/null; } | tr -d '\0' | wc -c)
    ((got == 0)) || echo "LBA 12289 around the odd-sector write: $got non-zero bytes, expected none"
    # ... and nowhere else.
    got=$(grep -a -b -o NVME4KAS512-ODDSECTOR "$LAB_NVME_DISK" |
        awk -F: -v lo=$((98313 * 512)) -v hi=$((98314 * 512)) '$1 < lo || $1 >= hi' | wc -l)
    ((got == 0)) || echo "the odd-sector write's pattern is in $got places of the image outside sector 98313"
    # The zeroed and discarded sectors in LBAs 12291-12298 (sectors 98328-98391).
    nvme_4k512_fill >"$LAB_STAGE/fill.bin"
    local first count what sector zero512
    while read -r first count what; do
        if [[ $what == fill ]]; then
            want=$(dd if="$LAB_STAGE/fill.bin" bs=512 skip=$((first - 98328)) count="$count" 2>/dev/null | sha256sum | cut -d' ' -f1)
        else
            want=$(head -c $((count * 512)) /dev/zero | sha256sum | cut -d' ' -f1)
        fi
        got=$(dd if="$LAB_NVME_DISK" bs=512 skip="$first" count="$count" 2>/dev/null | sha256sum | cut -d' ' -f1)
        [[ $got == "$want" ]] || echo "nvme.img sectors $first-$((first + count - 1)): not $what as expected"
    done <<'EOF'
98328 2 fill
98330 20 zero
98350 4 fill
98360 16 zero
98378 14 fill
EOF
    # Inside the discarded range but in partly covered LBAs: the pattern (the discard shrinks to
    # whole blocks) or zero (a device may zero what it is told to discard), sector by sector.
    zero512=$(head -c 512 /dev/zero | sha256sum | cut -d' ' -f1)
    for sector in 98354 98355 98356 98357 98358 98359 98376 98377; do
        got=$(dd if="$LAB_NVME_DISK" bs=512 skip="$sector" count=1 2>/dev/null | sha256sum | cut -d' ' -f1)
        want=$(dd if="$LAB_STAGE/fill.bin" bs=512 skip=$((sector - 98328)) count=1 2>/dev/null | sha256sum | cut -d' ' -f1)
        [[ $got == "$want" || $got == "$zero512" ]] ||
            echo "nvme.img sector $sector (discarded, in a partly covered LBA): neither the pattern nor zero"
    done
    rm -f "$LAB_STAGE/fill.bin"
    out=$(fsck.ext4 -fn "$LAB_NVME_DISK" 2>&1)
    rc=$?
    ((rc == 0)) || echo "fsck.ext4 -fn exited $rc: $(echo "$out" | tr '\n' '|' | cut -c1-400)"
    want=$(nvme_4k512_file | sha256sum | cut -d' ' -f1)
    got=$(debugfs -R "cat /rmw.txt" "$LAB_NVME_DISK" 2>/dev/null | sha256sum | cut -d' ' -f1)
    l2=$(sed -n 's|^L2-SHA rmw.txt ||p' "$LAB_CONSOLE" | tail -n 1)
    [[ $got == "$want" ]] || echo "/rmw.txt in the image: sha256 $got, expected $want"
    [[ $l2 == "$want" ]] || echo "/rmw.txt as L2 read it: sha256 ${l2:-missing}, expected $want"
    got=$(sed -n 's/^L2-ODD-NEIGHBOURS nonzero=//p' "$LAB_CONSOLE" | tail -n 1)
    [[ $got == 0 ]] || echo "L2 read ${got:-no} non-zero bytes around the odd sector, expected 0"
    # The whole LBA inside the zeroed range went as a Write Zeroes, the discard as a DSM.
    local counters name count
    counters=$(grep -a -m 1 'nvme /dev/ng0n1: read=' "$LAB_CONSOLE")
    for name in dsm write_zeroes; do
        count=$(sed -n "s/.* $name=\([0-9]*\).*/\1/p" <<<"$counters")
        [[ ${count:-0} -gt 0 ]] || echo "nvmevm issued no NVMe $name commands: ${counters:-no counter line}"
    done
    lab_check_rmw_stats
    return 0
}
