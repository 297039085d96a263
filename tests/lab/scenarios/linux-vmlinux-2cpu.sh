# shellcheck shell=bash disable=SC2034  # the LAB_* variables are read by scripts/lab-run.sh
# nvmevm boots the Debian cloud kernel (ELF vmlinux, PVH entry) with 2 vCPUs; L2 reports and powers off, so nvmevm must exit 0. Format: docs/lab.md "Writing a scenario".
LAB_DESCRIPTION="ELF vmlinux (PVH), 2 vCPUs, poweroff -> exit 0"
# shellcheck source=tests/lab/linux-boot.sh
source "$lab_src/linux-boot.sh"
lab_linux_boot vmlinux 2 poweroff 0
