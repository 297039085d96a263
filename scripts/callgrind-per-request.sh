#!/usr/bin/env bash
# Instructions nvmevm spends per request (docs/virtio-blk.md, "Instructions per request"):
# callgrind counts the instructions of two `nvmevm bench` runs, null engine, QD32, that differ
# only in their number of requests; the difference divided by the difference in requests
# leaves boot and setup out. Counts instructions, not time: repeatable whatever else the
# machine does. Needs /dev/kvm; without one, run it in the nested lab, naming valgrind's
# folder so that it travels along:
#   scripts/callgrind-per-request.sh build/nvmevm [SMALL_OPS LARGE_OPS [GUEST]]
# GUEST: a test guest ELF to boot instead of the built-in one (bench --guest), so that two
# nvmevm builds can be compared on the very same guest.
#   scripts/lab-command.sh --carry /usr/bin/valgrind --carry /usr/bin/valgrind.bin \
#     --carry /usr/libexec/valgrind -- \
#     scripts/callgrind-per-request.sh $PWD/build/nvmevm 2000 6000
set -euo pipefail
nvmevm=${1:?usage: callgrind-per-request.sh NVMEVM [SMALL_OPS LARGE_OPS]}
small=${2:-20000} large=${3:-60000}
guest_args=()
[ -n "${4:-}" ] && guest_args=(--guest "$4")
command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 2; }

# instructions OPS: callgrind's "Collected" total for one run of OPS requests.
instructions() {
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$nvmevm" bench --null 64 --qd 32 \
    --ops "$1" --no-seccomp --no-progress "${guest_args[@]}" 2>&1 >/dev/null | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
a=$(instructions "$small")
b=$(instructions "$large")
[[ -n $a && -n $b ]] || { echo "no callgrind totals (valgrind failed?)" >&2; exit 1; }
echo "instructions: $small requests $a, $large requests $b"
echo "per request: ($b - $a) / $((large - small)) = $(((b - a) / (large - small)))"
