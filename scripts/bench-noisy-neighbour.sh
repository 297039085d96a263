#!/usr/bin/env bash
# A limited neighbour, in another VM and in the same VM (docs/rate-limits.md, docs/benchmarks.md
# "I/O limits"). A benchmark, not a test: it measures and prints; rounds interleaved.
#  1. Two VMs on one backing: a victim VM reads 4 KiB at QD 1 from a file on tmpfs while a
#     neighbour VM writes 64 KiB at QD 32 to the same file, without a limit and then with one;
#     the victim's IOPS, p50 and p99 against a run without the neighbour.
#  2. One VM, two drives (null engine, 2 vCPUs, `nvmevm bench --devices 2`): drive a unlimited
#     beside drive b, both read 4 KiB at QD 1; b without a limit, then limited to 1000 op/s;
#     a's figures against a run of a alone.
#   scripts/bench-noisy-neighbour.sh NVMEVM [--runtime S] [--rounds N] [--limit RATE] [--part 1|2]
# Needs /dev/kvm; without one, run it in the nested lab:
#   scripts/lab-command.sh --timeout 900 -- scripts/bench-noisy-neighbour.sh $PWD/build/nvmevm
set -uo pipefail
nvmevm=${1:?usage: bench-noisy-neighbour.sh NVMEVM [--runtime S] [--rounds N] [--limit RATE]}
shift
runtime=5 rounds=3 limit=20MB part=all
while (($#)); do
  case $1 in
    --runtime) runtime=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --limit) limit=$2; shift 2 ;;
    --part) part=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
file=$(mktemp /dev/shm/nvmevm-neighbour.XXXXXX)
trap 'rm -f "$file"' EXIT
truncate -s 256M "$file"

field() { grep -o "\"$2\":[0-9.]*" <<<"$1" | head -1 | cut -d: -f2; }

# round NEIGHBOUR: the victim's JSON, with NEIGHBOUR = none | free | limited running beside it.
round() {
  local pid="" neighbour_json
  neighbour_json=$(mktemp)
  case $1 in
    free) timeout $((runtime + 60)) "$nvmevm" bench --drive "$file" --rw randwrite --bs 64k --qd 32 --mode irq \
            --runtime $((runtime + 2)) --json --no-progress >"$neighbour_json" & pid=$! ;;
    limited) timeout $((runtime + 60)) "$nvmevm" bench --drive "$file" --rw randwrite --bs 64k --qd 32 --mode irq \
               --runtime $((runtime + 2)) --bw-limit "$limit" --json --no-progress >"$neighbour_json" & pid=$! ;;
  esac
  [ -n "$pid" ] && sleep 1  # the neighbour is at full speed before the victim starts
  timeout $((runtime + 60)) "$nvmevm" bench --drive "$file" --rw randread --bs 4k --qd 1 \
    --mode irq --runtime "$runtime" --json --no-progress || echo "victim failed ($1)" >&2
  [ -n "$pid" ] && wait "$pid"
  [ -s "$neighbour_json" ] && echo "NEIGHBOUR $1 $(field "$(cat "$neighbour_json")" mbps) MB/s" >&2
  rm -f "$neighbour_json"
}

median() { tr ' ' '\n' <<<"$1" | grep . | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

if [ "$part" != 2 ]; then
declare -A p50 p99 iops
for r in $(seq "$rounds"); do
  for case_ in none free limited; do
    json=$(round "$case_")
    p50[$case_]+="$(field "$json" p50) " p99[$case_]+="$(field "$json" p99) " iops[$case_]+="$(field "$json" iops) "
    echo "NN-ROUND $r neighbour=$case_ iops=$(field "$json" iops) p50_ns=$(field "$json" p50) p99_ns=$(field "$json" p99)"
  done
done

echo
echo "| neighbour (64 KiB randwrite, QD 32, same tmpfs file) | victim IOPS | victim p50 | victim p99 | p99 vs no neighbour |"
echo "|---|---|---|---|---|"
base=$(median "${p99[none]}")
for case_ in none free limited; do
  label=$case_
  [ "$case_" = none ] && label="none"
  [ "$case_" = free ] && label="no limit"
  [ "$case_" = limited ] && label="--bw-limit $limit"
  m50=$(median "${p50[$case_]}") m99=$(median "${p99[$case_]}") mi=$(median "${iops[$case_]}")
  awk -v l="$label" -v i="$mi" -v a="$m50" -v b="$m99" -v base="$base" 'BEGIN {
    printf "| %s | %.0f | %.1f us | %.1f us | %.2fx |\n", l, i, a / 1000, b / 1000, b / base }'
done
echo "(medians of $rounds rounds of ${runtime} s, interleaved)"
fi
[ "$part" = 1 ] && exit 0

# 2. One VM, two null drives: a unlimited, b unlimited or limited, both loaded at once.
config=$(mktemp --suffix=.toml)
limited_config=$(mktemp --suffix=.toml)
trap 'rm -f "$file" "$config" "$limited_config"' EXIT
printf '[machine]\nvcpus = 2\nmemory_mib = 128\n[[drive]]\nid = "a"\nengine = "null"\n[[drive]]\nid = "b"\nengine = "null"\n' >"$config"
cp "$config" "$limited_config"
printf '[drive.rate_limit]\nops = { size = 10, refill_time_ms = 10 }\n' >>"$limited_config"

# device0 JSON FIELD: drive a's FIELD from the bench's "devices" array (its first entry).
device0() { sed 's/.*"devices":\[//' <<<"$1" | grep -o "\"$2\":[0-9.]*" | head -1 | cut -d: -f2; }
declare -A s50 s99 siops
for r in $(seq "$rounds"); do
  for case_ in alone free limited; do
    case $case_ in
      alone) json=$(timeout $((runtime + 60)) "$nvmevm" bench --config "$config" --rw randread --qd 1 \
               --mode irq --jobs 1 --runtime "$runtime" --json --no-progress)
             a50=$(field "$json" p50) a99=$(field "$json" p99) ai=$(field "$json" iops) ;;
      free | limited)
        c=$config
        [ $case_ = limited ] && c=$limited_config
        json=$(timeout $((runtime + 60)) "$nvmevm" bench --config "$c" --devices 2 --rw randread --qd 1 \
               --mode irq --runtime "$runtime" --json --no-progress)
        a50=$(device0 "$json" p50) a99=$(device0 "$json" p99) ai=$(device0 "$json" iops) ;;
    esac
    s50[$case_]+="$a50 " s99[$case_]+="$a99 " siops[$case_]+="$ai "
    echo "SV-ROUND $r drive_b=$case_ a_iops=$ai a_p50_ns=$a50 a_p99_ns=$a99"
  done
done
echo
echo "| drive b beside drive a (same VM, null engine, 4 KiB randread QD 1, irq) | a's IOPS | a's p50 | a's p99 |"
echo "|---|---|---|---|"
for case_ in alone free limited; do
  label="b idle (a alone)"
  [ "$case_" = free ] && label="b loaded, no limit"
  [ "$case_" = limited ] && label="b loaded, limited to 1000 op/s"
  awk -v l="$label" -v i="$(median "${siops[$case_]}")" -v a="$(median "${s50[$case_]}")" \
    -v b="$(median "${s99[$case_]}")" 'BEGIN { printf "| %s | %.0f | %.1f us | %.1f us |\n", l, i, a / 1000, b / 1000 }'
done
echo "(medians of $rounds rounds of ${runtime} s, interleaved)"
