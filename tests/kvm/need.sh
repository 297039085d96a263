# shellcheck shell=bash
# Sourced by the kvm test scripts before anything else: what a test needs from the machine, and
# where it runs when this machine lacks it. A test never skips for want of KVM, root or
# device-mapper: it runs the very same command inside the nested lab's L1 (docs/lab.md,
# scripts/lab-command.sh), which has all three. Inside the lab, a missing need is a failure.
#   . "$(dirname "$0")/need.sh"        # this test needs a usable /dev/kvm
#   need_or_lab "device-mapper" dm_usable "$@"   # ... and whatever dm_usable checks
# NVMEVM_KVM_VIA_LAB=1 sends every test to the lab even where this machine has /dev/kvm (to
# check the lab route itself).

kvm_usable() { [ -c /dev/kvm ] && [ -r /dev/kvm ] && [ -w /dev/kvm ]; }

# need_or_lab WHAT CHECK ARGS...: returns when CHECK succeeds here; otherwise runs this script
# with ARGS in the lab and exits with its verdict (or fails, when already in the lab).
need_or_lab() {
  local what=$1 check=$2
  shift 2
  if [ -z "${NVMEVM_IN_LAB:-}" ] && [ -n "${NVMEVM_KVM_VIA_LAB:-}" ]; then
    :
  elif "$check"; then
    return 0
  elif [ -n "${NVMEVM_IN_LAB:-}" ]; then
    echo "FAIL: $what is missing even in the lab" >&2
    exit 1
  fi
  echo "no $what here${NVMEVM_KVM_VIA_LAB:+ (NVMEVM_KVM_VIA_LAB is set)}: running in the nested lab"
  exec "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lab-command.sh" -- "$0" "$@"
}

need_or_lab "usable /dev/kvm" kvm_usable "$@"
