# shellcheck shell=bash disable=SC2034  # the LAB_* variables are read by scripts/lab-run.sh
# kvm.robustness.bad-sectors in the lab: the host running the kvm tests has no device-mapper, so
# tests/kvm/failing-backend.sh bad-sectors skips there; L1's kernel has it (dm-mod, loop). L1
# insmods dm-mod and loop and runs that same script with /nvmevm and the test guest:
# an 8 MiB file on a loop device under a device-mapper table whose sectors [8192, 8256) are an
# `error` target; the test guest reads the whole drive (exactly the 8 requests in the range must
# fail, exit 17, EIO logged near byte 4 MiB), then the first 4 MiB (no error, exit 16).
# No L2 Linux: the test guest is L2. The script's exit 77 (skipped) fails the scenario here.
# L1 gets the host's bash, dmsetup and util-linux losetup (busybox's has no --show), which
# shadows busybox's at /sbin/losetup. Format: docs/lab.md "Writing a scenario";
# the test: docs/robustness.md "Chosen bad sectors".
LAB_DESCRIPTION="kvm.robustness.bad-sectors in L1: device-mapper error target under the test guest's reads"
LAB_L2_KERNEL=none
LAB_EXPECT_EXIT=0
# Markers must not appear literally in run.sh: the log shows run.sh as the LAB-RUN line.
LAB_EXPECT_MARKERS=("L1-MODULES-LOADED=dm-mod loop" L1-DM-DRIVER=4. "L1-BAD-SECTORS guest errors=8 of 2048"
  "L1-BAD-SECTORS ok: bad-sectors" L1-BAD-SECTORS-RC=0)
LAB_FORBID_MARKERS+=("L1-BAD-SECTORS FAIL" ": skipped")
# The kernel's own modules (lab-prepare.sh unpacks the package under root/; it ships plain .ko).
bs_kmods=${LAB_MODDIR%/modules}/root/lib/modules/$LAB_KVER/kernel/drivers
# shellcheck disable=SC2154  # repo and build_dir are scripts/lab-run.sh's
bs_script=$repo/tests/kvm/failing-backend.sh bs_guest=$build_dir/tests/guest/nvmevm-test-guest
LAB_L1_HOST_FILES=("$bs_kmods/md/dm-mod.ko" "$bs_kmods/block/loop.ko" /sbin/dmsetup /sbin/losetup
  /bin/bash "$bs_script" "$bs_guest")

lab_l1_run() {
    cat <<SH
dm_mod=$bs_kmods/md/dm-mod.ko loop_mod=$bs_kmods/block/loop.ko
script=$bs_script guest=$bs_guest
SH
    cat <<'SH'
. /lab/lib.sh
# Neither has dependencies (modinfo -F depends is empty); devtmpfs makes /dev/mapper/control
# and /dev/loop*. Without udev, libdevmapper leaves /dev/mapper/NAME to udev ("Skipping
# NODE_ADD [trust_udev]"): failing-backend.sh then runs `dmsetup mknodes`.
loaded=""
insmod "$dm_mod" && loaded="$loaded dm-mod"
insmod "$loop_mod" && loaded="$loaded loop"
echo "L1-MODULES-LOADED=${loaded# }"
echo "L1-DM-DRIVER=$(dmsetup version 2>&1 | sed -n 's/^Driver version: *//p')"
# busybox sh runs its own applets first; bash (the script) finds util-linux's by PATH.
echo "L1-LOSETUP=$(/sbin/losetup --version 2>&1 | head -n 1)"
# The script's output into a file, printed when it ends, then its verdict lines prefixed
# (they become key lines). L1's timeout SIGTERM is passed on to bash, whose EXIT trap removes
# the device-mapper device and the loop device.
bash "$script" /nvmevm "$guest" bad-sectors >/tmp/bad-sectors.out 2>&1 &
pid=$!
trap 'kill -TERM $pid' TERM INT
lab_wait_passing_term "$pid"
rc=$?
cat /tmp/bad-sectors.out
grep -E '^(== |guest errors=|\("I/O error"|FAIL|ok: )|skipped' /tmp/bad-sectors.out |
    sed 's/^/L1-BAD-SECTORS /'
# The script's cleanup removed the device and its node.
echo "L1-BAD-SECTORS-DM-LEFT=$(dmsetup ls 2>&1 | tr '\n' ' ')"
echo "L1-BAD-SECTORS-NODES-LEFT=$(ls /dev/mapper | tr '\n' ' ')"
# 77 (skipped: no device-mapper after all) fails here like any status but 0.
echo "L1-BAD-SECTORS-RC=$rc"
exit $rc
SH
}

# Beyond the script's own checks: the host counted the same 8 errors as the guest, the failures
# were logged one line each (8, under the limiter's burst of 10), the clean run logged none; the
# script's cleanup left no device-mapper device and no /dev/mapper node.
lab_host_check() {
    local line counts
    line=$(grep -a '^L1-BAD-SECTORS guest errors=' "$LAB_CONSOLE" | head -n 1)
    [[ $line == *"host blk_errors=8" ]] || echo "host blk_errors is not 8: ${line:-no guest errors line}"
    counts=$(sed -n 's/^L1-BAD-SECTORS ("I\/O error" log lines: \([0-9]*\))$/\1/p' "$LAB_CONSOLE" | tr '\n' ' ')
    [[ $counts == "8 0 " ]] || echo "\"I/O error\" log lines per run: '${counts% }', expected '8 0'"
    grep -aqE '^L1-BAD-SECTORS-DM-LEFT=(No devices found)? *$' "$LAB_CONSOLE" ||
        echo "device-mapper devices left behind: $(grep -a '^L1-BAD-SECTORS-DM-LEFT=' "$LAB_CONSOLE")"
    grep -aqE '^L1-BAD-SECTORS-NODES-LEFT=control *$' "$LAB_CONSOLE" ||
        echo "/dev/mapper nodes left behind: $(grep -a '^L1-BAD-SECTORS-NODES-LEFT=' "$LAB_CONSOLE")"
    return 0
}
