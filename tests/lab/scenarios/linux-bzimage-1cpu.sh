# shellcheck shell=bash disable=SC2034  # the LAB_* variables are read by scripts/lab-run.sh
# nvmevm boots the Debian cloud kernel (bzImage, Linux boot protocol) with 1 vCPU; L2 reports and powers off (ACPI S5), so nvmevm must exit 0. Format: docs/lab.md "Writing a scenario".
LAB_DESCRIPTION="bzImage, 1 vCPU, poweroff -> exit 0"
# shellcheck source=tests/lab/linux-boot.sh
source "$lab_src/linux-boot.sh"
lab_linux_boot bzimage 1 poweroff 0
