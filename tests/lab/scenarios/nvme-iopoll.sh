# shellcheck shell=bash disable=SC2034  # the LAB_* variables are read by scripts/lab-run.sh
# `poll = true` on an NVMe passthrough drive, on L1's Linux 6.1. Polling passthrough commands
# crashes that kernel: a run of the ext4 workload with poll = true ended in "general protection
# fault ... RIP: bio_poll" from nvme_ns_chr_uring_cmd_iopoll, in nvmevm's io_uring_enter (a
# use-after-free Linux fixed in 6.6; nvme/iopoll_safety.h). So nvmevm must refuse the drive
# there, with one clear message and exit 1, before any VM starts, even though L1's NVMe driver
# has a poll queue (nvme.poll_queues=1 through LAB_L1_CMDLINE_EXTRA). The polled path itself
# (second ring with IORING_SETUP_IOPOLL, the 20 µs tick) is what docs/nvme.md describes for
# Linux 6.6 and later. Format: docs/lab.md "Writing a scenario".
# shellcheck source=tests/lab/vm-config.sh
source "$lab_src/vm-config.sh"
LAB_DESCRIPTION="NVMe passthrough with poll = true on Linux 6.1: refused (the kernel's iopoll use-after-free)"
LAB_L2_KERNEL=bzimage
LAB_EXPECT_EXIT=1
LAB_L1_NVME=1
LAB_L1_CMDLINE_EXTRA="nvme.poll_queues=1"
LAB_EXPECT_MARKERS=(L1-NVME-NG=present "L1-NVME-POLL poll_queues=1 io_poll=1"
  "nvmevm: error: drive nvme: poll = true: Linux 6.1 can crash while polling NVMe passthrough"
  "L1-NOPOLL-CHECK rc=0")
LAB_FORBID_MARKERS+=("VM ready" "general protection fault")

lab_vm_config() {
    lab_vm_config_head 2
    lab_nvme_drive "poll = true"
}

lab_l1_run() {
    cat <<'SH'
. /lab/lib.sh
lab_report_nvme_ng
echo "L1-NVME-POLL poll_queues=$(cat /sys/module/nvme/parameters/poll_queues) io_poll=$(cat /sys/block/nvme0n1/queue/io_poll)"
/nvmevm run --log-level info --config /lab/vm.toml
status=$?
# The same drive without poll still works on this kernel afterwards.
sed '/^poll = true$/d' /lab/vm.toml >/tmp/nopoll.toml
/nvmevm check --config /tmp/nopoll.toml
echo "L1-NOPOLL-CHECK rc=$?"
exit $status
SH
}

# Never reached (nvmevm refuses the drive before the VM starts); the kernel is there for the
# config's [boot] table.
lab_l2_init() {
    cat <<'SH'
poweroff -f
SH
}
