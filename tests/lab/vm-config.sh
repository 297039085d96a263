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
