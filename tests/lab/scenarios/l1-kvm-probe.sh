# shellcheck shell=bash disable=SC2034  # the LAB_* variables are read by scripts/lab-run.sh
# No nvmevm: proves the lab itself works. L1 boots, loads kvm-amd, and tests/lab/l1-kvm-probe.c
# runs a tiny real-mode guest on L1's /dev/kvm. L1 also writes to the two disks the host gives
# it (virtio-blk /dev/vda, NVMe /dev/nvme0n1) and the host finds the bytes in the image files.
# Format: docs/lab.md "Writing a scenario".
LAB_DESCRIPTION="L1 boots, /dev/kvm runs a real-mode guest, L1's disks reach the host"
LAB_L2_KERNEL=none
LAB_L1_NVME=1
LAB_EXPECT_EXIT=0
LAB_EXPECT_MARKERS=(LAB-KVM=present LAB-KVM-PROBE=ok "LAB-L1-DISKS=nvme0n1 vda")

# What L1 runs instead of the default "exec /nvmevm run --config /lab/vm.toml".
lab_l1_run() {
    cat <<'SH'
set -e
ls -l /dev/kvm /dev/vda /dev/nvme0n1 /dev/ng0n1
echo lab-vda-ok | dd of=/dev/vda bs=512 conv=sync,fsync 2>/dev/null
echo lab-nvme-ok | dd of=/dev/nvme0n1 bs=512 conv=sync,fsync 2>/dev/null
exec /bin/l1-kvm-probe
SH
}

# Runs on the host after QEMU exits; prints one line per problem.
lab_host_check() {
    [[ $(head -c 10 "$LAB_DISK") == lab-vda-ok ]] || echo "virtio-blk image lacks what L1 wrote"
    [[ $(head -c 11 "$LAB_NVME_DISK") == lab-nvme-ok ]] || echo "NVMe image lacks what L1 wrote"
}
