# shellcheck shell=bash disable=SC2034  # the LAB_* variables are read by scripts/lab-run.sh
# No nvmevm: the host's QEMU, copied into L1, boots L2 on L1's /dev/kvm. Proves the lab's L2
# kernel, initramfs and console path work under nested KVM, and gives a time to compare nvmevm
# with. Format: docs/lab.md "Writing a scenario".
LAB_DESCRIPTION="reference: QEMU -enable-kvm inside L1 boots L2 (bzImage, 2 vCPUs)"
LAB_L2_KERNEL=bzimage
LAB_EXPECT_EXIT=0
LAB_EXPECT_MARKERS=(L2-UP L2-CPUS=2 L2-POWEROFF)
LAB_L1_HOST_FILES=(/usr/bin/qemu-system-x86_64 /usr/share/qemu /usr/share/seabios)

lab_vm_config() {
    cat <<TOML
[machine]
vcpus = 2
memory_mib = 256
TOML
}

lab_l1_run() {
    cat <<SH
exec qemu-system-x86_64 -M q35 -enable-kvm -cpu host -m 256 -smp 2 -nodefaults -display none \\
    -no-reboot -serial stdio -kernel $LAB_L2_KERNEL_PATH -initrd $LAB_L2_INITRD_PATH \\
    -append "$LAB_L2_CMDLINE"
SH
}

lab_l2_init() {
    cat <<'SH'
l2_report
echo "L2-POWEROFF"
poweroff -f
l2_stuck poweroff
SH
}

# QEMU exits 0 whether L2 powered off or reset (-no-reboot), so check the kernels' own words:
# L2 powers down first, then L1.
lab_host_check() {
    local n
    n=$(grep -c 'reboot: Power down' "$LAB_CONSOLE" || true)
    [[ $n -eq 2 ]] || echo "expected 2 'reboot: Power down' lines (L2, then L1), saw $n"
}
