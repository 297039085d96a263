# shellcheck shell=bash disable=SC2034  # the LAB_* variables are read by scripts/lab-run.sh
# L2 reboots (reboot=k: the kernel resets through the i8042 keyboard controller), so nvmevm must
# exit 3 (reset) rather than restart the guest. Format: docs/lab.md "Writing a scenario".
LAB_DESCRIPTION="bzImage, 1 vCPU, reboot -f -> exit 3"
LAB_L2_KERNEL=bzimage
LAB_EXPECT_EXIT=3
LAB_EXPECT_MARKERS=(L2-UP L2-CPUS=1 L2-REBOOT)

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
echo "L2-REBOOT"
reboot -f
l2_stuck reboot
SH
}
