#!/usr/bin/env python3
"""Boot benchmark: time to the guest's first instruction, time to the guest's exit, and peak
memory, for nvmevm and for QEMU booting the same test guest, interleaved in one run.

    scripts/bench-boot.py [--runs 20] [--build build] [--json out.json]

nvmevm reports the time of the test guest's first instruction itself: that instruction writes
to the guest control port's boot-mark register (docs/platform.md), and nvmevm logs when it
saw it, counted from nvmevm's static initialisation. Wall times are measured here, from fork
to exit. Peak RSS is VmHWM sampled while the process runs; nvmevm also reports its own peak at exit with
the guest RAM it touched taken out.
QEMU (microvm machine, KVM, PVH boot of the same ELF) ends through isa-debug-exit placed on the
same port, so both run the identical guest program. Results are medians; ratios are nvmevm/QEMU.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def vm_hwm_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def run(argv):
    """Runs argv; returns exit code, output, wall ms, peak RSS in KiB, rusage.

    Peak RSS is sampled from /proc/PID/status (VmHWM) while the process runs: wait4's
    ru_maxrss would include the RSS of this Python process, which the child starts as a fork of.
    """
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    os.set_blocking(proc.stdout.fileno(), False)
    chunks, peak = [], 0
    while True:
        hwm = vm_hwm_kib(proc.pid)
        if hwm:
            peak = max(peak, hwm)
        data = proc.stdout.read()
        if data:
            chunks.append(data)
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        time.sleep(0.0002)
    wall_ms = (time.perf_counter() - start) * 1000
    os.set_blocking(proc.stdout.fileno(), True)
    chunks.append(proc.stdout.read() or b"")
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, b"".join(chunks).decode(errors="replace"), wall_ms, peak, usage


def nvmevm_run(build, guest):
    argv = [os.path.join(build, "nvmevm"), "run", "--config", os.path.join(ROOT, "examples/hello.toml"),
            "--kernel", guest, "--log-level", "info", "--cmdline", "hello"]
    rc, out, wall_ms, maxrss_kib, usage = run(argv)
    if rc != 16:
        sys.exit(f"nvmevm exited {rc}, expected 16:\n{out}")
    first = re.search(r"boot mark 0 at ([0-9.]+) ms", out)
    own = re.search(r"nvmevm's own ([0-9]+) KiB", out)
    return {
        "wall_ms": wall_ms,
        "first_instruction_ms": float(first.group(1)) if first else None,
        "maxrss_kib": maxrss_kib,
        "own_rss_kib": int(own.group(1)) if own else None,
        "cpu_ms": (usage.ru_utime + usage.ru_stime) * 1000,
    }


def qemu_run(guest):
    argv = ["qemu-system-x86_64", "-M", "microvm,x-option-roms=off,rtc=off", "-accel", "kvm",
            "-cpu", "host,-arch-capabilities", "-m", "32", "-smp", "1", "-nodefaults",
            "-no-user-config", "-nographic", "-serial", "stdio", "-kernel", guest, "-append", "hello",
            "-device", "isa-debug-exit,iobase=0x610,iosize=0x04"]
    rc, out, wall_ms, maxrss_kib, usage = run(argv)
    # isa-debug-exit exits with (value << 1) | 1: status 0 -> 1.
    if rc != 1 or "hello" not in out:
        sys.exit(f"qemu exited {rc}, expected 1:\n{out}")
    return {"wall_ms": wall_ms, "maxrss_kib": maxrss_kib, "cpu_ms": (usage.ru_utime + usage.ru_stime) * 1000}


def median(rows, key):
    values = [r[key] for r in rows if r.get(key) is not None]
    return statistics.median(values) if values else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--json")
    ap.add_argument("--no-qemu", action="store_true")
    args = ap.parse_args()
    guest = os.path.join(args.build, "tests/guest/nvmevm-test-guest")
    nv, qe = [], []
    for _ in range(args.runs):
        nv.append(nvmevm_run(args.build, guest))
        if not args.no_qemu:
            qe.append(qemu_run(guest))
    result = {"runs": args.runs, "nvmevm": {k: median(nv, k) for k in nv[0]},
              "qemu": {k: median(qe, k) for k in qe[0]} if qe else None}
    n, q = result["nvmevm"], result["qemu"]
    print(f"| measure (median of {args.runs}) | nvmevm | QEMU microvm | nvmevm/QEMU |")
    print("|---|---|---|---|")
    def row(name, key, unit, fmt="{:.2f}"):
        nvv = n.get(key)
        qv = q.get(key) if q else None
        ratio = f"{nvv / qv:.3f}" if nvv is not None and qv else "-"
        print(f"| {name} | {fmt.format(nvv) + ' ' + unit if nvv is not None else '-'} | "
              f"{fmt.format(qv) + ' ' + unit if qv is not None else '-'} | {ratio} |")
    row("start to first guest instruction", "first_instruction_ms", "ms", "{:.3f}")
    row("start to guest exit (wall)", "wall_ms", "ms")
    row("CPU time (user+sys)", "cpu_ms", "ms")
    row("peak RSS incl. guest RAM touched (sampled VmHWM)", "maxrss_kib", "KiB", "{:.0f}")
    row("peak RSS excluding guest RAM (nvmevm's own report)", "own_rss_kib", "KiB", "{:.0f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"summary": result, "nvmevm_runs": nv, "qemu_runs": qe}, f, indent=1)


if __name__ == "__main__":
    main()
