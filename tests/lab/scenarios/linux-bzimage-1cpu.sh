# shellcheck shell=bash disable=SC2034  # the LAB_* variables are read by scripts/lab-run.sh
# nvmevm boots the Debian cloud kernel (bzImage, Linux boot protocol) with 1 vCPU; L2 reports
# and powers off (ACPI S5), so nvmevm must exit 0. Format: docs/lab.md "Writing a scenario".
LAB_DESCRIPTION="bzImage, 1 vCPU, poweroff -> exit 0"
LAB_L2_KERNEL=bzimage
LAB_EXPECT_EXIT=0
LAB_EXPECT_MARKERS=(L2-UP L2-CPUS=1 L2-POWEROFF)

lab_vm_config() {
    cat <<TOML
[machine]
vcpus = 1
memory_mib = 256

[boot]
kernel = "$LAB_L2_KERNEL_PATH"
initrd = "$LAB_L2_INITRD_PATH"
cmdline = "$LAB_L2_CMDLINE"

[console]
output = "stdout"
TOML
}

lab_l2_init() {
    cat <<'SH'
l2_report
echo "L2-POWEROFF"
poweroff -f
l2_stuck poweroff
SH
}
