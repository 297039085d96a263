#!/bin/busybox sh
# Helpers for a scenario's /lab/run.sh in L1 (docs/lab.md). scripts/lab-run.sh packs this file
# as /lab/lib.sh; a run.sh that wants it starts with `. /lab/lib.sh`.

# lab_run_nvmevm CMD ARGS...: runs nvmevm (CMD is /nvmevm) in the background, watches its
# threads while it runs, and returns its exit status. After it exits, prints
#   L1-NVMEVM-TASKS=<count>:<comm>,<comm>,... first=<L1 uptime> last=<uptime> samples=<n>
# once per distinct set of threads seen in /proc/PID/task (sampled every LAB_TASK_SAMPLE_S
# seconds, default 0.2), then L1-NVMEVM-TASKS-MAX=<count>. The samples go to a file and are
# printed only afterwards, so they never cut into L2's console lines.
# A SIGTERM to the shell (L1's timeout) is passed on to nvmevm, which then exits 5; first, so
# that a hang can be told apart from a slow guest, each nvmevm thread's state, wait channel and
# L1 kernel stack are printed (L1-NVMEVM-STUCK lines).
# Optional hook: lab_nvmevm_started PID, if the caller defines it, runs once nvmevm has started
# (e.g. to look at /proc/PID/fdinfo).
# lab_wait_passing_term PID: waits for PID, a background job whose caller has set a TERM/INT
# trap that passes L1's timeout on to it, and returns its exit status. wait returns early (> 128)
# when the trap runs; then it waits again for the job's own status. Clears the trap.
lab_wait_passing_term() {
    wait "$1"
    _lab_wait_rc=$?
    if [ "$_lab_wait_rc" -gt 128 ] && kill -0 "$1" 2>/dev/null; then
        wait "$1"
        _lab_wait_rc=$?
    fi
    trap - TERM INT
    return "$_lab_wait_rc"
}

lab_dump_threads() {
    for task in /proc/"$1"/task/*; do
        echo "L1-NVMEVM-STUCK task=${task##*/} comm=$(cat "$task/comm" 2>/dev/null)" \
            "state=$(awk '/^State:/ { print $2 }' "$task/status" 2>/dev/null)" \
            "wchan=$(cat "$task/wchan" 2>/dev/null)"
        sed 's/^/L1-NVMEVM-STUCK   /' "$task/stack" 2>/dev/null
    done
}

lab_run_nvmevm() {
    "$@" &
    _lab_pid=$!
    trap 'lab_dump_threads $_lab_pid; kill -TERM $_lab_pid 2>/dev/null' TERM INT
    _lab_samples=/tmp/lab-nvmevm-tasks
    : >"$_lab_samples"
    (
        hooked=0
        while [ -d "/proc/$_lab_pid/task" ]; do
            t=$(cut -d' ' -f1 /proc/uptime)
            names=""
            n=0
            for task in /proc/"$_lab_pid"/task/*; do
                c=$(cat "$task/comm" 2>/dev/null) || continue
                names="$names,$c"
                n=$((n + 1))
            done
            # A zombie keeps /proc/PID but has no tasks worth reporting.
            [ "$n" -gt 0 ] && [ -n "$names" ] && echo "$t $n:${names#,}" >>"$_lab_samples"
            if [ "$hooked" = 0 ] && command -v lab_nvmevm_started >/dev/null 2>&1; then
                hooked=1
                sleep 0.5
                lab_nvmevm_started "$_lab_pid"
            fi
            sleep "${LAB_TASK_SAMPLE_S:-0.2}"
        done
    ) &
    _lab_watch=$!
    lab_wait_passing_term "$_lab_pid"
    _lab_status=$?
    wait "$_lab_watch" 2>/dev/null
    # One line per distinct thread set (comm names sorted, so thread order does not matter).
    awk '{
            split($2, a, ":"); n = a[1]; m = split(a[2], c, ",");
            for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (c[j] < c[i]) { x = c[i]; c[i] = c[j]; c[j] = x }
            key = n ":" c[1]; for (i = 2; i <= m; i++) key = key "," c[i];
            if (!(key in first)) { first[key] = $1; order[++k] = key }
            last[key] = $1; cnt[key]++; if (n > max) max = n
         }
         END {
            for (i = 1; i <= k; i++)
                printf "L1-NVMEVM-TASKS=%s first=%s last=%s samples=%d\n", order[i], first[order[i]], last[order[i]], cnt[order[i]]
            printf "L1-NVMEVM-TASKS-MAX=%d\n", max
         }' "$_lab_samples"
    return "$_lab_status"
}

# lab_report_nvme_ng: L1-NVME-NG=present or =missing, as /dev/ng0n1 (the NVMe namespace's
# generic character device, which the passthrough engine opens) is or is not there. A function
# here rather than an echo in run.sh, whose text L1 shows in the log.
lab_report_nvme_ng() {
    if [ -c /dev/ng0n1 ]; then _lab_ng=present; else _lab_ng=missing; fi
    echo "L1-NVME-NG=$_lab_ng"
}
