#!/usr/bin/env python3
"""I/O benchmark, side by side: nvmevm, QEMU (KVM, virtio-blk-pci on an iothread) and the host
itself (fio, io_uring), on the same backing store, interleaved and repeated in one run.

    scripts/bench-compare.py --quick                  # a first look: a few minutes
    scripts/bench-compare.py --out bench-results      # the whole matrix (long)
    scripts/bench-compare.py --qd 1,32 --rw randread --vcpus 1 --mode poll,irq --backend shm

Both VMMs boot the same benchmark guest (the test guest's `bench` mode; nvmevm the copy built
into its binary, QEMU build/tests/guest/nvmevm-test-guest) with the same command-line words:
the script takes them from `nvmevm bench --json` (`guest_cmdline`) and hands them to QEMU, so
the workload, the TSC rate and the guest code are identical. The guest times its own requests.

CPU time is the whole process's (os.wait4 rusage: every thread, QEMU's iothread and io_uring
workers included). Booting costs QEMU far more than nvmevm here (SeaBIOS runs in emulated ring
0 on this project's /dev/kvm: seconds), so each VMM also boots the guest with `hello` on the
same machine and drive, and `bench CPU` is the run's CPU minus the median of those boots:
`IOPS per CPU-second` uses it. The host runs fio on the same file (no host figure for the null
backend: there is no file).

Backends: `null` (nvmevm's null engine; QEMU's null-co with read-zeroes) and `shm` (a file on
/dev/shm, O_DIRECT everywhere: nvmevm's default, QEMU cache=none, fio --direct=1).
Outputs (in --out): results.json (every run and the medians), results.md (the table),
<backend>-<rw>-<N>vcpu-<mode>.dat and .svg (gnuplot: IOPS and p50/p99 latency against queue
depth). Read ratios, not absolute figures: these machines are shared and noisy
(docs/benchmarks.md). A run that ends without a result does not stop the script: it is left out
of the medians and listed in results.json ("failures") and under the table.
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SYSTEMS = ("nvmevm", "qemu", "host")


def run(argv, timeout_s):
    """Runs argv; returns (exit code, stdout, stderr, CPU seconds of the whole child)."""
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL)
        timer = threading.Timer(timeout_s, proc.kill)
        timer.start()
        try:
            out = proc.stdout.read()
            # wait4 rather than Popen.wait: it hands back the child's rusage (all its threads).
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        return (proc.returncode, out.decode(errors="replace"), err.read().decode(errors="replace"),
                usage.ru_utime + usage.ru_stime)


class RunFailed(Exception):
    """One benchmark run that ended without a result: recorded, and the run goes on."""


def parse_bench_line(text):
    """The guest's `NVMEVM-BENCH {json}` line as a dict, or None."""
    m = re.search(r"NVMEVM-BENCH (\{.*\})", text)
    return json.loads(m.group(1)) if m else None


class Bench:
    def __init__(self, args):
        self.args = args
        self.nvmevm = os.path.join(args.build, "nvmevm")
        self.guest = os.path.join(args.build, "tests/guest/nvmevm-test-guest")
        self.work = tempfile.mkdtemp(prefix="nvmevm-bench-")
        self.shm_file = None
        self.words = {}  # (rw, qd, vcpus, mode) -> the guest words nvmevm used
        self.boot_cpu = {}  # (system, backend, vcpus) -> [CPU seconds of a `hello` boot]

    def close(self):
        shutil.rmtree(self.work, ignore_errors=True)
        if self.shm_file:
            os.unlink(self.shm_file)

    def backing(self, backend):
        """The file a backend reads and writes (None for null), made once, full of data."""
        if backend == "null":
            return None
        if not self.shm_file:
            fd, self.shm_file = tempfile.mkstemp(prefix="nvmevm-bench-", dir="/dev/shm")
            # Real data, not a hole: reading a tmpfs hole costs less than reading a page.
            chunk = os.urandom(1 << 20)
            for _ in range(self.args.size_mib):
                os.write(fd, chunk)
            os.close(fd)
        return self.shm_file

    # -- nvmevm ----------------------------------------------------------------------------
    def nvmevm_bench(self, c):
        a = self.args
        target = (["--null", str(a.size_mib)] if c["backend"] == "null"
                  else ["--drive", self.backing(c["backend"])])
        argv = [self.nvmevm, "bench", *target, "--rw", c["rw"], "--bs", "4k", "--qd", str(c["qd"]),
                "--vcpus", str(c["vcpus"]), "--jobs", str(c["vcpus"]), "--mode", c["mode"],
                "--runtime", str(a.runtime), "--memory", str(a.memory), "--json", "--no-progress"]
        rc, out, err, cpu = run(argv, a.runtime + 120)
        if rc != 0:
            raise RunFailed(f"nvmevm bench exited {rc}:\n{' '.join(argv)}\n{out}{err}")
        r = json.loads(out)
        self.words[(c["rw"], c["qd"], c["vcpus"], c["mode"])] = (r["guest_cmdline"], r["tsc_khz"])
        return {"iops": r["iops"], "ops": r["ops"], "lat_ns": r["lat_ns"], "cpu_s": cpu,
                "exits_per_request": r["host"]["exits_per_request"],
                "kicks_per_request": r["kicks"] / r["ops"] if r["ops"] else None}

    def nvmevm_boot(self, backend, vcpus):
        config = os.path.join(self.work, "boot.toml")
        path = self.backing(backend)
        drive = ('engine = "null"\n' if path is None else f'path = "{path}"\n')
        with open(config, "w") as f:
            f.write(f'[machine]\nvcpus = {vcpus}\nmemory_mib = {self.args.memory}\n'
                    f'[boot]\nkernel = "{self.guest}"\ncmdline = "hello"\n'
                    f'[console]\noutput = "none"\n[[drive]]\nid = "d0"\n{drive}')
        rc, out, err, cpu = run([self.nvmevm, "run", "--config", config], 120)
        if rc != 16:
            sys.exit(f"nvmevm run (hello) exited {rc}:\n{out}{err}")
        return cpu

    # -- QEMU ------------------------------------------------------------------------------
    def qemu_argv(self, backend, vcpus, words, qd=1):
        path = self.backing(backend)
        # As deep a ring as nvmevm bench gives its drive (both default to 256).
        queue_size = f",queue-size={min(1 << (qd - 1).bit_length(), 1024)}" if qd > 256 else ""
        if path is None:
            drive = ["-blockdev", f"driver=null-co,node-name=d0,read-zeroes=on,"
                                  f"size={self.args.size_mib << 20}"]
        else:
            drive = ["-drive", f"file={path},if=none,id=d0,format=raw,cache=none,aio=io_uring"]
        return ["qemu-system-x86_64", "-M", "q35,accel=kvm", "-cpu", "host,-arch-capabilities",
                "-smp", str(vcpus), "-m", str(self.args.memory), "-nodefaults", "-no-user-config",
                "-nographic", "-serial", "stdio", "-kernel", self.guest, "-append", words,
                "-object", "iothread,id=io0", *drive,
                "-device", f"virtio-blk-pci,drive=d0,disable-legacy=on,num-queues={vcpus},"
                           f"iothread=io0{queue_size}",
                "-device", "isa-debug-exit,iobase=0x610,iosize=4"]

    def qemu_bench(self, c):
        words, _ = self.words[(c["rw"], c["qd"], c["vcpus"], c["mode"])]
        argv = self.qemu_argv(c["backend"], c["vcpus"], words, c["qd"])
        rc, out, err, cpu = run(argv, self.args.runtime + 180)
        r = parse_bench_line(out)
        # isa-debug-exit: QEMU exits with (status << 1) | 1; the guest's status 0 gives 1.
        if rc != 1 or r is None:
            raise RunFailed(
                f"QEMU exited {rc} without a result:\n{' '.join(argv)}\n{out[-3000:]}{err}")
        return {"iops": r["iops"], "ops": r["ops"], "lat_ns": r["lat_ns"], "cpu_s": cpu,
                "kicks_per_request": r["kicks"] / r["ops"] if r.get("kicks") is not None
                and r["ops"] else None}

    def qemu_boot(self, backend, vcpus):
        rc, out, err, cpu = run(self.qemu_argv(backend, vcpus, "hello"), 180)
        if rc != 1:
            sys.exit(f"QEMU (hello) exited {rc}:\n{out[-3000:]}{err}")
        return cpu

    # -- the host --------------------------------------------------------------------------
    def host_fio(self, c):
        path = self.backing(c["backend"])
        argv = ["fio", "--name=x", f"--filename={path}", "--ioengine=io_uring", "--direct=1",
                f"--rw={c['rw']}", "--bs=4k", f"--iodepth={c['qd']}", f"--numjobs={c['vcpus']}",
                f"--runtime={self.args.runtime}", "--time_based", "--fixedbufs",
                "--registerfiles", "--group_reporting", "--lat_percentiles=1",
                "--percentile_list=50:99:99.9", "--output-format=json"]
        rc, out, err, cpu = run(argv, self.args.runtime + 60)
        if rc != 0:
            sys.exit(f"fio exited {rc}:\n{' '.join(argv)}\n{out}{err}")
        job = json.loads(out[out.index("{"):])["jobs"][0]
        iops = ops = 0
        lat = None
        for direction in ("read", "write"):
            d = job[direction]
            iops += d["iops"]
            ops += d["total_ios"]
            if d["total_ios"] and lat is None:
                pct = d["lat_ns"].get("percentile", {})
                lat = {"p50": pct.get("50.000000"), "p99": pct.get("99.000000"),
                       "p999": pct.get("99.900000"), "max": d["lat_ns"]["max"]}
        return {"iops": iops, "ops": ops, "lat_ns": lat, "cpu_s": cpu, "bench_cpu_s": cpu}

    # -- one round ---------------------------------------------------------------------------
    def boot_baseline(self, system, backend, vcpus):
        key = (system, backend, vcpus)
        runs = self.boot_cpu.setdefault(key, [])
        if len(runs) < self.args.boot_runs:
            runs.append(self.nvmevm_boot(backend, vcpus) if system == "nvmevm"
                        else self.qemu_boot(backend, vcpus))
        return statistics.median(runs)


def matrix(args):
    for backend in args.backend:
        for rw in args.rw:
            for vcpus in args.vcpus:
                for mode in args.mode:
                    for qd in args.qd:
                        yield {"backend": backend, "rw": rw, "vcpus": vcpus, "mode": mode, "qd": qd}


def median_of(rows, get):
    values = [v for v in (get(r) for r in rows) if v is not None]
    return statistics.median(values) if values else None


def summarize(rows):
    groups = {}
    for r in rows:
        key = (r["backend"], r["rw"], r["vcpus"], r["mode"], r["qd"], r["system"])
        groups.setdefault(key, []).append(r)
    summary = []
    for key, rs in groups.items():
        s = dict(zip(("backend", "rw", "vcpus", "mode", "qd", "system"), key))
        s["runs"] = len(rs)
        s["iops"] = median_of(rs, lambda r: r["iops"])
        for p in ("p50", "p99", "p999", "max"):
            s[p + "_us"] = median_of(rs, lambda r: r["lat_ns"][p] / 1e3
                                     if r["lat_ns"] and r["lat_ns"].get(p) is not None else None)
        s["cpu_s"] = median_of(rs, lambda r: r["cpu_s"])
        s["bench_cpu_s"] = median_of(rs, lambda r: r.get("bench_cpu_s"))
        s["iops_per_cpu_s"] = median_of(
            rs, lambda r: r["ops"] / r["bench_cpu_s"] if r.get("bench_cpu_s", 0) > 0 else None)
        s["exits_per_request"] = median_of(rs, lambda r: r.get("exits_per_request"))
        summary.append(s)
    return summary


def fmt(v, spec="{:.0f}"):
    return "-" if v is None else spec.format(v)


def ratio(a, b):
    return f"{a / b:.2f}" if a is not None and b else "-"


def markdown(summary, args):
    by = {(s["backend"], s["rw"], s["vcpus"], s["mode"], s["qd"], s["system"]): s for s in summary}
    lines = [f"Medians of {args.repeat} interleaved runs of {args.runtime} s; 4 KiB requests; "
             "ratios are nvmevm/QEMU and nvmevm/host (IOPS and IOPS per CPU-second: higher is "
             "better for nvmevm; latency: lower).", "",
             "| backend | rw | vCPUs | mode | QD | IOPS nvmevm | IOPS QEMU | IOPS host | "
             "IOPS n/Q | IOPS n/host | p50 µs n / Q / host | p99 µs n / Q / host | "
             "p50 n/Q | IOPS per CPU-s n / Q / host | per CPU-s n/Q | per CPU-s n/host | "
             "exits/req nvmevm |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for c in matrix(args):
        k = (c["backend"], c["rw"], c["vcpus"], c["mode"], c["qd"])
        n, q, h = (by.get(k + (s,)) or {} for s in SYSTEMS)
        g = lambda d, f: d.get(f)
        lines.append(
            f"| {k[0]} | {k[1]} | {k[2]} | {k[3]} | {k[4]} | {fmt(g(n, 'iops'))} | "
            f"{fmt(g(q, 'iops'))} | {fmt(g(h, 'iops'))} | {ratio(g(n, 'iops'), g(q, 'iops'))} | "
            f"{ratio(g(n, 'iops'), g(h, 'iops'))} | "
            f"{fmt(g(n, 'p50_us'), '{:.1f}')} / {fmt(g(q, 'p50_us'), '{:.1f}')} / "
            f"{fmt(g(h, 'p50_us'), '{:.1f}')} | "
            f"{fmt(g(n, 'p99_us'), '{:.1f}')} / {fmt(g(q, 'p99_us'), '{:.1f}')} / "
            f"{fmt(g(h, 'p99_us'), '{:.1f}')} | {ratio(g(n, 'p50_us'), g(q, 'p50_us'))} | "
            f"{fmt(g(n, 'iops_per_cpu_s'))} / {fmt(g(q, 'iops_per_cpu_s'))} / "
            f"{fmt(g(h, 'iops_per_cpu_s'))} | "
            f"{ratio(g(n, 'iops_per_cpu_s'), g(q, 'iops_per_cpu_s'))} | "
            f"{ratio(g(n, 'iops_per_cpu_s'), g(h, 'iops_per_cpu_s'))} | "
            f"{fmt(g(n, 'exits_per_request'), '{:.2f}')} |")
    return "\n".join(lines) + "\n"


def plots(summary, args):
    """One .dat and one SVG per (backend, rw, vCPUs, mode): IOPS and latency against QD."""
    if not shutil.which("gnuplot"):
        print("bench-compare: no gnuplot, no plots (scripts/install-deps.sh installs it)",
              file=sys.stderr)
        return
    by = {(s["backend"], s["rw"], s["vcpus"], s["mode"], s["qd"], s["system"]): s for s in summary}
    seen = set()
    for c in matrix(args):
        group = (c["backend"], c["rw"], c["vcpus"], c["mode"])
        if group in seen:
            continue
        seen.add(group)
        name = os.path.join(args.out, f"{group[0]}-{group[1]}-{group[2]}vcpu-{group[3]}")
        with open(name + ".dat", "w") as f:
            f.write("# qd " + " ".join(f"{s}_iops {s}_p50_us {s}_p99_us" for s in SYSTEMS) + "\n")
            for qd in args.qd:
                vals = []
                for s in SYSTEMS:
                    d = by.get(group + (qd, s)) or {}
                    vals += [fmt(d.get("iops"), "{:.1f}").replace("-", "NaN"),
                             fmt(d.get("p50_us"), "{:.2f}").replace("-", "NaN"),
                             fmt(d.get("p99_us"), "{:.2f}").replace("-", "NaN")]
                f.write(f"{qd} " + " ".join(vals) + "\n")
        title = f"4 KiB {group[1]}, {group[0]} backend, {group[2]} vCPU(s), {group[3]}"
        script = f"""
set terminal svg size 1000,420 dynamic font 'sans,11'
set output '{name}.svg'
set multiplot layout 1,2 title '{title} (medians; nvmevm vs QEMU vs host)'
set logscale x 2
set xlabel 'queue depth'
set key top left
set grid
set ylabel 'IOPS'
plot '{name}.dat' u 1:2 w lp t 'nvmevm', '' u 1:5 w lp t 'QEMU', '' u 1:8 w lp t 'host fio'
set ylabel 'latency (µs)'
set logscale y
plot '{name}.dat' u 1:3 w lp t 'nvmevm p50', '' u 1:4 w lp dt 2 t 'nvmevm p99', \
     '' u 1:6 w lp t 'QEMU p50', '' u 1:7 w lp dt 2 t 'QEMU p99', \
     '' u 1:9 w lp t 'host p50', '' u 1:10 w lp dt 2 t 'host p99'
unset multiplot
"""
        subprocess.run(["gnuplot"], input=script.encode(), check=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    csv_int = lambda s: [int(x) for x in s.split(",")]
    csv = lambda s: s.split(",")
    ap.add_argument("--qd", type=csv_int, default=[1, 8, 32, 128])
    ap.add_argument("--rw", type=csv, default=["randread", "randwrite"])
    ap.add_argument("--vcpus", type=csv_int, default=[1, 2])
    ap.add_argument("--mode", type=csv, default=["poll", "irq"])
    ap.add_argument("--backend", type=csv, default=["null", "shm"])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--runtime", type=float, default=2.5, help="seconds per run")
    ap.add_argument("--quick", action="store_true",
                    help="a first look: QD 1,32; randread; 1 vCPU; poll; both backends; "
                         "2 rounds of 2 s")
    ap.add_argument("--systems", type=csv, default=list(SYSTEMS),
                    help="which of nvmevm,qemu,host to run (nvmevm always runs: it sets the "
                         "guest words)")
    ap.add_argument("--size-mib", type=int, default=1024, help="drive size (null and shm)")
    ap.add_argument("--memory", type=int, default=256, help="guest memory in MiB, both VMMs")
    ap.add_argument("--boot-runs", type=int, default=2,
                    help="`hello` boots per VMM and machine shape, for the boot CPU baseline")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--out", default="bench-results")
    args = ap.parse_args()
    args.build = os.path.abspath(args.build)
    if args.quick:
        args.qd, args.rw, args.vcpus, args.mode = [1, 32], ["randread"], [1], ["poll"]
        args.repeat, args.runtime = 2, 2.0
    bad = [s for s in args.systems if s not in SYSTEMS]
    if bad or any(b not in ("null", "shm") for b in args.backend):
        sys.exit("bench-compare: --systems takes nvmevm,qemu,host and --backend null,shm")
    for tool, needed in (("qemu-system-x86_64", "qemu"), ("fio", "host")):
        if needed in args.systems and not shutil.which(tool):
            sys.exit(f"bench-compare: {tool} not found (scripts/install-deps.sh installs it)")
    os.makedirs(args.out, exist_ok=True)

    bench = Bench(args)
    rows = []
    failures = []  # runs that ended without a result: in results.json and under the table
    host_done = {}
    configs = list(matrix(args))
    started = time.monotonic()
    try:
        for rep in range(args.repeat):
            for i, c in enumerate(configs):
                print(f"bench-compare: round {rep + 1}/{args.repeat}, {i + 1}/{len(configs)}: "
                      f"{c} ({time.monotonic() - started:.0f} s)", file=sys.stderr)
                # nvmevm first: its JSON carries the guest words QEMU gets.
                for system in ("nvmevm", "qemu", "host"):
                    if system not in args.systems and system != "nvmevm":
                        continue
                    if system == "host":
                        # fio knows no completion mode and no vCPUs: one run per (backend, rw,
                        # QD, jobs) and round, shown under both modes.
                        if c["backend"] == "null":
                            continue
                        key = (rep, c["backend"], c["rw"], c["qd"], c["vcpus"])
                        if key not in host_done:
                            host_done[key] = bench.host_fio(c)
                        r = dict(host_done[key])
                    else:
                        try:
                            r = (bench.nvmevm_bench(c) if system == "nvmevm"
                                 else bench.qemu_bench(c))
                        except RunFailed as e:
                            print(f"bench-compare: FAILED: {e}", file=sys.stderr)
                            failures.append({**c, "system": system, "round": rep,
                                             "error": str(e)})
                            if system == "nvmevm":
                                break  # QEMU needs the words nvmevm reports
                            continue
                        boot = bench.boot_baseline(system, c["backend"], c["vcpus"])
                        r["boot_cpu_s"] = boot
                        r["bench_cpu_s"] = max(r["cpu_s"] - boot, 1e-6)
                    rows.append({**c, "system": system, "round": rep, **r})
    finally:
        bench.close()

    summary = summarize(rows)
    table = markdown(summary, args)
    for f in failures:
        first = f["error"].splitlines()[0]
        table += (f"\nFAILED (left out of the medians): {f['system']} {f['backend']} {f['rw']} "
                  f"{f['vcpus']} vCPU {f['mode']} QD{f['qd']}, round {f['round'] + 1}: {first}\n")
    print(table)
    with open(os.path.join(args.out, "results.md"), "w") as f:
        f.write(table)
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump({"args": {k: v for k, v in vars(args).items()}, "summary": summary,
                   "runs": rows, "failures": failures, "boot_cpu_s": {"/".join(map(str, k)): v
                                                for k, v in bench.boot_cpu.items()}},
                  f, indent=1)
    plots(summary, args)
    print(f"bench-compare: results in {args.out}/ ({time.monotonic() - started:.0f} s)",
          file=sys.stderr)


if __name__ == "__main__":
    main()
