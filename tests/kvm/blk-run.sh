#!/usr/bin/env bash
# Runs the test guest's virtio-blk suite (`blk`) against real files on this machine's /dev/kvm.
#   blk-run.sh NVMEVM GUEST [options] -- GUEST_WORDS...
# options:
#   --vcpus N          vCPUs (default 1)
#   --drives N         number of drives, each a fresh file (default 1)
#   --size MIB         size of each drive file (default 8)
#   --read-only        the drives are read-only: also checks that their files are unchanged
#   --dir DIR          where the drive files go (default: a fresh folder under /tmp)
#   --engine E         uring (default) or null
#   --expect CODE      expected exit code (default 16: the suite passed)
# Exits 77 (ctest: skipped) when there is no usable /dev/kvm.
set -uo pipefail
nvmevm=$1 guest=$2
shift 2
vcpus=1 drives=1 size=8 read_only=false dir="" engine=uring expect=16
while [ $# -gt 0 ]; do
  case $1 in
    --vcpus) vcpus=$2; shift 2 ;;
    --drives) drives=$2; shift 2 ;;
    --size) size=$2; shift 2 ;;
    --read-only) read_only=true; shift ;;
    --dir) dir=$2; shift 2 ;;
    --engine) engine=$2; shift 2 ;;
    --expect) expect=$2; shift 2 ;;
    --) shift; break ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
words="$*"
if [ ! -c /dev/kvm ] || ! [ -r /dev/kvm ] || ! [ -w /dev/kvm ]; then
  echo "no usable /dev/kvm: skipped"
  exit 77
fi
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
if $read_only && [ "$before" != "$after" ]; then
  echo "FAIL: a read-only drive's file changed" >&2
  fail=1
fi
[ $fail -eq 0 ] && echo "ok: exit code $rc"
exit $fail
