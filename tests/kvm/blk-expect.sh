# shellcheck shell=bash
# What a run of the test guest's `blk` and `hostile` modes must print (tests/guest/mode_blk.cc,
# mode_hostile.cc). Sourced by tests/kvm/blk-run.sh (under nvmevm) and
# tests/guest/run-under-qemu.sh (under QEMU), so both hold the guest to the same lines.
#
# Why: the guest prints SKIP where a device lacks a feature (FLUSH, DISCARD, WRITE_ZEROES, MQ,
# INDIRECT_DESC) and has no FAIL to print for a device that is not there at all, so "exit 16
# and no FAIL" passes a device that stopped offering a feature, or a missing second drive. Here
# every device must PASS a named list of checks, the device count must be the one configured,
# and a SKIP fails unless the allow-list below explains it.

# has_word WORD WORDS...: WORD is one of WORDS.
has_word() {
  local word=$1
  shift
  [[ " $* " == *" $word "* ]]
}

# blk_required_checks QUEUES READ_ONLY WORDS...: the checks `blk` must PASS on every device (the
# word after PASS), for a device with QUEUES queues, read-only or not (true/false), and the
# guest's words. Every feature the device offers has its check here.
blk_required_checks() {
  local queues=$1 read_only=$2
  shift 2
  echo init capacity get-id read-past-end read-across-end read-far-past-end unknown-type \
    used-len reset
  if $read_only; then
    echo ro-read ro-write
  else
    echo write-read sweep flush discard write-zeroes write-zeroes-unmap write-across-end
    has_word noindirect "$@" || echo write-read-indirect
  fi
  ((queues >= 2)) && ! has_word nomq "$@" && echo mq
  has_word irq "$@" && echo irq
  return 0
}

# blk_allowed_skips QUEUES READ_ONLY WORDS...: the SKIP lines (text after "SKIP ") a `blk` run
# may print, each with the reason it is no missing feature. Any other SKIP fails the run.
blk_allowed_skips() {
  local queues=$1 read_only=$2
  shift 2
  # A read-only device: the write checks give way to ro-read and ro-write (required instead).
  $read_only && echo "write-read (read-only device)"
  # One queue (nvmevm gives a drive one queue per vCPU): there is no second queue to test.
  ((queues < 2)) && echo "mq (device has fewer than 2 queues)"
  # The guest was told not to negotiate these (its own words), the device still offers them.
  has_word noindirect "$@" && echo "write-read-indirect (INDIRECT_DESC not negotiated)"
  has_word nomq "$@" && echo "mq (MQ not offered or not negotiated)"
  return 0
}

# The cases `hostile` runs against the first device (mode_hostile.cc, in its order); each must
# PASS. Every further device must PASS `other-device-works`. No SKIP is allowed: the only one
# the guest has is for a device without INDIRECT_DESC, which nvmevm and QEMU both offer.
HOSTILE_CASES=(baseline-write-read read-into-address-outside-ram write-from-address-outside-ram
  header-outside-ram address-plus-length-wraps chain-loops next-beyond-queue
  chain-longer-than-indirect-limit indirect-chain-loops chain-of-queue-size indirect-in-indirect
  indirect-with-next indirect-table-outside-ram indirect-table-len-not-multiple-of-16
  indirect-table-len-0 indirect-table-wraps indirect-table-misaligned device-writable-header
  device-readable-status header-only missing-status short-header read-beyond-end
  write-beyond-end read-sector-overflow write-sector-overflow read-sector-times-512-overflows
  avail-idx-ahead-by-more-than-size avail-head-out-of-range notify-missing-queue
  desc-table-outside-ram desc-table-wraps queue-size-not-power-of-two queue-size-0
  desc-table-misaligned avail-ring-misaligned used-ring-misaligned stray-register-writes
  reset-with-requests-in-flight)

# guest_devices OUTPUT: the PCI addresses (bus:slot) of the devices the guest reported on, in
# the order it first printed them.
guest_devices() {
  grep -oE 'blk [0-9a-f]{2}:[0-9a-f]{2} (PASS|FAIL|SKIP)' "$1" | awk '!seen[$2]++ { print $2 }'
}

# expect_pass OUTPUT DEVICE CHECK: prints a FAIL line unless DEVICE printed "PASS CHECK" (the
# check's name ends at a space, "=" or the line's end).
expect_pass() {
  grep -qE "blk $2 PASS $3( |=|\$)" "$1" && return 0
  echo "FAIL: device $2 did not print PASS $3"
  return 1
}

# expect_skips_allowed OUTPUT ALLOWED...: prints a FAIL line for every SKIP not in ALLOWED.
# (Here-strings, not process substitution: the nested lab's L1 has no /dev/fd.)
expect_skips_allowed() {
  local output=$1 skips skip allowed ok=0
  shift
  skips=$(sed -n 's/.* blk [0-9a-f][0-9a-f]:[0-9a-f][0-9a-f] SKIP //p' "$output") || return 1
  while IFS= read -r skip; do
    [ -n "$skip" ] || continue
    for allowed in "$@"; do
      [[ $skip == "$allowed" ]] && continue 2
    done
    echo "FAIL: SKIP $skip (not on the allow-list in tests/kvm/blk-expect.sh)"
    ok=1
  done <<<"$skips"
  return $ok
}

# expect_device_count OUTPUT COUNT: the guest reported on exactly COUNT devices.
expect_device_count() {
  local seen
  seen=$(guest_devices "$1" | wc -l)
  [ "$seen" -eq "$2" ] && return 0
  echo "FAIL: the guest reported on $seen virtio-blk device(s), expected $2"
  return 1
}

# blk_verdict OUTPUT DEVICES QUEUES READ_ONLY WORDS...: checks the output of a `blk` run:
# device count, every required check on every device, only allowed SKIPs. Prints one FAIL line
# per problem; returns 1 if there was any.
blk_verdict() {
  local output=$1 devices=$2 queues=$3 read_only=$4 ok=0 device check
  shift 4
  local required allowed=()
  required=$(blk_required_checks "$queues" "$read_only" "$@")
  mapfile -t allowed <<<"$(blk_allowed_skips "$queues" "$read_only" "$@")"
  grep -qF "blk: $devices virtio-blk device(s)" "$output" ||
    { echo "FAIL: the guest did not find $devices virtio-blk device(s)"; ok=1; }
  expect_device_count "$output" "$devices" || ok=1
  for device in $(guest_devices "$output"); do
    for check in $required; do
      expect_pass "$output" "$device" "$check" || ok=1
    done
  done
  expect_skips_allowed "$output" "${allowed[@]}" || ok=1
  return $ok
}

# hostile_verdict OUTPUT DEVICES: checks the output of a `hostile` run: every case passed on the
# first device, every other device passed other-device-works, no SKIP at all.
hostile_verdict() {
  local output=$1 devices=$2 ok=0 device first="" case
  expect_device_count "$output" "$devices" || ok=1
  for device in $(guest_devices "$output"); do
    if [ -z "$first" ]; then
      first=$device
      for case in "${HOSTILE_CASES[@]}"; do
        expect_pass "$output" "$device" "hostile $case" || ok=1
      done
    else
      expect_pass "$output" "$device" "hostile other-device-works" || ok=1
    fi
  done
  expect_skips_allowed "$output" || ok=1
  return $ok
}
