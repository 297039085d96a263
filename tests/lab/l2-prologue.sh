#!/bin/busybox sh
# Start of every L2 /init (docs/lab.md); scripts/lab-run.sh appends the scenario's lab_l2_init.
# L2 is the Debian cloud kernel booted by nvmevm inside L1; its console (ttyS0) is nvmevm's
# stdout, which is L1's console, which is the host harness's log.

# No /dev/console node in the initramfs (see tests/lab/l1-init.sh): mount devtmpfs, take it.
/bin/busybox mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t tmpfs tmpfs /tmp
export PATH=/bin:/sbin:/usr/bin:/usr/sbin

# The virtio stack is modular in this kernel; load it so nvmevm's virtio-blk shows up as /dev/vda.
while read -r mod; do
    [ -n "$mod" ] || continue
    insmod "/lib/modules/lab/$mod.ko" 2>/dev/null || echo "L2-INSMOD-FAILED=$mod"
done </lib/modules/lab/order

# The markers every scenario prints first.
l2_report() {
    echo "L2-UP"
    echo "L2-CPUS=$(grep -c ^processor /proc/cpuinfo)"
    echo "L2-KERNEL=$(uname -r)"
    echo "L2-MEM-KIB=$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)"
    echo "L2-UPTIME=$(cut -d' ' -f1 /proc/uptime)"
}

# If the scenario's poweroff/reboot does not end the VM, say so instead of hanging silently
# (returning from /init would panic the kernel, which panic=-1 turns into a reboot).
l2_stuck() {
    echo "L2-STILL-RUNNING-AFTER=$1"
    while :; do sleep 1; done
}

# l2_watch_stuck_requests: in the background, a request on /dev/vda still in flight 5 s later
# is stuck (nothing takes that long here, even under TCG): print the block layer's view of it
# (debugfs: op, flags, tag) once per stuck set, as L2-STUCK-REQUESTS and L2-STUCK lines.
l2_watch_stuck_requests() {
    mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
    (prev=""; said=""
     while sleep 5; do
         busy=$(cat /sys/kernel/debug/block/vda/hctx*/busy 2>/dev/null)
         sample=$busy
         # Still the same set a moment later (not one that was just completing)?
         [ -n "$busy" ] && [ "$busy" = "$prev" ] && sleep 1 &&
             [ "$(cat /sys/kernel/debug/block/vda/hctx*/busy 2>/dev/null)" = "$busy" ] || busy=""
         if [ -n "$busy" ] && [ "$busy" != "$said" ]; then
             echo "L2-STUCK-REQUESTS t=$(cut -d' ' -f1 /proc/uptime) inflight=$(cat /sys/block/vda/inflight | tr -s ' ')"
             for h in /sys/kernel/debug/block/vda/hctx*; do sed "s|^|L2-STUCK ${h##*/} |" $h/busy; done
             said=$busy
         fi
         prev=$sample
     done) &
}

# l2_report_queues_used: whether both request queues of /dev/vda completed requests, from the
# interrupts of each (L2-MQ-IRQS lines, then L2-MQ-BOTH-USED=yes|no).
l2_report_queues_used() {
    used=0
    for qn in 0 1; do
        n=$(awk -v q="virtio0-req.$qn" '$NF == q { s = 0; for (i = 2; i < NF; i++) if ($i ~ /^[0-9]+$/) s += $i; print s }' /proc/interrupts)
        echo "L2-MQ-IRQS req.$qn=${n:-none}"
        [ "${n:-0}" -gt 0 ] && used=$((used + 1))
    done
    [ "$used" = 2 ] && echo "L2-MQ-BOTH-USED=yes" || echo "L2-MQ-BOTH-USED=no"
}

# ---- scenario ----
