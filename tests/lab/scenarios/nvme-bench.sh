# shellcheck shell=bash disable=SC2034  # the LAB_* variables are read by scripts/lab-run.sh
# `nvmevm bench` (docs/benchmarks.md) against an NVMe passthrough drive. QEMU gives L1 an emulated
# NVMe controller; in L1, `nvmevm bench --drive /dev/ng0n1` (engine "auto", which picks the NVMe
# passthrough engine for a namespace's generic device) boots the built-in benchmark guest and runs
# randread and randwrite at QD 1 and 8 (and randread QD 8 with interrupts instead of polling), a
# fixed number of 4 KiB requests each; then, for contrast, the io_uring engine on the block device
# /dev/nvme0n1 (a config with engine = "uring"). No L2 Linux: the benchmark guest is L2.
# Speed means nothing under TCG; the checks are that it runs correctly: every run exits 0 and
# reports all its requests, iops > 0 and errors = 0; the passthrough runs name engine nvme and
# nvmevm's NVMe counters show at least that many reads (randread) or writes (randwrite) and no
# errors; no io_uring worker threads in the passthrough runs; and QEMU's pci_nvme_io_cmd trace
# saw at least as many Read and Write commands as all runs together issued.
# Format: docs/lab.md "Writing a scenario"; the engine: docs/nvme.md.
LAB_DESCRIPTION="nvmevm bench on an NVMe passthrough drive (/dev/ng0n1) and, for contrast, on /dev/nvme0n1 with io_uring"
LAB_L2_KERNEL=none
LAB_EXPECT_EXIT=0
LAB_L1_NVME=1
LAB_NVME_DISK_MIB=64
# pci_nvme_enqueue_req_completion too: when a request stalls, the trace shows whether QEMU completed it.
LAB_QEMU_TRACE="pci_nvme_io_cmd pci_nvme_enqueue_req_completion"
# Requests per run; LAB_BENCH_OPS in the host's environment changes it.
LAB_BENCH_OPS=${LAB_BENCH_OPS:-2000}
LAB_FORBID_MARKERS+=("NVMe status" "nvmevm: error")

# The runs: name, engine (what the drive line must say), then nvmevm bench's options.
nvme_bench_runs() {
    cat <<EOF
nvme-randread-qd1 nvme --drive /dev/ng0n1 --rw randread --qd 1
nvme-randread-qd8 nvme --drive /dev/ng0n1 --rw randread --qd 8
nvme-randread-qd8-irq nvme --drive /dev/ng0n1 --rw randread --qd 8 --mode irq
nvme-randwrite-qd1 nvme --drive /dev/ng0n1 --rw randwrite --qd 1
nvme-randwrite-qd8 nvme --drive /dev/ng0n1 --rw randwrite --qd 8
uring-randread-qd8 uring --config /lab/uring.toml --rw randread --qd 8
uring-randwrite-qd8 uring --config /lab/uring.toml --rw randwrite --qd 8
EOF
}
# Every run must end well: L1 counts them (the count is the marker, not a line run.sh holds).
LAB_EXPECT_MARKERS=(L1-NVME-NG=present "L1-BENCH-DONE ok=$(nvme_bench_runs | wc -l) of $(nvme_bench_runs | wc -l)"
  "engine nvme" "engine uring")

lab_l1_run() {
    echo "ops=$LAB_BENCH_OPS"
    echo "cat >/lab/uring.toml <<'TOML'"
    printf '[[drive]]\nid = "blk"\npath = "/dev/nvme0n1"\nengine = "uring"\nTOML\n'
    echo "cat >/lab/runs <<'RUNS'"
    nvme_bench_runs
    echo "RUNS"
    cat <<'SH'
. /lab/lib.sh
lab_report_nvme_ng
status=0 runs=0 ok=0
: >/tmp/bench.logs
# Each run's stdout (the JSON object, then lab_run_nvmevm's L1-NVMEVM-TASKS lines) and stderr
# (nvmevm's info lines: the drive's engine, its NVMe counters) come out prefixed with its name
# (L1-BENCH-JSON, L1-BENCH-LOG), after a one-line L1-BENCH-RESULT per run.
while read -r name engine args; do
    [ -n "$name" ] || continue
    echo "L1-BENCH-START $name uptime=$(cut -d' ' -f1 /proc/uptime): nvmevm bench $args --ops $ops --json"
    # shellcheck disable=SC2086  # $args is the option list
    lab_run_nvmevm /nvmevm --log-level info bench $args --ops "$ops" --bs 4k --json --no-progress \
        </dev/null >/tmp/bench.out 2>/tmp/bench.err
    rc=$?
    # Printed after all runs, so the L1-BENCH-RESULT lines come first in the key lines.
    sed "s/^/L1-BENCH-LOG $name /" /tmp/bench.err >>/tmp/bench.logs
    grep -v '^{' /tmp/bench.out | sed "s/^/L1-BENCH-LOG $name /" >>/tmp/bench.logs
    json=$(grep '^{' /tmp/bench.out)
    echo "L1-BENCH-JSON $name rc=$rc $json" >>/tmp/bench.logs
    iops=$(echo "$json" | sed -n 's/.*"iops":\([0-9.]*\).*/\1/p')
    p50=$(echo "$json" | sed -n 's/.*"p50":\([0-9]*\).*/\1/p')
    errors=$(echo "$json" | sed -n 's/.*"errors":\([0-9]*\).*/\1/p')
    echo "L1-BENCH-RESULT $name rc=$rc engine=$engine iops=${iops:-none} p50_ns=${p50:-none} errors=${errors:-none} uptime=$(cut -d' ' -f1 /proc/uptime)"
    runs=$((runs + 1))
    if [ "$rc" = 0 ]; then ok=$((ok + 1)); else echo "L1-BENCH-FAILED $name rc=$rc"; status=1; fi
done </lab/runs
cat /tmp/bench.logs
echo "L1-BENCH-DONE ok=$ok of $runs"
exit $status
SH
}

# nvme_bench_field NAME JSON: the first "NAME":number in JSON.
nvme_bench_field() { grep -o "\"$1\":[0-9.]*" <<<"$2" | head -n 1 | cut -d: -f2; }

# One problem per line: a run missing or failed, a figure out of place, missing NVMe evidence.
lab_host_check() {
    local name engine args json rc ops iops errors counters count field sum_read=0 sum_write=0
    while read -r name engine args; do
        json=$(grep -a "^L1-BENCH-JSON $name " "$LAB_CONSOLE" | tail -n 1)
        [[ -n $json ]] || { echo "$name: no L1-BENCH-JSON line"; continue; }
        rc=$(sed -n 's/^L1-BENCH-JSON [^ ]* rc=\([0-9]*\) .*/\1/p' <<<"$json")
        [[ $rc == 0 ]] || echo "$name: nvmevm bench exited ${rc:-?}: $(grep -a "^L1-BENCH-LOG $name " "$LAB_CONSOLE" | tail -n 3 | tr '\n' '|')"
        json=${json#* rc=* }
        [[ $json == '{'* ]] || { echo "$name: no JSON object"; continue; }
        # The first occurrence of a field is the top-level one (the guest's own object follows).
        ops=$(nvme_bench_field ops "$json")
        iops=$(nvme_bench_field iops "$json")
        errors="$(nvme_bench_field errors "$json") $(nvme_bench_field blk_errors "$json")"
        [[ $ops == "$LAB_BENCH_OPS" ]] || echo "$name: ops=${ops:-none}, expected $LAB_BENCH_OPS"
        awk -v v="$iops" 'BEGIN { exit !(v + 0 > 0) }' || echo "$name: iops=${iops:-none}"
        [[ $errors == "0 0" ]] || echo "$name: errors (guest, blk) = $errors"
        grep -a "^L1-BENCH-LOG $name " "$LAB_CONSOLE" | grep -q "engine $engine," ||
            echo "$name: no 'engine $engine' drive line: $(grep -a "^L1-BENCH-LOG $name .*drive " "$LAB_CONSOLE" | head -n 1)"
        case $args in *randread*) field=read ;; *) field=write ;; esac
        [[ $field == read ]] && sum_read=$((sum_read + ops)) || sum_write=$((sum_write + ops))
        [[ $engine == nvme ]] || continue
        counters=$(grep -a "^L1-BENCH-LOG $name .*nvme /dev/ng0n1: read=" "$LAB_CONSOLE" | tail -n 1)
        [[ -n $counters ]] || { echo "$name: no NVMe counter line"; continue; }
        count=$(sed -n "s/.* $field=\([0-9]*\).*/\1/p" <<<"$counters")
        ((${count:-0} >= ops)) || echo "$name: $field=${count:-none} NVMe commands for $ops requests: $counters"
        count=$(sed -n "s/.* errors=\([0-9]*\).*/\1/p" <<<"$counters")
        [[ $count == 0 ]] || echo "$name: NVMe errors: $counters"
        grep -a "^L1-BENCH-LOG $name L1-NVMEVM-TASKS=" "$LAB_CONSOLE" | grep -q 'iou-wrk' &&
            echo "$name: io_uring worker threads: $(grep -a "^L1-BENCH-LOG $name L1-NVMEVM-TASKS=" "$LAB_CONSOLE" | tr '\n' ' ')"
    done < <(nvme_bench_runs)
    [[ -s $LAB_QEMU_TRACE_LOG ]] || { echo "no QEMU trace in $LAB_QEMU_TRACE_LOG"; return 0; }
    # pci_nvme_io_cmd: "... opc 0x2 opname 'NVME_NVM_CMD_READ'"
    count=$(grep -c "opc 0x2 " "$LAB_QEMU_TRACE_LOG" || true)
    ((count >= sum_read)) || echo "QEMU saw $count NVMe Read commands, the runs made $sum_read read requests"
    count=$(grep -c "opc 0x1 " "$LAB_QEMU_TRACE_LOG" || true)
    ((count >= sum_write)) || echo "QEMU saw $count NVMe Write commands, the runs made $sum_write write requests"
    return 0
}
