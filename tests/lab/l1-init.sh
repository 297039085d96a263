#!/bin/busybox sh
# /init of the nested lab's L1 (docs/lab.md). L1 is QEMU TCG with an emulated AMD SVM CPU; here
# kvm-amd gives a complete /dev/kvm on which nvmevm can boot a real Linux (L2).
# It loads the modules, checks /dev/kvm, runs the scenario's /lab/run.sh, prints the verdict line
# LAB-EXIT=<status of run.sh> and powers L1 off, so QEMU exits and the host harness reads the log.
# The LAB-* lines are parsed by scripts/lab-run.sh; keep their format.

# The initramfs carries no /dev/console node (packing one would need root on the host), so the
# kernel may start us without stdio: mount devtmpfs first, then take the console explicitly.
/bin/busybox mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sysfs /sys
# Host files a scenario put under /tmp (LAB_L1_HOST_FILES from a checkout in /tmp, as a clean
# CI clone may be) are in the initramfs there: keep them visible on the tmpfs that replaces it.
if [ -n "$(ls -A /tmp 2>/dev/null)" ]; then
    mv /tmp /tmp.initramfs && mkdir /tmp
fi
mount -t tmpfs tmpfs /tmp
if [ -d /tmp.initramfs ]; then
    cp -a /tmp.initramfs/. /tmp/ && rm -rf /tmp.initramfs
fi
mkdir -p /dev/shm && mount -t tmpfs tmpfs /dev/shm  # for POSIX shared memory, should nvmevm use it
export PATH=/bin:/sbin:/usr/bin:/usr/sbin

finish() {
    echo "LAB-EXIT=$1"
    echo "LAB-DONE"
    sync
    # -f: no init system to ask. q35 has ACPI, so QEMU exits (it also runs with -no-reboot).
    poweroff -f
    sleep 10
    echo "LAB-POWEROFF-FAILED"
    while :; do sleep 1; done
}

echo "LAB-L1-UP kernel=$(uname -r) cpus=$(grep -c ^processor /proc/cpuinfo) uptime=$(cut -d' ' -f1 /proc/uptime)"

# Modules in dependency order (busybox insmod does not resolve dependencies).
while read -r mod; do
    [ -n "$mod" ] || continue
    insmod "/lib/modules/lab/$mod.ko" || echo "LAB-INSMOD-FAILED=$mod"
done </lib/modules/lab/order

if [ -c /dev/kvm ]; then
    echo "LAB-KVM=present"
else
    echo "LAB-KVM=missing"
    grep -o -w -e svm -e npt /proc/cpuinfo | sort -u | tr '\n' ' '
    echo
    finish none
fi

# The disks the host gave L1 (virtio-blk always, NVMe when the scenario asks): vda, nvme0n1.
disks=""
for d in /sys/block/*; do
    case ${d##*/} in loop* | ram*) ;; *) disks="$disks ${d##*/}" ;; esac
done
echo "LAB-L1-DISKS=${disks# }"

# shellcheck source=/dev/null
. /lab/scenario.env
# The config and the script in the log, for whoever reads a failure. Their lines are prefixed
# (lab-config|, lab-script|) so that the verdict (scripts/lab-run.sh) can leave them out: a marker
# must be something that ran printed, never the text of what was going to run.
[ -f /lab/vm.toml ] && sed 's/^/lab-config| /' /lab/vm.toml
grep -v '^#' /lab/run.sh | grep -v '^$' | sed 's/^/lab-script| /'
start=$(cut -d' ' -f1 /proc/uptime)
# The timeout keeps a hung guest from eating the host harness's whole budget: SIGTERM stops
# nvmevm gracefully (exit 5), so the log still ends with a verdict.
timeout -s TERM "${LAB_L1_TIMEOUT:-180}" sh /lab/run.sh
status=$?
echo "LAB-RUN-SECONDS=$(awk -v s="$start" '{ printf "%.1f", $1 - s }' /proc/uptime)"
finish "$status"
