# shellcheck shell=bash disable=SC2034  # the LAB_* variables are read by scripts/lab-run.sh
# What 512-byte emulation costs on a 4 KiB-LBA NVMe namespace (storage/rmw_engine.h): `nvmevm
# bench` on L1's /dev/ng0n1 (engine "nvme") presented with logical_block_size = 512, randread and
# randwrite at QD 1 and 32 (one vCPU, one job), a fixed number of requests each, in four
# variants side by side:
#   a  4 KiB requests on the 4 KiB grid (--misalign 0): the emulated drive's fast path, straight
#      to the NVMe engine (writes take their block's lock first)
#   b  4 KiB requests one sector off the grid (--misalign 1): every read a bounce read of two
#      blocks, every write a read-modify-write of two
#   c  512-byte requests (--bs 512): inside one block, bounce read / read-modify-write of one
#   d  the same namespace with its own 4096-byte blocks (no logical_block_size), 4 KiB requests
# No L2 Linux: the benchmark guest is L2. Speed under TCG means little in absolute terms; the
# ratios of one run's variants are the figures (docs/benchmarks.md). The checks: every run exits
# 0 and reports all its requests with errors = 0 (guest and nvmevm's blk counters); its drive
# line names engine nvme and the block size the variant presents; nvmevm's NVMe counters show no
# errors, and for the emulated variants off the grid (b, c) at least one NVMe Read per request
# (the bounce / the read before the write), for the aligned writes (a, d) almost none.
# One L1-BENCH-RESULT line per run: iops, p50 and the NVMe commands it issued.
# Format: docs/lab.md "Writing a scenario"; the engine: docs/nvme.md.
LAB_DESCRIPTION="nvmevm bench: 512-byte emulation (read-modify-write) on a 4 KiB NVMe namespace, aligned, misaligned, 512 B and native"
LAB_L2_KERNEL=none
LAB_EXPECT_EXIT=0
LAB_L1_NVME=1
LAB_NVME_LBS=4096
LAB_NVME_DISK_MIB=64
# Requests per run; LAB_BENCH_OPS in the host's environment changes it.
LAB_BENCH_OPS=${LAB_BENCH_OPS:-3000}
LAB_FORBID_MARKERS+=("NVMe status" "nvmevm: error" "request refused")

# The runs: name, variant, then nvmevm bench's options. First a warm-up read and write (variant
# w, the native drive, not in the figures: L1's first nvmevm run was about half as fast as the
# same run later), then each workload and QD runs its four variants one after the other, so
# that a drift in the machine's speed hits them alike.
rmw_bench_runs() {
    local rw qd
    for rw in randread randwrite; do
        echo "warmup-$rw w --config /lab/native.toml --rw $rw --qd 1 --bs 4k"
    done
    for rw in randread randwrite; do
        for qd in 1 32; do
            echo "$rw-qd$qd-a a --config /lab/emu512.toml --rw $rw --qd $qd --bs 4k --misalign 0"
            echo "$rw-qd$qd-b b --config /lab/emu512.toml --rw $rw --qd $qd --bs 4k --misalign 1"
            echo "$rw-qd$qd-c c --config /lab/emu512.toml --rw $rw --qd $qd --bs 512"
            echo "$rw-qd$qd-d d --config /lab/native.toml --rw $rw --qd $qd --bs 4k"
        done
    done
}
LAB_EXPECT_MARKERS=(L1-NVME-NG=present "L1-NVME-QUEUE lbs=4096"
  "L1-BENCH-DONE ok=$(rmw_bench_runs | wc -l) of $(rmw_bench_runs | wc -l)"
  "presenting 512-byte sectors on 4096-byte blocks" "engine nvme")

# The namespace full of data, not holes: reads and writes then reach allocated blocks of the
# host's image from the first request on, in every variant alike; written back before QEMU
# starts, so that the host's writeback of these 64 MiB (30 s after the write) does not land in
# the middle of some runs.
lab_host_prepare() {
    head -c "$((LAB_NVME_DISK_MIB << 20))" /dev/urandom |
        dd of="$LAB_NVME_DISK" bs=1M conv=notrunc,fsync status=none iflag=fullblock
}

lab_l1_run() {
    echo "ops=$LAB_BENCH_OPS"
    echo "cat >/lab/emu512.toml <<'TOML'"
    printf '[[drive]]\nid = "nvme"\npath = "/dev/ng0n1"\nengine = "nvme"\nlogical_block_size = 512\nTOML\n'
    echo "cat >/lab/native.toml <<'TOML'"
    printf '[[drive]]\nid = "nvme"\npath = "/dev/ng0n1"\nengine = "nvme"\nTOML\n'
    echo "cat >/lab/runs <<'RUNS'"
    rmw_bench_runs
    echo "RUNS"
    cat <<'SH'
. /lab/lib.sh
lab_report_nvme_ng
echo "L1-NVME-QUEUE lbs=$(cat /sys/block/nvme0n1/queue/logical_block_size)"
status=0 runs=0 ok=0
: >/tmp/bench.logs
# Each run's stdout (the JSON object, then lab_run_nvmevm's L1-NVMEVM-TASKS lines) and stderr
# (nvmevm's info lines: the drive line, its NVMe counters) come out prefixed with its name
# (L1-BENCH-JSON, L1-BENCH-LOG) after all runs, after one L1-BENCH-RESULT line per run.
while read -r name variant args; do
    [ -n "$name" ] || continue
    echo "L1-BENCH-START $name uptime=$(cut -d' ' -f1 /proc/uptime): nvmevm bench $args --ops $ops --json"
    start=$(cut -d' ' -f1 /proc/uptime)
    # shellcheck disable=SC2086  # $args is the option list
    lab_run_nvmevm /nvmevm --log-level info bench $args --vcpus 1 --jobs 1 --ops "$ops" \
        --json --no-progress </dev/null >/tmp/bench.out 2>/tmp/bench.err
    rc=$?
    end=$(cut -d' ' -f1 /proc/uptime)
    sed "s/^/L1-BENCH-LOG $name /" /tmp/bench.err >>/tmp/bench.logs
    grep -v '^{' /tmp/bench.out | sed "s/^/L1-BENCH-LOG $name /" >>/tmp/bench.logs
    json=$(grep '^{' /tmp/bench.out)
    echo "L1-BENCH-JSON $name rc=$rc $json" >>/tmp/bench.logs
    iops=$(echo "$json" | sed -n 's/.*"iops":\([0-9.]*\).*/\1/p')
    p50=$(echo "$json" | sed -n 's/.*"p50":\([0-9]*\).*/\1/p')
    errors=$(echo "$json" | sed -n 's/.*"errors":\([0-9]*\).*/\1/p')
    nvme=$(sed -n 's/.*nvme \/dev\/ng0n1: \(read=[0-9]* write=[0-9]*\).*/\1/p' /tmp/bench.err | tail -n 1)
    echo "L1-BENCH-RESULT $name variant=$variant rc=$rc iops=${iops:-none} p50_ns=${p50:-none} errors=${errors:-none} nvme_${nvme:-none} seconds=$(echo "$start $end" | awk '{ printf "%.1f", $2 - $1 }')"
    runs=$((runs + 1))
    if [ "$rc" = 0 ]; then ok=$((ok + 1)); else echo "L1-BENCH-FAILED $name rc=$rc"; status=1; fi
done </lab/runs
cat /tmp/bench.logs
echo "L1-BENCH-DONE ok=$ok of $runs"
exit $status
SH
}

# rmw_bench_field NAME JSON: the first "NAME":number in JSON (the top-level one: the guest's own
# object follows).
rmw_bench_field() { grep -o "\"$1\":[0-9.]*" <<<"$2" | head -n 1 | cut -d: -f2; }

# One problem per line: a run missing or failed, a figure out of place, missing NVMe evidence.
lab_host_check() {
    local name variant args json rc ops iops errors misalign logs counters reads writes count
    local want_misalign want_blocks
    while read -r name variant args; do
        json=$(grep -a "^L1-BENCH-JSON $name " "$LAB_CONSOLE" | tail -n 1)
        [[ -n $json ]] || { echo "$name: no L1-BENCH-JSON line"; continue; }
        logs=$(grep -a "^L1-BENCH-LOG $name " "$LAB_CONSOLE")
        rc=$(sed -n 's/^L1-BENCH-JSON [^ ]* rc=\([0-9]*\) .*/\1/p' <<<"$json")
        [[ $rc == 0 ]] || echo "$name: nvmevm bench exited ${rc:-?}: $(tail -n 3 <<<"$logs" | tr '\n' '|')"
        json=${json#* rc=* }
        [[ $json == '{'* ]] || { echo "$name: no JSON object"; continue; }
        ops=$(rmw_bench_field ops "$json")
        iops=$(rmw_bench_field iops "$json")
        errors="$(rmw_bench_field errors "$json") $(rmw_bench_field blk_errors "$json")"
        misalign=$(rmw_bench_field misalign "$json")
        [[ $ops == "$LAB_BENCH_OPS" ]] || echo "$name: ops=${ops:-none}, expected $LAB_BENCH_OPS"
        awk -v v="$iops" 'BEGIN { exit !(v + 0 > 0) }' || echo "$name: iops=${iops:-none}"
        [[ $errors == "0 0" ]] || echo "$name: errors (guest, blk) = $errors"
        case $variant in b) want_misalign=1 ;; *) want_misalign="" ;; esac
        [[ $misalign == "$want_misalign" ]] ||
            echo "$name: JSON misalign=${misalign:-absent}, expected ${want_misalign:-absent}"
        case $variant in [dw]) want_blocks=4096 ;; *) want_blocks=512 ;; esac
        grep -q "engine nvme, .*, $want_blocks-byte blocks" <<<"$logs" ||
            echo "$name: no 'engine nvme, ..., $want_blocks-byte blocks' drive line: $(grep -m 1 ' drive ' <<<"$logs")"
        counters=$(grep "nvme /dev/ng0n1: read=" <<<"$logs" | tail -n 1)
        [[ -n $counters ]] || { echo "$name: no NVMe counter line"; continue; }
        reads=$(sed -n 's/.* read=\([0-9]*\).*/\1/p' <<<"$counters")
        writes=$(sed -n 's/.* write=\([0-9]*\).*/\1/p' <<<"$counters")
        count=$(sed -n 's/.* errors=\([0-9]*\).*/\1/p' <<<"$counters")
        [[ $count == 0 ]] || echo "$name: NVMe errors: $counters"
        case $variant$args in
        [bc]*) ((${reads:-0} >= ops)) || echo "$name: $reads NVMe reads for $ops requests off the grid: $counters" ;;
        [adw]*randread*) ((${reads:-0} >= ops)) || echo "$name: $reads NVMe reads for $ops reads: $counters" ;;
        [adw]*randwrite*) ((${reads:-0} < ops / 100)) || echo "$name: $reads NVMe reads for $ops aligned writes: $counters" ;;
        esac
        [[ $args == *randwrite* ]] && { ((${writes:-0} >= ops)) || echo "$name: $writes NVMe writes for $ops writes: $counters"; }
        grep -q 'iou-wrk' <<<"$(grep "L1-NVMEVM-TASKS=" <<<"$logs")" &&
            echo "$name: io_uring worker threads: $(grep "L1-NVMEVM-TASKS=" <<<"$logs" | tr '\n' ' ')"
    done < <(rmw_bench_runs)
    return 0
}
