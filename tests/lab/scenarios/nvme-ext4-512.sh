# shellcheck shell=bash disable=SC2034  # the LAB_* variables are read by scripts/lab-run.sh
# nvmevm's NVMe passthrough engine under ext4. The host formats an ext4 image that QEMU gives L1
# as an emulated NVMe namespace with 512-byte LBAs; nvmevm serves L1's /dev/ng0n1 with
# engine = "nvme" to L2 (2 vCPUs) as its virtio-blk /dev/vda, every request an NVMe command on
# io_uring (URING_CMD), no block layer in L1. L2 does what blk-ext4-2cpu does (files from both
# vCPUs, O_DIRECT, sync, fstrim; that scenario's L2 script and host checks are reused, run
# against the NVMe image). On top: nvmevm's per-opcode counters must show flush, Dataset
# Management and the reads and writes; QEMU's pci_nvme_io_cmd trace must show the same opcodes
# reaching the controller; nvmevm has no io_uring worker (iou-wrk) threads while L2 runs.
# Format: docs/lab.md "Writing a scenario"; the engine: docs/nvme.md.
# shellcheck source=tests/lab/scenarios/blk-ext4-2cpu.sh
# shellcheck source=tests/lab/vm-config.sh
source "$lab_src/vm-config.sh"
source "$(dirname "${BASH_SOURCE[0]}")/blk-ext4-2cpu.sh"

LAB_DESCRIPTION="NVMe passthrough: ext4 on L1's /dev/ng0n1 (${LAB_NVME_LBS:-512} B LBAs), 2 vCPUs, files + O_DIRECT + fstrim, NVMe opcodes counted"
LAB_L1_NVME=1
LAB_NVME_DISK_MIB=64
LAB_QEMU_TRACE="pci_nvme_io_cmd"
# The image is formatted with lazy inode table init and mounted with init_itable=0, so that L2's
# ext4lazyinit thread zeroes the inode tables at once: blkdev_issue_zeroout, i.e. virtio-blk
# WRITE_ZEROES, i.e. NVMe Write Zeroes. (nodiscard: mke2fs would otherwise punch the file and
# mark the tables zeroed.)
LAB_BLK_MOUNT_OPTS=init_itable=0
LAB_EXPECT_MARKERS+=(L1-NVME-NG=present "engine nvme" "nvme /dev/ng0n1: read=")
LAB_FORBID_MARKERS+=("NVMe status" "flush at stop failed")

nvme_ext4_block_size() { echo 4096; }

lab_host_prepare() {
    command -v mkfs.ext4 >/dev/null || { echo "mkfs.ext4 missing: install e2fsprogs" >&2; return 1; }
    mkfs.ext4 -F -q -b "$(nvme_ext4_block_size)" -L labext4 \
        -E lazy_itable_init=1,lazy_journal_init=0,nodiscard "$LAB_NVME_DISK"
}

lab_vm_config() {
    lab_vm_config_head 2
    lab_nvme_drive
}

lab_l1_run() {
    cat <<'SH'
. /lab/lib.sh
lab_report_nvme_ng
q=/sys/block/nvme0n1/queue
echo "L1-NVME-QUEUE lbs=$(cat $q/logical_block_size) max_hw_kb=$(cat $q/max_hw_sectors_kb) max_segs=$(cat $q/max_segments) discard_max=$(cat $q/discard_max_bytes) wc=$(cat $q/write_cache)"
lab_run_nvmevm /nvmevm run --log-level info --config /lab/vm.toml
SH
}

# The blk scenario's host checks, on the NVMe image, plus the NVMe evidence.
nvme_ext4_host_check() {
    LAB_DISK=$LAB_NVME_DISK _blk_ext4_host_check
    local counters opcode name count
    counters=$(grep -a -m 1 'nvme /dev/ng0n1: read=' "$LAB_CONSOLE")
    for name in read write flush dsm write_zeroes; do
        count=$(sed -n "s/.* $name=\([0-9]*\).*/\1/p" <<<"$counters")
        [[ ${count:-0} -gt 0 ]] || echo "nvmevm issued no NVMe $name commands: ${counters:-no counter line}"
    done
    [[ -s $LAB_QEMU_TRACE_LOG ]] || { echo "no QEMU trace in $LAB_QEMU_TRACE_LOG"; return; }
    # pci_nvme_io_cmd: "... opc 0x2 opname 'NVME_NVM_CMD_READ'": every opcode must reach QEMU.
    for opcode in 0x0 0x1 0x2 0x8 0x9; do
        count=$(grep -c "opc $opcode " "$LAB_QEMU_TRACE_LOG" || true)
        [[ $count -gt 0 ]] || echo "QEMU saw no NVMe command with opcode $opcode"
    done
    grep -a 'L1-NVMEVM-TASKS=' "$LAB_CONSOLE" | grep -q 'iou-wrk' &&
        echo "nvmevm had io_uring worker threads: $(grep -a 'L1-NVMEVM-TASKS=' "$LAB_CONSOLE" | tr '\n' ' ')"
    return 0
}
eval "$(declare -f lab_host_check | sed '1s/lab_host_check/_blk_ext4_host_check/')"
lab_host_check() { nvme_ext4_host_check; }
