#!/usr/bin/env bash
# Boots the nvmevm test guest under QEMU (TCG, no /dev/kvm needed): a check of the guest
# itself, independent of nvmevm. QEMU boots it through its PVH note, like nvmevm.
#
#   run-under-qemu.sh GUEST [CMDLINE]   boot once; serial on stdout; exit code is QEMU's
#   run-under-qemu.sh --check GUEST     boot every mode, check output and exit codes
#
# nvmevm's guest control port (0x610) does nothing in QEMU, so the guest falls back to
# QEMU's isa-debug-exit device at 0xf4: QEMU then exits with 2 * status + 1. Reset and
# triple faults end QEMU with 0 (-no-reboot). ACPI S5 at port 0x600 is nvmevm's; q35 has
# PM1a control elsewhere, so `poweroff` shows the guest's fallback under QEMU.
# Environment: QEMU (default qemu-system-x86_64), TIMEOUT seconds per boot (default 30).
set -u

QEMU=${QEMU:-qemu-system-x86_64}
TIMEOUT=${TIMEOUT:-30}

boot() {  # boot GUEST CMDLINE: serial output on stdout, returns QEMU's exit code
    timeout "$TIMEOUT" "$QEMU" -M q35 -accel tcg -nodefaults -display none -no-reboot \
        -m 64 -smp 2 -serial stdio -kernel "$1" -append "$2" \
        -device isa-debug-exit,iobase=0xf4,iosize=4 </dev/null
}

failures=0
check() {  # check GUEST CMDLINE EXPECTED_RC [+MUST_CONTAIN | -MUST_NOT_CONTAIN]...
    local guest=$1 cmdline=$2 want_rc=$3 out rc pattern ok=1
    shift 3
    out=$(boot "$guest" "$cmdline" 2>&1)
    rc=$?
    [ "$rc" -eq "$want_rc" ] || ok=0
    for pattern in "$@"; do
        case $pattern in
        +*) grep -qF -- "${pattern#+}" <<<"$out" || ok=0 ;;
        -*) grep -qF -- "${pattern#-}" <<<"$out" && ok=0 ;;
        esac
    done
    if [ "$ok" -eq 1 ]; then
        echo "ok   '$cmdline' (exit $rc)"
    else
        echo "FAIL '$cmdline': exit $rc, wanted $want_rc and $*; output:"
        sed 's/^/    /' <<<"$out"
        failures=$((failures + 1))
    fi
}

if [ "${1:-}" = "--check" ]; then
    [ $# -eq 2 ] || { echo "usage: $0 --check GUEST" >&2; exit 2; }
    g=$2
    check "$g" "hello status=7" 15 "+nvmevm test guest: hello" "+exit status=7 cycles="
    check "$g" "" 1 "+nvmevm test guest: hello" "+exit status=0"
    check "$g" "bogus hello" 3 "+unknown word: bogus" "-guest: hello"
    check "$g" "status=240" 3 "+bad status: status=240"
    check "$g" "badio status=5" 11 "+badio: inb 0x2f0 = 0xff" "+badio: inl 0x2f0 = 0xffffffff" \
        "+badio: read32 0xd0000000 = " "+badio: still running" "+exit status=5"
    check "$g" "cpus" 1 "+cpus=2"
    check "$g" "info status=3" 7 '+info: cmdline="info status=3"' "+info: memmap_entries="
    check "$g" "reset" 0 "+guest: reset" "-did not end"
    check "$g" "crash" 0 "+guest: crash" "-did not end"
    check "$g" "poweroff" 255 "+guest: poweroff" "+ACPI S5 power-off did not end the VM"
    if [ "$failures" -ne 0 ]; then
        echo "$failures check(s) failed"
        exit 1
    fi
    echo "all checks passed"
    exit 0
fi

[ $# -ge 1 ] && [ $# -le 2 ] || { echo "usage: $0 GUEST [CMDLINE] | --check GUEST" >&2; exit 2; }
boot "$1" "${2:-hello}"
