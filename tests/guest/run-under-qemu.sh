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
# QEMU gets two vCPUs (-smp 2, one host thread each): `smp` starts the second, and so does
# `blk` for its mq check (vCPU i drives queue i); `irq` runs the blk modes with MSI-X.
# --check also boots the virtio-blk modes (`blk`, `blkinfo`) against QEMU's modern
# virtio-blk-pci (disable-legacy=on) on scratch disk images: read-write with two queues,
# read-only, without EVENT_IDX/indirect descriptors (device properties and guest words), one
# small queue, two devices, and none; and `bench` (one NVMEVM-BENCH line; poll and irq, a
# capped queue depth, buffers too big, a bad option, failed requests, no device, two devices
# at once, offsets shifted off the bs grid up to the disk's last sector).
# Full `blk` runs must print what tests/kvm/blk-expect.sh requires (the same lines the kvm tests
# require of nvmevm): every check of a feature the device offers PASSes, SKIPs only where its
# allow-list explains them. A setup step that fails counts as a failed check.
# Environment: QEMU (default qemu-system-x86_64), TIMEOUT seconds per boot (default 30).
set -u
. "$(dirname "$0")/../kvm/blk-expect.sh"

QEMU=${QEMU:-qemu-system-x86_64}
TIMEOUT=${TIMEOUT:-30}

# Extra QEMU arguments for the next boots (the virtio-blk checks set devices here).
EXTRA=()

boot() {  # boot GUEST CMDLINE: serial output on stdout, returns QEMU's exit code
    # thread=multi: one host thread per vCPU (QEMU 7.2 here defaults to one for all), so the
    # two vCPUs of the smp and mq checks really run at the same time.
    timeout "$TIMEOUT" "$QEMU" -M q35 -accel tcg,thread=multi -nodefaults -display none -no-reboot \
        -m 64 -smp 2 -serial stdio -kernel "$1" -append "$2" \
        -device isa-debug-exit,iobase=0xf4,iosize=4 "${EXTRA[@]}" </dev/null
}

# blkdev ID FILE DRIVE_OPTS DEVICE_OPTS: QEMU arguments for one modern virtio-blk-pci device.
blkdev() {
    EXTRA+=(-drive "file=$2,if=none,id=$1,format=raw$3"
        -device "virtio-blk-pci,drive=$1,disable-legacy=on$4")
}

blk_checks() {  # blk_checks GUEST
    local g=$1 dir
    dir=$(mktemp -d) || return 1
    truncate -s 8M "$dir/a.img" && truncate -s 1G "$dir/big.img" && truncate -s 4M "$dir/ro.img" ||
        return 1
    local allpass=("-FAIL" "+blk: " "+ 0 failed" "+exit status=0")

    EXTRA=()
    blkdev d0 "$dir/a.img" ",discard=unmap" ",num-queues=2,serial=testserial"
    check "$g" "blkinfo" 1 "+blkinfo: 1 virtio-blk device(s)" "+capacity=16384" \
        "+negotiated: 0x" "+queue 1: size "
    check "$g" "blk" 1 "${allpass[@]}" "@blk 2 false" '+PASS get-id serial="testserial"' \
        "+PASS mq (2 vCPUs at once" "+blk: 2 vCPU(s) running, polling"
    # Interrupt-driven completion: MSI-X to the vCPU that drives the queue, halting waits.
    check "$g" "blk irq" 1 "${allpass[@]}" "@blk 2 false" \
        "+2 vCPU(s) running, interrupts (MSI-X, halting)" "+PASS mq (2 vCPUs at once"
    check "$g" "blk nosmp" 1 "${allpass[@]}" "@blk 2 false" "+vCPU 0 only (nosmp)" \
        "+PASS mq (1 vCPU, 2 queues"
    check "$g" "blk irq nosmp noevtidx" 1 "${allpass[@]}" "@blk 2 false" "+PASS mq (1 vCPU, 2 queues"
    check "$g" "blkbench" 1 "+bench qd1: 2000 x 4 KiB reads" "+bench qd8: 2000 x" "-FAIL"
    check "$g" "blkbench irq" 1 "+bench qd1: 2000 x 4 KiB reads" "+bench qd8: 2000 x" \
        "+interrupts=" "-FAIL"
    # The microbenchmark (mode_bench.cc): one NVMEVM-BENCH line, a job per vCPU and queue.
    check "$g" "bench rw=randread bs=4096 qd=8 ops=2000 mode=poll" 1 \
        '+NVMEVM-BENCH {"rw":"randread","bs":4096,"qd":8,"jobs":2,"mode":"poll","ops":2000,' \
        '+"lat_ns":{"p50":' '+"errors":0}' '-"devices"' "-FAIL" "+exit status=0"
    check "$g" "bench rw=randwrite bs=65536 qd=4 ops=300 mode=irq jobs=1 tsc_khz=1000000" 1 \
        "+bench: tsc_khz=1000000 (tsc_khz=)" \
        '+NVMEVM-BENCH {"rw":"randwrite","bs":65536,"qd":4,"jobs":1,"mode":"irq","ops":300,' \
        '-"interrupts":0,' '+"errors":0}' "-FAIL" "+exit status=0"
    # QEMU's queues have 256 entries: a deeper qd is capped at the ring size.
    check "$g" "bench rw=read bs=512 qd=300 runtime_ms=50 nomq" 1 "+qd=300 capped at 256" \
        '+NVMEVM-BENCH {"rw":"read","bs":512,"qd":256,"jobs":1,"mode":"poll","ops":' \
        '+"errors":0}' "+exit status=0"
    check "$g" "bench bs=1048576 qd=100" 3 "+bench: FAIL buffers need" "-NVMEVM-BENCH"
    check "$g" "bench qd=0" 3 "+bad bench option: qd=0" "-NVMEVM-BENCH"
    check "$g" "bench devices=9" 3 "+bad bench option: devices=9" "-NVMEVM-BENCH"
    check "$g" "bench misalign=8" 3 "+bad bench option: misalign=8" "-NVMEVM-BENCH"
    check "$g" "bench rw=randwrite misalign=3 qd=4 ops=400" 1 \
        '+NVMEVM-BENCH {"rw":"randwrite","bs":4096,"misalign":3,"qd":4,"jobs":2,' '+"errors":0}' \
        "-FAIL" "+exit status=0"
    check "$g" "bench devices=2" 3 "+bench: FAIL devices=2 but the VM has 1 virtio-blk device(s)" \
        "-NVMEVM-BENCH"
    check "$g" "blk noevtidx noindirect nomq status=4" 9 "-FAIL" "+ 0 failed" "@blk 2 false" \
        "+SKIP write-read-indirect" "+SKIP mq" "+exit status=4"

    # Failed requests (QEMU's blkdebug, over a raw image, fails every write): the line, errors
    # counted, status 1.
    printf '[inject-error]\nevent = "write_aio"\nerrno = "5"\n' >"$dir/blkdebug.cfg" &&
        truncate -s 8M "$dir/e.img" || return 1
    EXTRA=(-drive "file=blkdebug:$dir/blkdebug.cfg:$dir/e.img,if=none,id=e0,format=raw,werror=report"
        -device "virtio-blk-pci,drive=e0,disable-legacy=on")
    check "$g" "bench rw=randwrite qd=2 ops=20" 3 '+"ops":20,' '-"errors":0}' \
        "+request(s) failed: exit status=1"

    EXTRA=()
    blkdev d0 "$dir/a.img" "" ",num-queues=2,event_idx=off,indirect_desc=off,queue-size=16"
    check "$g" "blk" 1 "${allpass[@]}" "+SKIP write-read-indirect" "+PASS sweep" "+PASS mq" \
        "+size=16"

    # Shifted offsets on a disk of two 32 KiB blocks: misalign=7 leaves room for one, and every
    # request must end inside the disk (one past it fails with IOERR); a disk of one 64 KiB
    # block has none.
    truncate -s 64K "$dir/tiny.img" || return 1
    EXTRA=()
    blkdev t0 "$dir/tiny.img" "" ""
    check "$g" "bench rw=randwrite bs=32768 misalign=7 qd=2 ops=200" 1 \
        '+"bs":32768,"misalign":7,' '+"ops":200,' '+"errors":0}' "+exit status=0"
    check "$g" "bench bs=32768 misalign=0 qd=2 ops=200" 1 '-"misalign"' '+"errors":0}' \
        "+exit status=0"
    check "$g" "bench bs=65536 misalign=1" 3 "+bench: FAIL disk smaller than misalign= plus bs=65536" \
        "-NVMEVM-BENCH"

    EXTRA=()
    blkdev r0 "$dir/ro.img" ",read-only=on" ""
    check "$g" "blk" 1 "${allpass[@]}" "@blk 2 true" "+SKIP write-read (read-only device)"
    check "$g" "blk irq" 1 "${allpass[@]}" "@blk 2 true"

    EXTRA=()
    blkdev d0 "$dir/a.img" "" ",num-queues=1"
    blkdev d1 "$dir/big.img" "" ",num-queues=4,serial=big"
    check "$g" "blk" 1 "${allpass[@]}" "+blk: 2 virtio-blk device(s)" \
        "+SKIP sweep (disk larger than 64 MiB)" "+capacity=2097152" '+serial="big"'
    # Both devices at once (devices=2): job j on device j % 2, the figures per device too.
    check "$g" "bench devices=2 qd=4 ops=2000" 1 \
        '+NVMEVM-BENCH {"rw":"randread","bs":4096,"qd":4,"jobs":2,"mode":"poll","ops":2000,' \
        '+"errors":0,"devices":[{"ops":1000,"iops":' '+}},{"ops":1000,"iops":' "-FAIL" \
        "+exit status=0"
    check "$g" "bench devices=2 rw=randwrite mode=irq ops=400" 1 '+"devices":[{"ops":200,' \
        '+}},{"ops":200,' '-"interrupts":0,' "+exit status=0"
    check "$g" "bench devices=2 jobs=1" 3 "+bench: FAIL devices=2 needs a job per device" \
        "-NVMEVM-BENCH"

    EXTRA=()
    check "$g" "blk" 7 "+blk: FAIL no modern virtio-blk device" "+exit status=3"
    check "$g" "blkinfo" 1 "+blkinfo: 0 virtio-blk device(s)" "+exit status=0"
    check "$g" "bench" 3 "+bench: FAIL no modern virtio-blk device" "-NVMEVM-BENCH"
    rm -rf "$dir"
}

failures=0
# full_blk_run OUTPUT QUEUES READ_ONLY CMDLINE: prints the problems of a `blk` run on one device
# with QUEUES queues, against what tests/kvm/blk-expect.sh requires.
full_blk_run() {
    local file problems
    file=$(mktemp) || { echo "FAIL: mktemp"; return; }
    printf '%s\n' "$1" >"$file"
    # shellcheck disable=SC2086  # CMDLINE: the guest's words
    problems=$(blk_verdict "$file" 1 "$2" "$3" $4)
    rm -f "$file"
    [ -z "$problems" ] || echo "$problems"
}

check() {  # check GUEST CMDLINE EXPECTED_RC [+MUST_CONTAIN | -MUST_NOT_CONTAIN | "@blk QUEUES READ_ONLY"]...
    local guest=$1 cmdline=$2 want_rc=$3 out rc pattern ok=1 problems=""
    shift 3
    out=$(boot "$guest" "$cmdline" 2>&1)
    rc=$?
    [ "$rc" -eq "$want_rc" ] || ok=0
    for pattern in "$@"; do
        case $pattern in
        +*) grep -qF -- "${pattern#+}" <<<"$out" || ok=0 ;;
        -*) grep -qF -- "${pattern#-}" <<<"$out" && ok=0 ;;
        "@blk "*)
            # shellcheck disable=SC2086  # "@blk QUEUES READ_ONLY": two words
            problems+=$(full_blk_run "$out" ${pattern#@blk } "$cmdline")
            [ -z "$problems" ] || ok=0
            ;;
        esac
    done
    if [ "$ok" -eq 1 ]; then
        echo "ok   '$cmdline' (exit $rc)"
    else
        echo "FAIL '$cmdline': exit $rc, wanted $want_rc and $*; ${problems:+$problems; }output:"
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
    # Statuses go up to 255 (nvmevm maps 107-255 to one exit code, docs/exit-codes.md); QEMU's
    # isa-debug-exit makes status s exit code (2s + 1) mod 256.
    check "$g" "status=240" 225 "+exit status=240 cycles="
    check "$g" "status=256" 3 "+bad status: status=256"
    check "$g" "badio status=5" 11 "+badio: inb 0x2f0 = 0xff" "+badio: inl 0x2f0 = 0xffffffff" \
        "+badio: read32 0xd0000000 = " "+badio: still running" "+exit status=5"
    check "$g" "cpus" 1 "+cpus=2"
    check "$g" "smp" 1 "+cpu 0 up" "+cpu 1 up (APIC ID 1, running on vCPU 1)" \
        "+smp: 2 of 2 vCPU(s) up" "+interrupts work" "+lock xadd sum 400000 ok" "-FAIL" \
        "+exit status=0"
    check "$g" "info status=3" 7 '+info: cmdline="info status=3"' "+info: memmap_entries="
    check "$g" "reset" 0 "+guest: reset" "-did not end"
    check "$g" "crash" 0 "+guest: crash" "-did not end"
    check "$g" "poweroff" 255 "+guest: poweroff" "+ACPI S5 power-off did not end the VM"
    # A blk check that could not even set up its disk images is a failure, not a pass.
    blk_checks "$g" || { echo "FAIL blk checks: could not make their disk images"; failures=$((failures + 1)); }
    if [ "$failures" -ne 0 ]; then
        echo "$failures check(s) failed"
        exit 1
    fi
    echo "all checks passed"
    exit 0
fi

[ $# -ge 1 ] && [ $# -le 2 ] || { echo "usage: $0 GUEST [CMDLINE] | --check GUEST" >&2; exit 2; }
boot "$1" "${2:-hello}"
