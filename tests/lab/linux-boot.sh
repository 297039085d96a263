# shellcheck shell=bash disable=SC2034  # the LAB_* variables are read by scripts/lab-run.sh
# The boot scenarios' common part: nvmevm boots the Debian cloud kernel as L2 with a busybox
# initramfs; L2 reports (L2-UP, L2-CPUS=N, ...) and then powers off or reboots.
#   lab_linux_boot KERNEL VCPUS ACTION EXIT
# KERNEL: bzimage (Linux boot protocol) or vmlinux (PVH entry); ACTION: poweroff or reboot;
# EXIT: the nvmevm exit code the scenario expects (docs/exit-codes.md).
# shellcheck source=tests/lab/vm-config.sh
source "$lab_src/vm-config.sh"
lab_linux_boot() {
    LAB_L2_KERNEL=$1
    LAB_BOOT_VCPUS=$2
    LAB_BOOT_ACTION=$3
    LAB_EXPECT_EXIT=$4
    local marker
    marker=L2-$(tr '[:lower:]' '[:upper:]' <<<"$LAB_BOOT_ACTION")
    LAB_EXPECT_MARKERS=(L2-UP "L2-CPUS=$LAB_BOOT_VCPUS" "$marker")
}

lab_vm_config() {
    lab_vm_config_head $LAB_BOOT_VCPUS
}

lab_l2_init() {
    local marker
    marker=L2-$(tr '[:lower:]' '[:upper:]' <<<"$LAB_BOOT_ACTION")
    cat <<SH
l2_report
echo "$marker"
$LAB_BOOT_ACTION -f
l2_stuck $LAB_BOOT_ACTION
SH
}
