#!/usr/bin/env bash
# Two VMs on one backing, one of them limited (docs/rate-limits.md, docs/benchmarks.md "I/O
# limits"): a victim VM reads 4 KiB at QD 1 from a file on tmpfs while a neighbour VM writes
# 64 KiB at QD 32 to the same file, without a limit and then with one; the victim's p50/p99 and
# IOPS are compared with a run without the neighbour, in the same invocation, rounds
# interleaved. A benchmark, not a test: it measures and prints.
#   scripts/bench-noisy-neighbour.sh NVMEVM [--runtime S] [--rounds N] [--limit RATE]
# Needs /dev/kvm; without one, run it in the nested lab:
#   scripts/lab-command.sh --timeout 900 -- scripts/bench-noisy-neighbour.sh $PWD/build/nvmevm
set -uo pipefail
nvmevm=${1:?usage: bench-noisy-neighbour.sh NVMEVM [--runtime S] [--rounds N] [--limit RATE]}
shift
runtime=5 rounds=3 limit=20MB
while (($#)); do
  case $1 in
    --runtime) runtime=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --limit) limit=$2; shift 2 ;;
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
    free) "$nvmevm" bench --drive "$file" --rw randwrite --bs 64k --qd 32 --mode irq \
            --runtime $((runtime + 2)) --json --no-progress >"$neighbour_json" & pid=$! ;;
    limited) "$nvmevm" bench --drive "$file" --rw randwrite --bs 64k --qd 32 --mode irq \
               --runtime $((runtime + 2)) --bw-limit "$limit" --json --no-progress >"$neighbour_json" & pid=$! ;;
  esac
  [ -n "$pid" ] && sleep 1  # the neighbour is at full speed before the victim starts
  "$nvmevm" bench --drive "$file" --rw randread --bs 4k --qd 1 --mode irq --runtime "$runtime" \
    --json --no-progress
  [ -n "$pid" ] && wait "$pid"
  [ -s "$neighbour_json" ] && echo "NEIGHBOUR $1 $(field "$(cat "$neighbour_json")" mbps) MB/s" >&2
  rm -f "$neighbour_json"
}

declare -A p50 p99 iops
for r in $(seq "$rounds"); do
  for case_ in none free limited; do
    json=$(round "$case_")
    p50[$case_]+="$(field "$json" p50) " p99[$case_]+="$(field "$json" p99) " iops[$case_]+="$(field "$json" iops) "
    echo "NN-ROUND $r neighbour=$case_ iops=$(field "$json" iops) p50_ns=$(field "$json" p50) p99_ns=$(field "$json" p99)"
  done
done

median() { tr ' ' '\n' <<<"$1" | grep . | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
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
