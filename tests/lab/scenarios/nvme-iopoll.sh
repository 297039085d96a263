# shellcheck shell=bash disable=SC2034  # the LAB_* variables are read by scripts/lab-run.sh
# nvme-ext4-512 with polled completions: the drive has poll = true, so nvmevm issues its NVMe
# commands on a second io_uring per vCPU made with IORING_SETUP_IOPOLL and reaps them by polling
# from the vCPU threads (docs/nvme.md, "Polled completions"). L1 boots with nvme.poll_queues=1
# (LAB_L1_CMDLINE_EXTRA), so the NVMe driver has a poll queue and the commands are polled on the
# device itself. Everything nvme-ext4-512 checks (files, O_DIRECT, fstrim, fsck, counters, QEMU
# trace, no iou-wrk thread) plus: L1 has poll queues, nvmevm says it polls on them, and its
# counters show that the commands went through the polled ring (polled= at least read + write).
# Format: docs/lab.md "Writing a scenario".
# shellcheck source=tests/lab/scenarios/nvme-ext4-512.sh
source "$(dirname "${BASH_SOURCE[0]}")/nvme-ext4-512.sh"
LAB_DESCRIPTION="NVMe passthrough with poll = true (IOPOLL ring, nvme.poll_queues=1 in L1): ext4 on L1's /dev/ng0n1, 2 vCPUs"
LAB_L1_CMDLINE_EXTRA="nvme.poll_queues=1"
LAB_EXPECT_MARKERS+=("L1-NVME-POLL poll_queues=1 io_poll=1" "polled completions, IORING_SETUP_IOPOLL"
  "polled completions on the NVMe driver's poll queues" "polled=")

lab_vm_config() {
    lab_vm_config_head 2
    cat <<TOML

[[drive]]
id = "nvme"
path = "/dev/ng0n1"
engine = "nvme"
poll = true
TOML
}

lab_l1_run() {
    cat <<'SH'
. /lab/lib.sh
[ -c /dev/ng0n1 ] && echo "L1-NVME-NG=present" || echo "L1-NVME-NG=missing"
echo "L1-NVME-POLL poll_queues=$(cat /sys/module/nvme/parameters/poll_queues) io_poll=$(cat /sys/block/nvme0n1/queue/io_poll)"
lab_run_nvmevm /nvmevm run --log-level info --config /lab/vm.toml
SH
}

lab_host_check() {
    nvme_ext4_host_check
    local counters polled read write
    counters=$(grep -a -m 1 'nvme /dev/ng0n1: read=' "$LAB_CONSOLE")
    polled=$(sed -n 's/.* polled=\([0-9]*\).*/\1/p' <<<"$counters")
    read=$(sed -n 's/.* read=\([0-9]*\).*/\1/p' <<<"$counters")
    write=$(sed -n 's/.* write=\([0-9]*\).*/\1/p' <<<"$counters")
    [[ ${polled:-0} -gt 0 && ${polled:-0} -ge $((${read:-0} + ${write:-0})) ]] ||
        echo "the polled ring carried ${polled:-no} commands of ${read:-?} reads and ${write:-?} writes: ${counters:-no counter line}"
    return 0
}
