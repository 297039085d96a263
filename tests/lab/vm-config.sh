# shellcheck shell=bash
# lab_vm_config_head VCPUS [MEMORY_MIB]: the [machine], [boot] and [console] tables that every
# scenario's nvmevm config starts with; L2's kernel, initrd and command line come from
# scripts/lab-run.sh. A scenario's lab_vm_config appends its own tables ([[drive]]s) after it.
lab_vm_config_head() {
    cat <<TOML
[machine]
vcpus = $1
memory_mib = ${2:-256}

[boot]
kernel = "$LAB_L2_KERNEL_PATH"
initrd = "$LAB_L2_INITRD_PATH"
cmdline = "$LAB_L2_CMDLINE"

[console]
output = "stdout"
TOML
}

# lab_check_rmw_stats: from lab_host_check, one line per problem with nvmevm's exit line:
# requests served by the 512-byte emulation (blk_rmw) and no errors (docs/sector-emulation.md).
lab_check_rmw_stats() {
    local stats rmw errors
    stats=$(grep -a -m 1 'nvmevm: info: stats:' "$LAB_CONSOLE")
    rmw=$(sed -n 's/.* blk_rmw=\([0-9]*\).*/\1/p' <<<"$stats")
    errors=$(sed -n 's/.* blk_errors=\([0-9]*\).*/\1/p' <<<"$stats")
    [[ ${rmw:-0} -gt 0 ]] || echo "nvmevm served no request by read-modify-write: ${stats:-no stats line}"
    [[ ${errors:-} == 0 ]] || echo "nvmevm counted blk_errors=${errors:-?}: ${stats:-no stats line}"
}

# lab_nvme_drive [KEY = VALUE]...: the [[drive]] table for L1's NVMe namespace served through
# passthrough (/dev/ng0n1, engine "nvme"), with any extra lines after it.
lab_nvme_drive() {
    cat <<TOML

[[drive]]
id = "nvme"
path = "/dev/ng0n1"
engine = "nvme"
TOML
    [ $# -eq 0 ] || printf '%s\n' "$@"
}
