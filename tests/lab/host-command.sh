# shellcheck shell=bash disable=SC2034  # the LAB_* variables are read by scripts/lab-run.sh
# The scenario behind scripts/lab-command.sh: one host command, run inside L1 as it would run
# on a host with a working /dev/kvm. No L2 Linux: whatever VM the command starts (nvmevm with
# the test guest) is L2. Not in scenarios/, so it is no ctest test of its own.
#
# Input, from scripts/lab-command.sh through the environment:
#   LAB_COMMAND_SH     the command as one line of POSIX shell words (already quoted)
#   LAB_COMMAND_FILES  newline-separated host paths the command needs (files or folders), put
#                      at the same paths in L1
#   LAB_COMMAND_ENV    newline-separated NAME=VALUE lines exported before the command
#   LAB_COMMAND_CWD    the folder to run it in (made in L1 if missing)
#
# L1 gets the host's bash and the host tools below at their host paths, and runs the command
# with /usr/bin first in PATH, so scripts see GNU tools as on the host rather than busybox's
# applets (which lack options such as df --output). dm-mod and loop are loaded, so a test that
# needs device-mapper has it. NVMEVM_IN_LAB=1 tells the command it runs in the lab (a test
# that finds no /dev/kvm even here fails instead of coming back).
# The verdict is the command's exit status: 0 passes; anything else, 77 (skipped) too, fails.
LAB_DESCRIPTION="host command in L1: ${LAB_COMMAND_SH:?LAB_COMMAND_SH is not set}"
LAB_L2_KERNEL=none
LAB_EXPECT_EXIT=0
LAB_EXPECT_MARKERS=()

# Host programs L1 gets (with their libraries), found by PATH on the host.
hc_tools=(bash awk sed grep cat cut date df head tail mkdir mktemp realpath rm seq sha256sum
  sleep sort stat timeout tr truncate wc tee ls cp mv dd cmp env basename dirname id find od
  losetup dmsetup mount umount)
for hc_tool in "${hc_tools[@]}"; do
    hc_path=$(command -v "$hc_tool" 2>/dev/null) || continue
    LAB_L1_HOST_FILES+=("$(realpath -s "$hc_path")")
done
# Debian's bash lives in /usr/bin (merged /usr); L1's /bin is busybox's, so a script's
# `#!/bin/bash` needs it there too.
[[ -x /bin/bash ]] && LAB_L1_HOST_FILES+=(/bin/bash)
while IFS= read -r hc_path; do
    [[ -n $hc_path ]] && LAB_L1_HOST_FILES+=("$hc_path")
done <<<"${LAB_COMMAND_FILES:-}"

# The kernel's own modules (lab-prepare.sh unpacks the package under root/).
hc_kmods=${LAB_MODDIR%/modules}/root/lib/modules/$LAB_KVER/kernel/drivers
LAB_L1_HOST_FILES+=("$hc_kmods/md/dm-mod.ko" "$hc_kmods/block/loop.ko")

lab_l1_run() {
    cat <<SH
insmod $hc_kmods/md/dm-mod.ko
insmod $hc_kmods/block/loop.ko
export PATH=/usr/local/bin:/usr/bin:/usr/sbin:/bin:/sbin
export NVMEVM_IN_LAB=1
SH
    local line
    while IFS= read -r line; do
        [[ -n $line ]] && printf 'export %s\n' "$line"
    done <<<"${LAB_COMMAND_ENV:-}"
    printf 'mkdir -p %s && cd %s || exit 1\n' "${LAB_COMMAND_CWD:-/}" "${LAB_COMMAND_CWD:-/}"
    # The command's output between two lines that scripts/lab-command.sh cuts out for ctest.
    cat <<SH
echo "LAB-COMMAND-OUTPUT-BEGIN"
$LAB_COMMAND_SH &
pid=\$!
trap 'kill -TERM \$pid' TERM INT
. /lab/lib.sh
lab_wait_passing_term "\$pid"
rc=\$?
echo "LAB-COMMAND-OUTPUT-END status=\$rc"
exit \$rc
SH
}
