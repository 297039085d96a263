# shellcheck shell=bash disable=SC2034  # the LAB_* variables are read by scripts/lab-run.sh
# nvmevm boots the Debian cloud kernel (bzImage) with 2 vCPUs (the guest must report both online); L2 powers off, so nvmevm must exit 0. Format: docs/lab.md "Writing a scenario".
LAB_DESCRIPTION="bzImage, 2 vCPUs, poweroff -> exit 0"
# shellcheck source=tests/lab/linux-boot.sh
source "$lab_src/linux-boot.sh"
lab_linux_boot bzimage 2 poweroff 0
