# shellcheck shell=bash disable=SC2034  # the LAB_* variables are read by scripts/lab-run.sh
# A GPT disk with 512-byte sectors and an ext4 with 1 KiB blocks, on a 4 KiB-LBA NVMe namespace
# that nvmevm presents with logical_block_size = 512 (its read-modify-write, docs/nvme.md).
# The host partitions nvme.img with sfdisk (GPT, 512-byte sectors, one partition at sector 2048)
# and puts an ext4 with 1 KiB blocks in the partition; QEMU gives it to L1 as a namespace with
# 4 KiB LBAs, and nvmevm serves L1's /dev/ng0n1 with engine = "nvme" to L2 (2 vCPUs, 2 queues).
# L2 must see 512-byte logical and 4 KiB physical blocks and /dev/vda1, mount it read-write
# (discard, init_itable=0: ext4's lazy init zeroes the inode tables with Write Zeroes of 1 KiB
# blocks, most of them misaligned), write files of several sizes (most no multiple of 4 KiB, one
# appended to in 700-byte steps) from both vCPUs at once, each fsync'd, plus an O_DIRECT file,
# delete a file and run fstrim (discards of 1 KiB blocks, which nvmevm shrinks to the whole
# 4 KiB blocks inside), print each file's sha256 after dropping the page cache, and unmount. Then Debian's fio (LAB_L2_BINARIES) runs two jobs, one
# per vCPU, of O_DIRECT random writes of 512 B to 64 KiB at 512-byte offsets on /dev/vda past
# the partition, each verified with crc32c. On the host the partition table must still verify,
# fsck.ext4 -fn must find the partition clean and every file read with debugfs must have the
# contents L2 wrote and the checksum L2 printed; nvmevm's counters must show NVMe Dataset
# Management and Write Zeroes commands, its exit line requests served by read-modify-write
# (blk_rmw) and no errors.
# file-4k-gpt-ext4-1k does the same on a file served by io_uring; it sources this file.
# Format: docs/lab.md "Writing a scenario". Needs sfdisk (fdisk), e2fsprogs and fio on the host.
# shellcheck source=tests/lab/vm-config.sh
source "$lab_src/vm-config.sh"
LAB_DESCRIPTION="NVMe passthrough, 4 KiB LBAs as 512-byte sectors: GPT + ext4 with 1 KiB blocks, files from 2 vCPUs, fio verify"
LAB_L2_KERNEL=bzimage
LAB_EXPECT_EXIT=0
LAB_L1_NVME=1
LAB_NVME_LBS=4096
LAB_NVME_DISK_MIB=64
# 73 s on an idle 2-core machine, 182 s with a load average of 5 (fio's 84 MB of libraries take
# L2's kernel most of that to unpack): more than the default 240 s leaves L1 (180 s).
LAB_TIMEOUT_S=330
# Debian's fio in L2 (GPT_FIO=0 in a sourcing scenario leaves it out: its 84 MB of libraries
# cost L2 about 17 s of TCG to unpack).
GPT_FIO=${GPT_FIO:-1}
GPT_MEMORY_MIB=256
if ((GPT_FIO)); then
    LAB_L2_BINARIES=(/usr/bin/fio)
    GPT_MEMORY_MIB=512
fi

# The GPT image: 64 MiB of 512-byte sectors, partition 1 at GPT_PART_START (1 MiB unless the
# sourcing scenario says otherwise) for GPT_PART_SECTORS.
GPT_DISK_MIB=64
GPT_PART_START=${GPT_PART_START:-2048}
GPT_PART_SECTORS=81920
# fio's region, past the partition (which ends at 41 MiB) and before the backup GPT: job 0 at
# 48 MiB + 512, job 1 4 MiB + 512 further; the two share the 4 KiB block between them.
GPT_FIO_OFFSET=$(((48 << 20) + 512))
GPT_FIO_SIZE=$((4 << 20))
GPT_FIO_INCREMENT=$(((4 << 20) + 512))
GPT_FIO_BSRANGE=512-64k
GPT_FIO_ALIGN=512

LAB_EXPECT_MARKERS=(L2-UP L2-CPUS=2 "presenting 512-byte sectors on 4096-byte blocks"
  "L2-VDA-BLOCKS lbs=512 pbs=4096 min_io=4096" L2-MQ-QUEUES=2
  "L2-VDA1=present start=$GPT_PART_START size=$GPT_PART_SECTORS" L2-MOUNT=ok L2-EXT4-BLOCK=1024
  L2-WRITES=ok L2-DIRECT=ok L2-UMOUNT=ok L2-MQ-BOTH-USED=yes L2-POWEROFF)
((GPT_FIO)) && LAB_EXPECT_MARKERS+=(L2-FIO-VERIFY=ok)
LAB_FORBID_MARKERS+=(L2-FAIL= L2-STUCK-REQUESTS L2-FIO-VERIFY=failed "not aligned to the backing's logical block"
  "I/O error" "EXT4-fs error" "EXT4-fs warning")
# This scenario's drive: the namespace through passthrough (a scenario that sources this file
# with GPT_BACKING=file sets its own).
if [[ ${GPT_BACKING:-nvme} == nvme ]]; then
    LAB_EXPECT_MARKERS+=(L1-NVME-NG=present "L1-NVME-QUEUE lbs=4096" "engine nvme" "nvme /dev/ng0n1: read=")
    LAB_FORBID_MARKERS+=("NVMe status" "flush at stop failed")
fi

# The files L2 writes: vCPU, name, and the busybox pipeline that makes its contents (sizes: 37,
# 5000, 70001, 3 MiB, 7000 in ten appends; 1000, 4096, 1 MiB + 513, 12345; 256 KiB O_DIRECT).
# The host runs the same pipelines with its busybox to know what the image must hold.
gpt_files() {
    cat <<'EOF'
0 tiny.txt busybox yes tiny | busybox head -c 37
0 five.txt busybox seq 1 2000 | busybox head -c 5000
0 mid.txt busybox seq -w 3 3 60000 | busybox head -c 70001
0 large.bin busybox yes nvmevm-rmw-large-0123456789 | busybox head -c 3145728
0 append.txt for i in 1 2 3 4 5 6 7 8 9 10; do busybox yes "append-$i" | busybox head -c 700; done
1 odd1k.txt busybox seq 5 5 2000 | busybox head -c 1000
1 page.bin busybox yes page-4096 | busybox head -c 4096
1 big.txt busybox seq 100000 300000 | busybox head -c 1049089
1 dir/nested.txt busybox seq -s , 1 20000 | busybox head -c 12345
- direct.bin busybox yes fedcba9876543210 | busybox head -c 262144
EOF
}

# gpt_make_image IMG STAGE: the GPT disk image, its partition's ext4 made as a file of its own
# and copied in at the partition's offset.
gpt_make_image() {
    local img=$1 part=$2/part-in.img tool
    for tool in sfdisk mkfs.ext4; do
        command -v "$tool" >/dev/null || { echo "$tool missing: run scripts/install-deps.sh" >&2; return 1; }
    done
    truncate -s "${GPT_DISK_MIB}M" "$img"
    printf 'label: gpt\nstart=%s, size=%s, type=linux, name=labrmw\n' "$GPT_PART_START" "$GPT_PART_SECTORS" |
        sfdisk -q "$img" || return 1
    rm -f "$part"
    truncate -s $((GPT_PART_SECTORS * 512)) "$part"
    # Lazy inode table init (nodiscard: mke2fs would otherwise punch the file and mark the
    # tables zeroed), for L2's ext4lazyinit thread to zero them.
    mkfs.ext4 -F -q -b 1024 -L labgpt1k -E lazy_itable_init=1,lazy_journal_init=0,nodiscard "$part" || return 1
    dd if="$part" of="$img" bs=1M seek=$((GPT_PART_START * 512)) oflag=seek_bytes conv=notrunc,sparse status=none
    rm -f "$part"
    sfdisk -d "$img" | grep '^[^ ]*1 :' >"$2/gpt-partition.txt"
}

lab_host_prepare() {
    gpt_make_image "$LAB_NVME_DISK" "$LAB_STAGE"
}

lab_vm_config() {
    lab_vm_config_head 2 "$GPT_MEMORY_MIB"
    lab_nvme_drive "logical_block_size = 512" "queues = 2"
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
    cat <<SH
fio_offset=$GPT_FIO_OFFSET
fio_size=$GPT_FIO_SIZE
fio_increment=$GPT_FIO_INCREMENT
fio_bsrange=$GPT_FIO_BSRANGE
fio_align=$GPT_FIO_ALIGN
SH
    # One writer script per vCPU: each file written and fsync'd (dd conv=fsync).
    local cpu c name cmd
    for cpu in 0 1; do
        echo "cat >/tmp/writer$cpu.sh <<'EOF'"
        while read -r c name cmd; do
            [[ $c == "$cpu" ]] || continue
            if [[ $name == append.txt ]]; then
                # Ten appends, each its own open, write and fsync.
                echo "for i in 1 2 3 4 5 6 7 8 9 10; do yes \"append-\$i\" | head -c 700 | dd of=/mnt/$name oflag=append conv=notrunc,fsync 2>/dev/null || exit 1; done"
            else
                echo "${cmd//busybox /} | dd of=/mnt/$name conv=fsync 2>/dev/null || exit 1"
            fi
        done < <(gpt_files)
        echo "EOF"
    done
    echo "files='$(gpt_files | awk '{ printf "%s ", $2 }')'"
    cat <<'SH'
l2_report
fail() { echo "L2-FAIL=$*"; umount /mnt 2>/dev/null; poweroff -f; l2_stuck poweroff; }
[ -b /dev/vda ] || fail "no /dev/vda"
q=/sys/block/vda/queue
echo "L2-VDA-BLOCKS lbs=$(cat $q/logical_block_size) pbs=$(cat $q/physical_block_size) min_io=$(cat $q/minimum_io_size) discard_gran=$(cat $q/discard_granularity) size=$(blockdev --getsize64 /dev/vda)"
echo "L2-MQ-QUEUES=$(ls /sys/block/vda/mq | wc -l)"
[ -b /dev/vda1 ] || fail "no /dev/vda1"
echo "L2-VDA1=present start=$(cat /sys/block/vda/vda1/start) size=$(cat /sys/block/vda/vda1/size) alignment_offset=$(cat /sys/block/vda/vda1/alignment_offset)"
l2_watch_stuck_requests  # tests/lab/l2-prologue.sh
mkdir -p /mnt
mount -t ext4 -o discard,init_itable=0 /dev/vda1 /mnt && echo "L2-MOUNT=ok" || fail "mount /dev/vda1"
echo "L2-EXT4-BLOCK=$(stat -f -c %S /mnt)"
echo "L2-IO-START uptime=$(cut -d' ' -f1 /proc/uptime)"
mkdir -p /mnt/dir
# Two writers at once, one pinned to each vCPU: each vCPU submits on its own queue.
taskset 1 sh /tmp/writer0.sh &
w0=$!
taskset 2 sh /tmp/writer1.sh &
w1=$!
wait $w0 && wait $w1 && echo "L2-WRITES=ok" || fail "writes"
# O_DIRECT: 4 KiB writes through the page cache's back, read back the same way.
yes fedcba9876543210 | head -c 262144 >/tmp/direct.src
dd if=/tmp/direct.src of=/mnt/direct.bin bs=4096 oflag=direct conv=fsync 2>/dev/null || fail "O_DIRECT write"
want=$(sha256sum </tmp/direct.src | cut -d' ' -f1)
got=$(dd if=/mnt/direct.bin bs=4096 iflag=direct 2>/dev/null | sha256sum | cut -d' ' -f1)
[ "$want" = "$got" ] && echo "L2-DIRECT=ok" || echo "L2-DIRECT=mismatch want=$want got=$got"
# A file to delete: its 1 KiB blocks are discarded at the next commit (-o discard).
yes LABTRASH-0123456789 | head -c 1049600 >/mnt/trash.bin
sync
rm /mnt/trash.bin
sync
echo "L2-FSTRIM=$(fstrim -v /mnt 2>&1 | tr '\n' ' ')"
echo 3 >/proc/sys/vm/drop_caches
for f in $files; do
    echo "L2-SHA $f $(sha256sum </mnt/$f | cut -d' ' -f1) size=$(stat -c %s /mnt/$f)"
done
echo "L2-IO-END uptime=$(cut -d' ' -f1 /proc/uptime)"
# ext4's lazy init thread zeroes the inode tables in the background: let it finish (up to 30 s).
for _ in $(seq 60); do grep -qs ext4lazyinit /proc/[0-9]*/comm || break; sleep 0.5; done
echo "L2-LAZYINIT-DONE uptime=$(cut -d' ' -f1 /proc/uptime)"
umount /mnt && echo "L2-UMOUNT=ok" || fail "umount"
# Debian's fio: two jobs, one per vCPU, O_DIRECT random writes of 512 B to 64 KiB at 512-byte
# offsets, every block verified (crc32c) after the writes.
if [ -x /usr/bin/fio ]; then
    echo "L2-FIO-START uptime=$(cut -d' ' -f1 /proc/uptime)"
    fio --name=rmw --filename=/dev/vda --direct=1 --ioengine=libaio --iodepth=4 --thread \
        --rw=randwrite --bsrange=$fio_bsrange --blockalign=$fio_align --verify=crc32c --verify_fatal=1 \
        --numjobs=2 --cpus_allowed=0,1 --cpus_allowed_policy=split \
        --offset=$fio_offset --size=$fio_size --offset_increment=$fio_increment >/tmp/fio.out 2>&1
    rc=$?
    grep -E 'err=|issued rwts|verify|WRITE:|READ:|error' /tmp/fio.out | sed 's/^/L2-FIO| /'
    if [ "$rc" = 0 ] && ! grep -q 'err= *[1-9]' /tmp/fio.out; then
        echo "L2-FIO-VERIFY=ok"
    else
        tail -n 20 /tmp/fio.out | sed 's/^/L2-FIO| /'
        echo "L2-FIO-VERIFY=failed rc=$rc"
    fi
    echo "L2-FIO-END uptime=$(cut -d' ' -f1 /proc/uptime)"
else
    echo "L2-FIO-NOT-IN-INITRAMFS"
fi
grep -i virtio /proc/interrupts | sed 's/^/L2-IRQ /' | tr -s ' '
l2_report_queues_used  # tests/lab/l2-prologue.sh
echo "L2-POWEROFF"
poweroff -f
l2_stuck poweroff
SH
}

# gpt_check_image IMG: prints one line per problem with the GPT image L2 used (partition table,
# fsck of the partition, every file against its pipeline and against what L2 printed).
gpt_check_image() {
    local img=$1 part=$LAB_STAGE/part-out.img out rc c name cmd want got l2
    [[ -f $img ]] || { echo "no image $img to check"; return 0; }
    out=$(sfdisk -V "$img" 2>&1) || echo "sfdisk -V: $(echo "$out" | tr '\n' '|')"
    got=$(sfdisk -d "$img" 2>/dev/null | grep '^[^ ]*1 :')
    [[ ${got#*:} == "$(cut -d: -f2- "$LAB_STAGE/gpt-partition.txt")" ]] ||
        echo "partition 1 changed: '$got', was '$(cat "$LAB_STAGE/gpt-partition.txt")'"
    dd if="$img" of="$part" bs=1M skip=$((GPT_PART_START * 512)) count=$((GPT_PART_SECTORS * 512)) \
        iflag=skip_bytes,count_bytes status=none
    out=$(fsck.ext4 -fn "$part" 2>&1)
    rc=$?
    ((rc == 0)) || echo "fsck.ext4 -fn of partition 1 exited $rc: $(echo "$out" | tr '\n' '|' | cut -c1-400)"
    while read -r c name cmd; do
        want=$(bash -c "$cmd" | sha256sum | cut -d' ' -f1)
        got=$(debugfs -R "cat /$name" "$part" 2>/dev/null | sha256sum | cut -d' ' -f1)
        l2=$(sed -n "s|^L2-SHA $name \([0-9a-f]*\) .*|\1|p" "$LAB_CONSOLE" | tail -n 1)
        [[ $got == "$want" ]] || echo "/$name in partition 1: sha256 $got, expected $want"
        [[ $l2 == "$want" ]] || echo "/$name as L2 read it: sha256 ${l2:-missing}, expected $want"
    done < <(gpt_files)
    rm -f "$part"
}

lab_host_check() {
    gpt_check_image "$LAB_NVME_DISK"
    lab_check_rmw_stats
    local counters name count
    counters=$(grep -a -m 1 'nvme /dev/ng0n1: read=' "$LAB_CONSOLE")
    for name in read write flush dsm write_zeroes; do
        count=$(sed -n "s/.* $name=\([0-9]*\).*/\1/p" <<<"$counters")
        [[ ${count:-0} -gt 0 ]] || echo "nvmevm issued no NVMe $name commands: ${counters:-no counter line}"
    done
    return 0
}
