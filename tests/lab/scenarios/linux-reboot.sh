# shellcheck shell=bash disable=SC2034  # the LAB_* variables are read by scripts/lab-run.sh
# L2 reboots (reboot=k: the kernel resets through the i8042 keyboard controller), so nvmevm must exit 3 (reset) rather than restart the guest. Format: docs/lab.md "Writing a scenario".
LAB_DESCRIPTION="bzImage, 1 vCPU, reboot -f -> exit 3"
# shellcheck source=tests/lab/linux-boot.sh
source "$lab_src/linux-boot.sh"
lab_linux_boot bzimage 1 reboot 3
