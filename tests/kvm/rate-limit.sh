#!/usr/bin/env bash
# `nvmevm bench` on drives with I/O limits (docs/rate-limits.md), as behaviour rather than as a
# benchmark: a run of N requests can never end sooner than the limit allows (the tokens a full
# bucket and the burst hold, then the rate), and a queue the limit holds back is woken when its
# tokens arrive (a lost wake-up would leave it to the 2 ms watchdog: far below half the rate).
#   rate-limit.sh NVMEVM
# Without a usable /dev/kvm here, it runs itself in the nested lab (tests/kvm/need.sh).
set -uo pipefail
. "$(dirname "$0")/need.sh"
nvmevm=$1
fail=0

# field JSON NAME: the number after "NAME": in the bench's JSON line.
field() { grep -o "\"$2\":[0-9.]*" <<<"$1" | head -1 | cut -d: -f2; }

# check LABEL ALLOWED_NS -- BENCH_ARGS: the run takes at least ALLOWED_NS (less 1% for the
# guest's TSC-based clock) and at most twice that, and the limit held requests back.
check() {
  local label=$1 allowed_ns=$2
  shift 3
  local json
  if ! json=$("$nvmevm" bench --json --no-progress "$@"); then
    echo "FAIL: $label: nvmevm bench $* failed"
    fail=1
    return
  fi
  local elapsed throttled errors
  elapsed=$(field "$json" elapsed_ns) throttled=$(field "$json" blk_throttled)
  errors=$(field "$json" errors)
  echo "$label: elapsed ${elapsed} ns, at least ${allowed_ns} ns allowed; throttled ${throttled}"
  if ! awk -v e="$elapsed" -v a="$allowed_ns" 'BEGIN { exit !(e >= 0.99 * a) }'; then
    echo "FAIL: $label: done in ${elapsed} ns, sooner than the limit allows (${allowed_ns} ns)"
    fail=1
  fi
  if ! awk -v e="$elapsed" -v a="$allowed_ns" 'BEGIN { exit !(e <= 2 * a) }'; then
    echo "FAIL: $label: ${elapsed} ns is more than twice the ${allowed_ns} ns the limit allows:"
    echo "      throttled queues are not woken when their tokens arrive"
    fail=1
  fi
  [ "${throttled:-0}" -gt 0 ] || { echo "FAIL: $label: the limit never held a request back"; fail=1; }
  [ "${errors:-1}" -eq 0 ] || { echo "FAIL: $label: $errors request(s) failed"; fail=1; }
}

# Buckets refill every 10 ms (bench's default): a full bucket is 1/100 of a second's worth.
# 3000 requests at 2000 op/s, 20 of them from the full bucket: 1.49 s at least.
check "ops qd8" $(((3000 - 20) * 1000000000 / 2000)) -- --null 64 --qd 8 --ops 3000 --iops-limit 2000
check "ops qd1 irq" $(((1500 - 10) * 1000000000 / 1000)) -- --null 64 --qd 1 --ops 1500 --iops-limit 1000 --mode irq
# A bucket of one token (1 ms at 1000 op/s) keeps nothing in reserve: a queue woken later than
# its token arrived loses time for good, so this one shows that the wake-up comes on time (the
# 2 ms watchdog alone would give 500 op/s at most).
check "ops qd2 1ms bucket" $(((1500 - 1) * 1000000000 / 1000)) -- --null 64 --qd 2 --ops 1500 --iops-limit 1000 --limit-refill-ms 1
# 600 x 64 KiB at 20 MB/s, 200,000 bytes from the full bucket.
check "bytes 64k qd4" $(((600 * 65536 - 200000) * 1000000000 / 20000000)) -- --null 64 --qd 4 --bs 64k --ops 600 --bw-limit 20MB
# A one-time burst of 1000 on top: 2500 requests, 10 + 1000 of them free, then 1000 op/s.
check "burst once" $(((2500 - 10 - 1000) * 1000000000 / 1000)) -- --null 64 --qd 8 --ops 2500 --iops-limit 1000 --iops-burst 1000
[ $fail -eq 0 ] && echo "ok: every limit held, and every throttled queue was woken in time"
exit $fail
