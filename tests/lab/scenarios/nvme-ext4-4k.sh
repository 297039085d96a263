# shellcheck shell=bash disable=SC2034  # the LAB_* variables are read by scripts/lab-run.sh
# nvme-ext4-512 on a namespace with 4 KiB LBAs (QEMU's nvme-ns device, logical_block_size=4096):
# nvmevm advertises blk_size 4096, so L2's requests come in whole 4 KiB blocks, each one NVMe
# LBA. Everything else (files, O_DIRECT, fstrim, counters, QEMU trace, no iou-wrk) as there.
LAB_NVME_LBS=4096
# shellcheck source=tests/lab/scenarios/nvme-ext4-512.sh
source "$(dirname "${BASH_SOURCE[0]}")/nvme-ext4-512.sh"
LAB_EXPECT_MARKERS+=("L2-VDA-QUEUE lbs=4096")
