#!/usr/bin/env bash
# Runs the test guest's virtio-blk suite (`blk`) or its misbehaving driver (`hostile`) against
# real files on this machine's /dev/kvm.
#   blk-run.sh NVMEVM GUEST [options] -- blk|hostile [GUEST_WORDS...]
# options:
#   --vcpus N          vCPUs (default 1)
#   --drives N         number of drives, each a fresh file (default 1)
#   --size MIB         size of each drive file (default 8)
#   --read-only        the drives are read-only: also checks that their files are unchanged
#   --dir DIR          where the drive files go (default: a fresh folder under /tmp)
#   --engine E         uring (default) or null
#   --expect CODE      expected exit code (default 16: the suite passed)
#   --require TEXT     every device must also print "PASS TEXT" (repeatable), for what a test
#                      promises beyond the defaults, e.g. "mq (2 vCPUs at once"
#   --rate-limit TOML  the drives' [drive.rate_limit] lines (docs/rate-limits.md), e.g.
#                      'ops = { size = 20, refill_time_ms = 10 }'; the run must then also show
#                      that the limit held requests back (blk_throttled > 0 in the stats line)
# With the default --expect, the run passes only with the lines tests/kvm/blk-expect.sh
# requires of the mode: one device per drive, every device PASSing every check of a feature
# nvmevm offers, and no SKIP off its allow-list.
# Without a usable /dev/kvm here, it runs itself in the nested lab (tests/kvm/need.sh).
set -uo pipefail
# Needs /dev/kvm: where this machine has none, the same command runs in the nested lab.
. "$(dirname "$0")/need.sh"
. "$(dirname "$0")/blk-expect.sh"
nvmevm=$1 guest=$2
shift 2
vcpus=1 drives=1 size=8 read_only=false dir="" engine=uring expect=16 required=() rate_limit=
while [ $# -gt 0 ]; do
  case $1 in
    --vcpus) vcpus=$2; shift 2 ;;
    --drives) drives=$2; shift 2 ;;
    --size) size=$2; shift 2 ;;
    --read-only) read_only=true; shift ;;
    --dir) dir=$2; shift 2 ;;
    --engine) engine=$2; shift 2 ;;
    --expect) expect=$2; shift 2 ;;
    --require) required+=("$2"); shift 2 ;;
    --rate-limit) rate_limit=$2; shift 2 ;;
    --) shift; break ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
words="$*"
guest_words=("$@")
mode=${1:-}
case $mode in
  blk | hostile) ;;
  *) echo "blk-run.sh: the guest mode must be blk or hostile, not '$mode'" >&2; exit 2 ;;
esac

# guest_lines_verdict OUTPUT: what the guest printed is what a full run of the mode prints
# (blk-expect.sh). nvmevm gives each drive one queue per vCPU (vmm/block_devices.cc).
guest_lines_verdict() {
  local ok=0 device text
  if [ "$mode" = blk ]; then
    blk_verdict "$1" "$drives" "$vcpus" "$read_only" "${guest_words[@]}" || ok=1
  else
    hostile_verdict "$1" "$drives" || ok=1
  fi
  for text in "${required[@]}"; do
    for device in $(guest_devices "$1"); do
      grep -qF "blk $device PASS $text" "$1" && continue
      echo "FAIL: device $device did not print PASS $text"
      ok=1
    done
  done
  return $ok
}

work=$(mktemp -d)
disks=()
trap 'rm -rf "$work" "${disks[@]}"' EXIT
[ -n "$dir" ] || dir=$work
mkdir -p "$dir"
config=$work/vm.toml
cat >"$config" <<TOML
[machine]
vcpus = $vcpus
memory_mib = 64
[boot]
kernel = "$guest"
cmdline = "$words"
TOML
for i in $(seq 0 $((drives - 1))); do
  disk=$(mktemp "$dir/disk$i.XXXXXX")
  disks+=("$disk")
  # Known, non-zero content, so that a read-only drive that was written to is noticed.
  head -c $((size * 1024 * 1024)) /dev/zero | tr '\0' '\125' >"$disk"
  cat >>"$config" <<TOML
[[drive]]
id = "d$i"
path = "$disk"
read_only = $read_only
engine = "$engine"
TOML
  [ -n "$rate_limit" ] && printf '[drive.rate_limit]\n%s\n' "$rate_limit" >>"$config"
done
before=$(sha256sum "${disks[@]}" | awk '{print $1}')
out=$work/out.log
timeout 120 "$nvmevm" run --config "$config" --log-level info >"$out" 2>&1
rc=$?
cat "$out"
after=$(sha256sum "${disks[@]}" | awk '{print $1}')
fail=0
if [ "$rc" -ne "$expect" ]; then
  echo "FAIL: exit code $rc, expected $expect" >&2
  fail=1
fi
if grep -q "FAIL" "$out"; then
  echo "FAIL: the guest reported failed checks" >&2
  fail=1
fi
if [ "$expect" -eq 16 ] && ! guest_lines_verdict "$out" >&2; then
  fail=1
fi
if [ -n "$rate_limit" ] && ! grep -q "blk_throttled=[1-9]" "$out"; then
  echo "FAIL: the drives have a rate limit, but it never held a request back" >&2
  fail=1
fi
if $read_only && [ "$before" != "$after" ]; then
  echo "FAIL: a read-only drive's file changed" >&2
  fail=1
fi
[ $fail -eq 0 ] && echo "ok: exit code $rc"
exit $fail
