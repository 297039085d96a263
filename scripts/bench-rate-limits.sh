#!/usr/bin/env bash
# How exactly the drives' I/O limits hold (docs/rate-limits.md, docs/benchmarks.md "I/O
# limits"): `nvmevm bench` runs of RUNTIME seconds against limits of 1k, 3k, 10k and 50k op/s
# and of 10, 50 and 200 MB/s, at QD 1, 8 and 32, with 4 KiB and 64 KiB requests, on the null
# engine and on the io_uring engine (a file opened O_DIRECT). Each cell reports the rate
# achieved, its error against the limit, and what the drive does without a limit in the same
# setting (a limit above that cannot be reached, and the cell says so). Then the one-time burst:
# delivered once, on top of the rate. A benchmark, not a test: it measures and prints.
#   scripts/bench-rate-limits.sh NVMEVM [--runtime S] [--dir DIR] [--quick] [--refill-ms MS]
#                                [--cells "ENGINE,BS,QD,iops|bw,LIMIT ..."]
#     --dir DIR       where the io_uring engine's drive file goes (a filesystem with O_DIRECT;
#                     default /var/tmp; in the nested lab, L1's spare disk /dev/vda, as ext4)
#     --quick         QD 8 only, 4 KiB only (a look, not the table)
#     --refill-ms MS  the buckets' refill time (bench's --limit-refill-ms; default 10): a bucket
#                     holds MS worth of the rate, and starts full
#     --cells LIST    only these cells, e.g. "uring,4k,32,iops,10000 null,4k,8,bw,50" (MB/s)
# Needs /dev/kvm; without one, run it in the nested lab:
#   scripts/lab-command.sh --timeout 1800 -- scripts/bench-rate-limits.sh $PWD/build/nvmevm
# Prints one "RL-CELL engine=... " line per cell, then the markdown table.
set -uo pipefail
nvmevm=${1:?usage: bench-rate-limits.sh NVMEVM [--runtime S] [--dir DIR] [--quick]}
shift
runtime=10 dir="" quick=false refill_ms=10 cells=
while (($#)); do
  case $1 in
    --runtime) runtime=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    --quick) quick=true; shift ;;
    --refill-ms) refill_ms=$2; shift 2 ;;
    --cells) cells=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

work=$(mktemp -d)
mounted=""
cleanup() {
  [ -n "$mounted" ] && umount "$mounted"
  rm -rf "$work"
}
trap cleanup EXIT
if [ -z "$dir" ]; then
  if [ -n "${NVMEVM_IN_LAB:-}" ]; then
    mkdir -p "$work/vda" && busybox mke2fs -q /dev/vda >/dev/null &&
      mount -t ext4 /dev/vda "$work/vda" || { echo "could not mount /dev/vda in the lab" >&2; exit 1; }
    dir=$work/vda mounted=$work/vda
  else
    dir=/var/tmp
  fi
fi
disk=$(mktemp "$dir/nvmevm-rate-limits.XXXXXX")
dd if=/dev/zero of="$disk" bs=1M count=256 conv=fsync status=none

# field JSON NAME: the first number after "NAME": in a bench JSON line.
field() { grep -o "\"$2\":[0-9.]*" <<<"$1" | head -1 | cut -d: -f2; }

# bench ENGINE ARGS...: one run, its JSON line.
bench() {
  local engine=$1
  shift
  local target=(--null 256)
  [ "$engine" = uring ] && target=(--drive "$disk")
  "$nvmevm" bench "${target[@]}" --rw randread --json --no-progress "$@"
}

# bytes BS: 4k -> 4096, 64k -> 65536.
bytes() { echo $((${1%k} * 1024)); }

# cell ENGINE BS QD iops|bw LIMIT FREE_IOPS FREE_MBPS: one limited run, one RL-CELL line and a row.
cell() {
  local engine=$1 bs=$2 qd=$3 kind=$4 limit=$5 free_iops=$6 free_mbps=$7 json got free_rate unit
  if [ "$kind" = iops ]; then
    json=$(bench "$engine" --bs "$bs" --qd "$qd" --runtime "$runtime" --iops-limit "$limit" --limit-refill-ms "$refill_ms")
    unit="op/s" free_rate=$free_iops
    got=$(awk -v ops="$(field "$json" ops)" -v ns="$(field "$json" elapsed_ns)" 'BEGIN { printf "%.1f", ops * 1e9 / ns }')
  else
    json=$(bench "$engine" --bs "$bs" --qd "$qd" --runtime "$runtime" --bw-limit "${limit}MB" --limit-refill-ms "$refill_ms")
    unit="MB/s" free_rate=$free_mbps
    # From the count and the time, not the guest's rounded "mbps": 0.01 MB/s resolution.
    got=$(awk -v ops="$(field "$json" ops)" -v ns="$(field "$json" elapsed_ns)" -v bs="$(bytes "$bs")" 'BEGIN { printf "%.2f", ops * bs * 1e3 / ns }')
  fi
  local line got_fmt err_fmt free_fmt verdict
  line=$(awk -v got="$got" -v limit="$limit" -v free="$free_rate" 'BEGIN {
    err = (got - limit) / limit * 100
    verdict = (err >= -2 && err <= 2) ? "within 2%" : (free < limit * 1.02 ? "limit above what the drive does" : "MISSED")
    printf "%s|%+.2f%%|%.1f|%s", got, err, free, verdict }')
  IFS='|' read -r got_fmt err_fmt free_fmt verdict <<<"$line"
  echo "RL-CELL engine=$engine bs=$bs qd=$qd limit=$limit$unit refill_ms=$refill_ms achieved=$got_fmt error=$err_fmt unlimited=$free_fmt verdict=\"$verdict\" errors=$(field "$json" errors) throttled=$(field "$json" blk_throttled) p99_ns=$(field "$json" p99)"
  rows+=("| $engine | $bs | $qd | $limit $unit | $refill_ms ms | $got_fmt | $err_fmt | $free_fmt | $verdict |")
}

# unlimited ENGINE BS QD: sets free_iops and free_mbps from a 3 s run without a limit.
unlimited() {
  local free
  free=$(bench "$1" --bs "$2" --qd "$3" --runtime 3) || { echo "bench failed" >&2; exit 1; }
  free_iops=$(field "$free" iops) free_mbps=$(field "$free" mbps)
}

rows=()
qds=(1 8 32) sizes=(4k 64k)
$quick && qds=(8) sizes=(4k)
iops_limits=(1000 3000 10000 50000) bw_limits=(10 50 200)  # MB/s: 1,000,000 bytes
if [ -n "$cells" ]; then
  for c in $cells; do
    IFS=, read -r engine bs qd kind limit <<<"$c"
    unlimited "$engine" "$bs" "$qd"
    cell "$engine" "$bs" "$qd" "$kind" "$limit" "$free_iops" "$free_mbps"
  done
else
  for engine in null uring; do
    for bs in "${sizes[@]}"; do
      for qd in "${qds[@]}"; do
        unlimited "$engine" "$bs" "$qd"
        for limit in "${iops_limits[@]}"; do cell "$engine" "$bs" "$qd" iops "$limit" "$free_iops" "$free_mbps"; done
        for limit in "${bw_limits[@]}"; do cell "$engine" "$bs" "$qd" bw "$limit" "$free_iops" "$free_mbps"; done
      done
    done
  done
fi

# The one-time burst: 1000 op/s with a burst of 5000 operations, and 10 MB/s with a burst of
# 50 MB, over RUNTIME seconds from a full bucket (10 ms of the rate): what passed beyond the bucket
# and the rate is the burst, delivered once.
bursts=()
[ -n "$cells" ] && runtime=0  # no burst rows with --cells
[ "$runtime" = 0 ] || {
json=$(bench null --qd 8 --runtime "$runtime" --iops-limit 1000 --iops-burst 5000 --limit-refill-ms "$refill_ms")
bursts+=("$(awk -v ops="$(field "$json" ops)" -v ns="$(field "$json" elapsed_ns)" -v r="$refill_ms" 'BEGIN {
  printf "| 1000 op/s + 5000 op burst | %d ops in %.3f s | %.0f ops |", ops, ns / 1e9, ops - r - 1000 * ns / 1e9 }')")
json=$(bench null --qd 8 --bs 64k --runtime "$runtime" --bw-limit 10MB --bw-burst 50MB --limit-refill-ms "$refill_ms")
bursts+=("$(awk -v ops="$(field "$json" ops)" -v ns="$(field "$json" elapsed_ns)" -v r="$refill_ms" 'BEGIN {
  printf "| 10 MB/s + 50 MB burst | %d x 64 KiB in %.3f s | %.2f MB |", ops, ns / 1e9, (ops * 65536 - 1e4 * r - 1e7 * ns / 1e9) / 1e6 }')")
}

echo
echo "| engine | bs | QD | limit | buckets | achieved | error | without a limit | verdict |"
echo "|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
echo
echo "| limit | run | burst delivered (passed - full bucket - rate x time) |"
echo "|---|---|---|"
printf '%s\n' "${bursts[@]}"
