// `bench`: a block-I/O microbenchmark on the first virtio-blk device (or the first N with
// devices=N), one line of JSON for `nvmevm bench` and the comparison scripts (README.md,
// "bench"):
//
//   NVMEVM-BENCH {"rw":"randread","bs":4096,"qd":32,"jobs":2,"mode":"poll","ops":N,
//                 "elapsed_ns":N,"iops":N,"mbps":F,"lat_ns":{"p50":N,"p99":N,"p999":N,
//                 "max":N},"kicks":N,"interrupts":N,"errors":N}
//
// and, with devices=N for N > 1, before the closing brace: ,"devices":[{"ops":N,"iops":N,
// "mbps":F,"lat_ns":{...}}, ...], one object per device in device order. With misalign=N for
// N > 0, "misalign":N follows "bs".
//
// One job per vCPU, job j on vCPU j driving queue j / N of device j % N alone (N = 1: queue
// j), so that every device gets jobs and a throttled device's requests wait beside the
// others' without sharing a queue or a vCPU with them. Each job keeps qd requests in
// flight: it submits qd, then for every batch of completions it finds, resubmits each
// finished slot with a new offset and kicks once (the driver skips the doorbell when the
// device suppressed notifications). Latency per request: TSC at submission to TSC when the
// completion is seen, into a log-linear histogram; the jobs' histograms are merged (for the
// per-device figures, those of the device's jobs).
// Completions are found by spinning on the used ring in ring 3 (mode=poll) or by halting
// until the queue's MSI-X interrupt (mode=irq).
//
// Before the measured run each job completes one round of qd requests (a warm-up, not
// counted).
//
// Offsets: block b (random, or the next of a job's sequential slice) in bs units is sector
// b * bs / 512 + misalign; the blocks stop where the last one, shifted, still fits the disk.
//
// Buffers: qd * bs per job, carved from the RAM above the guest image (the memory map).
// Write buffers hold a pattern; read buffers are touched once before the run so that no
// first-touch cost lands in it.
#include "acpi.h"
#include "bench_options.h"
#include "bench_stats.h"
#include "control.h"
#include "interrupts.h"
#include "io.h"
#include "mode_blk_common.h"
#include "serial.h"
#include "smp.h"

extern "C" uint8_t __image_end[];

namespace guest {
namespace {

constexpr unsigned kMaxJobs = kMaxCpus;  // one per vCPU
static_assert(kBenchMaxDevices == kMaxBlkDevices, "devices= allows what the guest can find");
constexpr unsigned kMaxSlots = Virtqueue::kMaxSize;  // a request needs a descriptor at least
constexpr uint64_t kPage = 4096;
// Only the write-back part of the identity map (README.md: 0-3 GiB) holds buffers.
constexpr uint64_t kWriteBackEnd = uint64_t{3} << 30;
// A job that sees no completion for this long gives up (as the driver does: 10-20 s).
constexpr uint64_t kStallCycles = 30'000'000'000;
constexpr uint8_t kStatusBenchFailed = 1;

struct Job {
    void reset(unsigned j, unsigned on_device, unsigned on_queue) {
        index = j;
        device = on_device;
        queue = on_queue;
        target = runtime_ticks = 0;
        buffers = nullptr;
        seq_begin = seq_end = seq_next = 0;
        start_tsc = end_tsc = completed = errors = kicks = interrupts = 0;
        stalled = false;
        latency.clear();
    }

    unsigned index = 0;   // its vCPU, and its row in the per-job arrays below
    unsigned device = 0;  // in g_drives
    unsigned queue = 0;   // on that device
    uint64_t target = 0;  // requests to submit; ~0: until the deadline
    uint64_t runtime_ticks = 0;
    uint8_t* buffers = nullptr;
    Xorshift rng{1};
    uint64_t seq_begin = 0;  // sequential: this job's region, in blocks
    uint64_t seq_end = 0;
    uint64_t seq_next = 0;
    // Results.
    uint64_t start_tsc = 0;
    uint64_t end_tsc = 0;
    uint64_t completed = 0;
    uint64_t errors = 0;
    uint64_t kicks = 0;
    uint64_t interrupts = 0;
    bool stalled = false;
    LatencyHistogram latency;
};

// One device under test.
struct Drive {
    BlkDevice device;
    uint64_t blocks = 0;  // the disk in bs units, after the misalign sectors
    bool indirect = false;
    unsigned segments = 0;  // descriptors of one request's data
};

struct Bench {
    BenchOptions options;
    unsigned devices = 0;  // in g_drives, started (or being started): stop_devices stops them
    unsigned qd = 0;
    unsigned jobs = 0;
    Barrier* barrier = nullptr;
};

Bench g_bench;
Drive g_drives[kMaxBlkDevices];
Job g_jobs[kMaxJobs];
BlkRequest g_requests[kMaxJobs][kMaxSlots];
uint64_t g_submitted_at[kMaxJobs][kMaxSlots];
bool g_busy[kMaxJobs][kMaxSlots];
LatencyHistogram g_merged;
LineBuffer g_line;  // 2 KiB: kept off the stack

void stop_devices() {
    for (unsigned d = 0; d < g_bench.devices; ++d) {
        g_drives[d].device.stop();
    }
}

// Ends a `bench: FAIL ...` line the caller began.
[[noreturn]] void fail_end() {
    put_char('\n');
    stop_devices();
    exit_vm(kStatusBenchFailed);
}

[[noreturn]] void fail(const char* what, uint64_t number = ~uint64_t{0}, const char* rest = "") {
    put_line_start("bench: FAIL ");
    put_str(what);
    if (number != ~uint64_t{0}) {
        put_dec(number);
        put_str(rest);
    }
    fail_end();
}

void note(const char* what, uint64_t number, const char* rest) {
    put_line_start("bench: ");
    put_str(what);
    put_dec(number);
    put_str(rest);
    put_char('\n');
}

// The RAM above the guest image, page-aligned, within the write-back part of the map.
bool find_arena(const HvmStartInfo& info, uint64_t* base, uint64_t* size) {
    uint64_t start = (reinterpret_cast<uintptr_t>(__image_end) + kPage - 1) & ~(kPage - 1);
    uint32_t count = 0;
    const HvmMemmapEntry* map = start_info_memmap(info, &count);
    for (uint32_t i = 0; i < count; ++i) {
        const HvmMemmapEntry& entry = map[i];
        uint64_t end = entry.addr + entry.size;
        if (entry.type != 1 || entry.addr > start || end <= start) {
            continue;
        }
        if (end > kWriteBackEnd) {
            end = kWriteBackEnd;
        }
        *base = start;
        *size = end > start ? (end - start) & ~(kPage - 1) : 0;
        return true;
    }
    return false;
}

// Requests of one job that fit in a ring of `ring` descriptors at once: slot i goes
// indirect (one descriptor) while the driver has indirect tables for it, else direct
// (header, segments, status).
unsigned slots_that_fit(unsigned ring, unsigned segments, bool indirect) {
    unsigned used = 0;
    unsigned slots = 0;
    while (slots < kMaxSlots) {
        unsigned cost = indirect && slots < Virtqueue::kMaxIndirect ? 1 : 2 + segments;
        if (used + cost > ring) {
            break;
        }
        used += cost;
        ++slots;
    }
    return slots;
}

bool is_write(Job& job) {
    switch (g_bench.options.rw) {
        case BenchRw::kRandWrite:
        case BenchRw::kWrite:
            return true;
        case BenchRw::kRandRw:
            return (job.rng.next() >> 63) != 0;
        default:
            return false;
    }
}

uint64_t next_block(Job& job) {
    const Drive& drive = g_drives[job.device];
    switch (g_bench.options.rw) {
        case BenchRw::kRead:
        case BenchRw::kWrite: {
            uint64_t block = job.seq_next++;
            if (job.seq_next >= job.seq_end) {
                job.seq_next = job.seq_begin;
            }
            return block;
        }
        default:
            return job.rng.below(drive.blocks);
    }
}

// Fills and adds slot i of the job (no kick). False if the driver refused it.
bool submit_slot(Job& job, unsigned slot) {
    const Bench& b = g_bench;
    Drive& drive = g_drives[job.device];
    BlkRequest& request = g_requests[job.index][slot];
    uint32_t type = is_write(job) ? kBlkTOut : kBlkTIn;
    uint64_t sector = next_block(job) * (b.options.bs / kSectorSize) + b.options.misalign;
    drive.device.prepare(&request, type, sector, job.buffers + uint64_t{slot} * b.options.bs,
                         b.options.bs, 1, drive.indirect && slot < Virtqueue::kMaxIndirect);
    g_submitted_at[job.index][slot] = rdtsc();
    if (!drive.device.submit(job.queue, &request)) {
        return false;
    }
    g_busy[job.index][slot] = true;
    return true;
}

void run_job(void* arg) {
    Job& job = *static_cast<Job*>(arg);
    Bench& b = g_bench;
    BlkDevice& device = g_drives[job.device].device;
    const unsigned q = job.queue;
    const unsigned cpu = this_cpu();
    const bool irq = device.interrupts();
    bool* busy = g_busy[job.index];
    BlkRequest* requests = g_requests[job.index];
    uint64_t* submitted_at = g_submitted_at[job.index];

    // Warm-up, not counted: one round of qd requests on the job's queue. The first requests
    // after a device starts can be far slower than the rest (nvmevm's first request: ~40 ms).
    unsigned warm = 0;
    while (warm < b.qd && submit_slot(job, warm)) {
        ++warm;
    }
    if (warm < b.qd || !device.wait_queue(q)) {
        job.stalled = true;  // the run below then finds the device broken or stalls
    }
    for (unsigned slot = 0; slot < warm; ++slot) {
        busy[slot] = false;
        if (requests[slot].result != kBlkSOk) {
            ++job.errors;
        }
    }

    b.barrier->arrive_and_wait();
    const uint64_t kicks_before = device.queue(q).stats().kicks;
    const uint64_t irq_before = irq_events(cpu);
    const uint64_t start = rdtsc();
    const uint64_t deadline = job.runtime_ticks != 0 ? start + job.runtime_ticks : ~uint64_t{0};
    job.start_tsc = start;

    uint64_t submitted = 0;
    unsigned in_flight = 0;
    for (unsigned slot = 0; slot < b.qd && submitted < job.target; ++slot) {
        if (!submit_slot(job, slot)) {
            ++job.errors;
            break;
        }
        ++submitted;
        ++in_flight;
    }
    device.kick(q);

    uint64_t last_progress = rdtsc();
    while (in_flight > 0) {
        uint64_t token = irq ? irq_events(cpu) : 0;
        if (!device.poll(q)) {
            if (device.broken() || rdtsc() - last_progress > kStallCycles) {
                job.stalled = true;
                break;
            }
            if (irq) {
                irq_wait(cpu, token);
            } else {
                cpu_relax();
            }
            continue;
        }
        uint64_t now = rdtsc();
        last_progress = now;
        bool more = now < deadline;
        for (unsigned slot = 0; slot < b.qd; ++slot) {
            if (!busy[slot] || !requests[slot].done) {
                continue;
            }
            busy[slot] = false;
            --in_flight;
            ++job.completed;
            job.latency.add(now - submitted_at[slot]);
            if (requests[slot].result != kBlkSOk) {
                ++job.errors;
            }
            if (more && submitted < job.target) {
                if (submit_slot(job, slot)) {
                    ++submitted;
                    ++in_flight;
                } else {
                    ++job.errors;
                }
            }
        }
        device.kick(q);
    }
    job.end_tsc = rdtsc();
    if (job.stalled) {
        job.errors += in_flight;  // never completed
    }
    job.kicks = device.queue(q).stats().kicks - kicks_before;
    job.interrupts = irq_events(cpu) - irq_before;
}

// What a set of jobs did together: all of them, or those of one device. add_up also merges
// their latency histograms into g_merged.
struct Totals {
    uint64_t ops = 0;
    uint64_t errors = 0;
    uint64_t kicks = 0;
    uint64_t interrupts = 0;
    uint64_t first = ~uint64_t{0};  // TSC: the earliest start, the latest end
    uint64_t last = 0;
};
constexpr unsigned kAllDevices = ~0u;

Totals add_up(unsigned device) {
    Totals t;
    g_merged.clear();
    for (unsigned j = 0; j < g_bench.jobs; ++j) {
        const Job& job = g_jobs[j];
        if (device != kAllDevices && job.device != device) {
            continue;
        }
        t.ops += job.completed;
        t.errors += job.errors;
        t.kicks += job.kicks;
        t.interrupts += job.interrupts;
        t.first = job.start_tsc < t.first ? job.start_tsc : t.first;
        t.last = job.end_tsc > t.last ? job.end_tsc : t.last;
        g_merged.merge(job.latency);
    }
    return t;
}

// Times in ns; TSC ticks when the rate is unknown (the guest said so).
uint64_t to_ns(uint64_t ticks, const TscRate& tsc) {
    return tsc.khz != 0 ? ticks_to_ns(ticks, tsc.khz) : ticks;
}

uint64_t elapsed_ns_of(const Totals& t, const TscRate& tsc) {
    uint64_t ns = to_ns(t.last > t.first ? t.last - t.first : 1, tsc);
    return ns != 0 ? ns : 1;
}

// ,"iops":N,"mbps":F,"lat_ns":{...} of a set of jobs (g_merged holds their latencies).
void put_rates(LineBuffer& line, const Totals& t, uint64_t elapsed_ns, const TscRate& tsc) {
    line.str(",\"iops\":");
    line.u64(mul_div(t.ops, 1'000'000'000, elapsed_ns));
    // MB/s (10^6 bytes) in tenths: ops * bs * 10^9 / elapsed_ns / 10^6 * 10.
    line.str(",\"mbps\":");
    line.tenths(mul_div(t.ops * g_bench.options.bs, 10'000, elapsed_ns));
    line.str(",\"lat_ns\":{\"p50\":");
    line.u64(to_ns(g_merged.percentile(50, 100), tsc));
    line.str(",\"p99\":");
    line.u64(to_ns(g_merged.percentile(99, 100), tsc));
    line.str(",\"p999\":");
    line.u64(to_ns(g_merged.percentile(999, 1000), tsc));
    line.str(",\"max\":");
    line.u64(to_ns(g_merged.max(), tsc));
    line.str("}");
}

// ,"devices":[{"ops":N,"iops":N,"mbps":F,"lat_ns":{...}}, ...]: each device over its own
// jobs' span of time, so a throttled device's rate is not diluted by a faster one's.
void put_devices(LineBuffer& line, const TscRate& tsc) {
    line.str(",\"devices\":[");
    for (unsigned d = 0; d < g_bench.devices; ++d) {
        Totals t = add_up(d);
        line.str(d == 0 ? "{\"ops\":" : ",{\"ops\":");
        line.u64(t.ops);
        put_rates(line, t, elapsed_ns_of(t, tsc), tsc);
        line.str("}");
    }
    line.str("]");
}

// The contract line (README.md): integers, mbps with one decimal.
void print_result(const TscRate& tsc) {
    const Bench& b = g_bench;
    LineBuffer& line = g_line;
    Totals all = add_up(kAllDevices);
    uint64_t elapsed_ns = elapsed_ns_of(all, tsc);

    line.str("NVMEVM-BENCH {\"rw\":\"");
    line.str(bench_rw_name(b.options.rw));
    line.str("\",\"bs\":");
    line.u64(b.options.bs);
    if (b.options.misalign != 0) {
        line.str(",\"misalign\":");
        line.u64(b.options.misalign);
    }
    line.str(",\"qd\":");
    line.u64(b.qd);
    line.str(",\"jobs\":");
    line.u64(b.jobs);
    line.str(",\"mode\":\"");
    line.str(b.options.irq ? "irq" : "poll");
    line.str("\",\"ops\":");
    line.u64(all.ops);
    line.str(",\"elapsed_ns\":");
    line.u64(elapsed_ns);
    put_rates(line, all, elapsed_ns, tsc);
    line.str(",\"kicks\":");
    line.u64(all.kicks);
    line.str(",\"interrupts\":");
    line.u64(all.interrupts);
    line.str(",\"errors\":");
    line.u64(all.errors);
    if (b.devices > 1) {
        put_devices(line, tsc);
    }
    line.str("}\n");
    put_chars(line.data(), line.size());
}

// Starts the first `count` virtio-blk devices, each with its share of the ring memory
// (several devices run at once, so they cannot reuse each other's).
void start_devices(const Context& context, unsigned count) {
    PciFunction found[kMaxBlkDevices];
    unsigned present = find_blk_devices(found);
    if (present == 0) {
        fail("no modern virtio-blk device (1af4:1042) on bus 0");
    }
    if (present < count) {
        put_line_start("bench: FAIL devices=");
        put_dec(count);
        put_str(" but the VM has ");
        put_dec(present);
        put_str(" virtio-blk device(s)");
        fail_end();
    }
    BlkOptions blk = blk_options_from(context);
    blk.interrupts = g_bench.options.irq;
    unsigned sets = Virtqueue::kMemorySets / count;
    blk.max_queues = sets < Virtqueue::kMaxQueues ? sets : Virtqueue::kMaxQueues;
    for (unsigned d = 0; d < count; ++d) {
        blk.queue_memory = d * blk.max_queues;
        g_bench.devices = d + 1;  // stop_devices then resets it, whatever start left
        const char* error = nullptr;
        if (!g_drives[d].device.start(found[d], blk, &error)) {
            put_line_start("bench: FAIL device start: ");
            put_str(error);
            if (count > 1) {
                put_str(" (device ");
                put_dec(d);
                put_str(")");
            }
            fail_end();
        }
    }
}

// Jobs that get a queue of their own: job j needs queue j / N of device j % N, so the first
// job past a device's queues ends the list.
unsigned jobs_with_queues(unsigned jobs) {
    const unsigned n = g_bench.devices;
    for (unsigned j = 0; j < jobs; ++j) {
        if (j / n >= g_drives[j % n].device.queue_count()) {
            return j;
        }
    }
    return jobs;
}

// Per device: its size in bs units (past the misalign sectors), that it takes the workload,
// and what one request costs in descriptors.
void check_drives() {
    const BenchOptions& options = g_bench.options;
    bool writes = options.rw == BenchRw::kRandWrite || options.rw == BenchRw::kWrite ||
                  options.rw == BenchRw::kRandRw;
    for (unsigned d = 0; d < g_bench.devices; ++d) {
        Drive& drive = g_drives[d];
        uint64_t capacity = drive.device.config().capacity;
        uint64_t usable = capacity > options.misalign ? capacity - options.misalign : 0;
        drive.blocks = usable / (options.bs / kSectorSize);
        if (drive.blocks == 0) {
            fail(options.misalign != 0 ? "disk smaller than misalign= plus bs="
                                       : "disk smaller than bs=",
                 options.bs, "");
        }
        if (writes && drive.device.has(kBlkFRo)) {
            fail("the device is read-only");
        }
        drive.indirect = drive.device.has(kVirtioFIndirectDesc);
        BlkRequest probe;
        drive.device.prepare(&probe, kBlkTIn, 0, __image_end, options.bs);  // segments only
        if (probe.data_count > BlkRequest::kMaxData) {
            fail("bs too large for the device's segment limits: ", options.bs, "");
        }
        drive.segments = probe.data_count;
    }
}

// Queue depth: what the smallest ring among the jobs' queues holds (descriptors per request,
// indirect tables), with a note when that caps qd=.
unsigned choose_qd() {
    const Bench& b = g_bench;
    unsigned max_qd = kMaxSlots;
    unsigned ring = 0;
    bool indirect = false;
    for (unsigned j = 0; j < b.jobs; ++j) {
        const Drive& drive = g_drives[j % b.devices];
        unsigned size = drive.device.queue(j / b.devices).size();
        unsigned fit = slots_that_fit(size, drive.segments, drive.indirect);
        if (j == 0 || fit < max_qd) {
            max_qd = fit;
            ring = size;
            indirect = drive.indirect;
        }
    }
    if (b.options.qd <= max_qd) {
        return b.options.qd;
    }
    put_line_start("bench: qd=");
    put_dec(b.options.qd);
    put_str(" capped at ");
    put_dec(max_qd);
    put_str(" (ring of ");
    put_dec(ring);
    put_str(" descriptors, ");
    put_dec(indirect ? Virtqueue::kMaxIndirect : 0);
    put_str(" indirect tables)\n");
    return max_qd;
}

// Job j: vCPU j, queue j / N of device j % N, its share of ops, its buffers, and (sequential)
// its slice of its device.
void set_up_job(unsigned j, uint8_t* buffers, uint64_t runtime_ticks) {
    const Bench& b = g_bench;
    const BenchOptions& options = b.options;
    Job& job = g_jobs[j];
    Drive& drive = g_drives[j % b.devices];
    job.reset(j, j % b.devices, j / b.devices);  // in place: a Job holds a 30 KiB histogram
    bool by_ops = options.runtime_ms == 0 || options.ops_given;
    job.target = by_ops ? options.ops / b.jobs + (j < options.ops % b.jobs ? 1 : 0) : ~uint64_t{0};
    job.runtime_ticks = runtime_ticks;
    job.buffers = buffers;
    job.rng = Xorshift(0x5eed0000 + j * 0x1234567 + rdtsc());
    unsigned rank = j / b.devices;  // among the device's jobs
    unsigned peers = (b.jobs - j % b.devices + b.devices - 1) / b.devices;  // jobs on it
    job.seq_begin = drive.blocks * rank / peers;
    job.seq_end = drive.blocks * (rank + 1) / peers;
    if (job.seq_end == job.seq_begin) {
        job.seq_end = job.seq_begin + 1;
    }
    job.seq_next = job.seq_begin;
    for (unsigned slot = 0; slot < kMaxSlots; ++slot) {
        g_busy[j][slot] = false;
    }
    drive.device.route_queue(job.queue, j);  // interrupts: its completions go to vCPU j
}

bool any_device_broken() {
    for (unsigned d = 0; d < g_bench.devices; ++d) {
        if (g_drives[d].device.broken()) {
            return true;
        }
    }
    return false;
}

}  // namespace

bool is_bench_word(const char* text, size_t length, bool* bad) {
    int result = bench_word_check(Word{text, length});
    *bad = result < 0;
    return result != 0;
}

void mode_bench(const Context& context) {
    Bench& b = g_bench;
    b.options = bench_options_from(start_info_cmdline(*context.start_info));
    const BenchOptions& options = b.options;

    TscRate tsc = bench_tsc_rate(options);
    if (tsc.khz != 0) {
        put_line_start("bench: tsc_khz=");
        put_dec(tsc.khz);
        put_str(" (");
        put_str(tsc.source);
        put_str(")\n");
    } else {
        put_line_start(
            "bench: TSC rate unknown: elapsed_ns and lat_ns are TSC ticks (give "
            "tsc_khz=)\n");
        if (options.runtime_ms != 0) {
            fail("runtime_ms= needs the TSC rate: give tsc_khz=");
        }
    }

    // vCPUs: as many as jobs want (default: every vCPU the MADT lists).
    unsigned want = options.jobs;
    if (want == 0) {
        CpuCount madt = count_madt_cpus(context.start_info->rsdp_paddr);
        want = madt.ok && madt.cpus != 0 ? madt.cpus : 1;
    }
    unsigned cpus = 1;
    if (want > 1) {
        const char* error = nullptr;
        cpus = start_cpus(context, want < kMaxCpus ? want : kMaxCpus, &error);
        if (cpus < want) {
            put_line_start("bench: ");
            put_dec(cpus);
            put_str(" vCPU(s) run, ");
            put_dec(want);
            put_str(" job(s) wanted");
            if (error != nullptr) {
                put_str(" (");
                put_str(error);
                put_str(")");
            }
            put_char('\n');
        }
    }

    start_devices(context, options.devices);

    b.jobs = want;
    if (b.jobs > cpus) {
        b.jobs = cpus;
    }
    if (unsigned fit = jobs_with_queues(b.jobs); fit < b.jobs) {
        note("jobs capped at the queues in use: ", fit, "");
        b.jobs = fit;
    }
    if (want != b.jobs && options.jobs != 0) {
        note("jobs=", b.jobs, " (capped)");
    }
    if (b.jobs < b.devices) {
        put_line_start("bench: FAIL devices=");
        put_dec(b.devices);
        put_str(" needs a job per device, there are ");
        put_dec(b.jobs);
        put_str(" (one per vCPU: give the VM as many vCPUs as devices)");
        fail_end();
    }
    check_drives();
    b.qd = choose_qd();

    // Buffers: qd * bs per job.
    uint64_t arena = 0;
    uint64_t arena_size = 0;
    if (!find_arena(*context.start_info, &arena, &arena_size)) {
        fail("no RAM above the guest image in the memory map");
    }
    uint64_t per_job = (uint64_t{b.qd} * options.bs + kPage - 1) & ~(kPage - 1);
    if (per_job * b.jobs > arena_size) {
        put_line_start("bench: FAIL buffers need ");
        put_dec(per_job * b.jobs >> 10);
        put_str(" KiB (jobs * qd * bs), the RAM above the guest image has ");
        put_dec(arena_size >> 10);
        put_str(" KiB: give the VM more memory or lower qd/bs");
        fail_end();
    }
    auto* memory = reinterpret_cast<uint8_t*>(static_cast<uintptr_t>(arena));
    for (uint64_t i = 0; i < per_job * b.jobs; i += 8) {
        *reinterpret_cast<uint64_t*>(memory + i) = (arena + i) * 0x9e3779b97f4a7c15;
    }

    // Work: ops split between the jobs, or a deadline (and ops too if given).
    uint64_t runtime_ticks = options.runtime_ms != 0 ? options.runtime_ms * tsc.khz : 0;
    for (unsigned j = 0; j < b.jobs; ++j) {
        set_up_job(j, memory + per_job * j, runtime_ticks);
    }

    Barrier barrier(b.jobs);
    b.barrier = &barrier;
    bool started = true;
    for (unsigned j = 1; j < b.jobs; ++j) {
        started = run_on_cpu(j, run_job, &g_jobs[j]) && started;
    }
    if (!started) {
        fail("a vCPU did not take its job");
    }
    run_job(&g_jobs[0]);
    for (unsigned j = 1; j < b.jobs; ++j) {
        if (!wait_cpu(j)) {
            fail("a vCPU did not finish its job");
        }
    }
    b.barrier = nullptr;
    bool broken = any_device_broken();
    stop_devices();

    print_result(tsc);
    uint64_t errors = 0;
    for (unsigned j = 0; j < b.jobs; ++j) {
        errors += g_jobs[j].errors;
    }
    if (errors != 0) {
        put_line_start("bench: ");
        put_dec(errors);
        put_str(" request(s) failed");
        if (broken) {
            put_str(" (the device stopped answering)");
        }
        put_str(": exit status=1\n");
        exit_vm(kStatusBenchFailed);
    }
}

}  // namespace guest
