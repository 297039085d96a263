# shellcheck shell=bash disable=SC2034  # the LAB_* variables are read by scripts/lab-run.sh
# Crash consistency with the NVMe passthrough engine: the drive is L1's /dev/ng0n1 (QEMU's
# emulated NVMe, ext4 the host made), engine = "nvme"; L1 checks the disk through /dev/nvme0n1.
# Otherwise as crash-uring: tests/lab/crash-consistency.sh; docs/robustness.md "Crash consistency".
cc_engine=nvme
# shellcheck source=tests/lab/crash-consistency.sh
source "$lab_src/crash-consistency.sh"
