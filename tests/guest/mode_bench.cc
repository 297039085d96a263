// `bench`: a block-I/O microbenchmark on the first virtio-blk device, one line of JSON for
// `nvmevm bench` and the comparison scripts (README.md, "bench"):
//
//   NVMEVM-BENCH {"rw":"randread","bs":4096,"qd":32,"jobs":2,"mode":"poll","ops":N,
//                 "elapsed_ns":N,"iops":N,"mbps":F,"lat_ns":{"p50":N,"p99":N,"p999":N,
//                 "max":N},"kicks":N,"interrupts":N,"errors":N}
//
// One job per vCPU, job j on vCPU j driving queue j alone. Each job keeps qd requests in
// flight: it submits qd, then for every batch of completions it finds, resubmits each
// finished slot with a new offset and kicks once (the driver skips the doorbell when the
// device suppressed notifications). Latency per request: TSC at submission to TSC when the
// completion is seen, into a log-linear histogram; the jobs' histograms are merged.
// Completions are found by spinning on the used ring in ring 3 (mode=poll) or by halting
// until the queue's MSI-X interrupt (mode=irq).
//
// Before the measured run each job completes one round of qd requests (a warm-up, not
// counted).
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

constexpr unsigned kMaxJobs = Virtqueue::kMaxQueues;
constexpr unsigned kMaxSlots = Virtqueue::kMaxSize;  // a request needs a descriptor at least
constexpr uint64_t kPage = 4096;
// Only the write-back part of the identity map (README.md: 0-3 GiB) holds buffers.
constexpr uint64_t kWriteBackEnd = uint64_t{3} << 30;
// A job that sees no completion for this long gives up (as the driver does: 10-20 s).
constexpr uint64_t kStallCycles = 30'000'000'000;
constexpr uint8_t kStatusBenchFailed = 1;

struct Job {
    void reset(unsigned j) {
        index = j;
        target = runtime_ticks = 0;
        buffers = nullptr;
        seq_begin = seq_end = seq_next = 0;
        start_tsc = end_tsc = completed = errors = kicks = interrupts = 0;
        stalled = false;
        latency.clear();
    }

    unsigned index = 0;   // its vCPU and its queue
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

struct Bench {
    BenchOptions options;
    BlkDevice device;
    uint64_t blocks = 0;  // the disk in bs units
    unsigned qd = 0;
    unsigned jobs = 0;
    bool indirect = false;
    Barrier* barrier = nullptr;
};

Bench g_bench;
Job g_jobs[kMaxJobs];
BlkRequest g_requests[kMaxJobs][kMaxSlots];
uint64_t g_submitted_at[kMaxJobs][kMaxSlots];
bool g_busy[kMaxJobs][kMaxSlots];
LatencyHistogram g_merged;

[[noreturn]] void fail(const char* what, uint64_t number = ~uint64_t{0}, const char* rest = "") {
    put_line_start("bench: FAIL ");
    put_str(what);
    if (number != ~uint64_t{0}) {
        put_dec(number);
        put_str(rest);
    }
    put_char('\n');
    g_bench.device.stop();
    exit_vm(kStatusBenchFailed);
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
            return job.rng.below(g_bench.blocks);
    }
}

// Fills and adds slot i of the job (no kick). False if the driver refused it.
bool submit_slot(Job& job, unsigned slot) {
    Bench& b = g_bench;
    BlkRequest& request = g_requests[job.index][slot];
    uint32_t type = is_write(job) ? kBlkTOut : kBlkTIn;
    uint64_t sector = next_block(job) * (b.options.bs / kSectorSize);
    b.device.prepare(&request, type, sector, job.buffers + uint64_t{slot} * b.options.bs,
                     b.options.bs, 1, b.indirect && slot < Virtqueue::kMaxIndirect);
    g_submitted_at[job.index][slot] = rdtsc();
    if (!b.device.submit(job.index, &request)) {
        return false;
    }
    g_busy[job.index][slot] = true;
    return true;
}

void run_job(void* arg) {
    Job& job = *static_cast<Job*>(arg);
    Bench& b = g_bench;
    BlkDevice& device = b.device;
    const unsigned q = job.index;
    const unsigned cpu = this_cpu();
    const bool irq = device.interrupts();
    bool* busy = g_busy[q];
    BlkRequest* requests = g_requests[q];
    uint64_t* submitted_at = g_submitted_at[q];

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

// The contract line (README.md): integers, mbps with one decimal.
void print_result(const TscRate& tsc) {
    Bench& b = g_bench;
    uint64_t ops = 0;
    uint64_t errors = 0;
    uint64_t kicks = 0;
    uint64_t interrupts = 0;
    uint64_t first = ~uint64_t{0};
    uint64_t last = 0;
    g_merged.clear();
    for (unsigned j = 0; j < b.jobs; ++j) {
        const Job& job = g_jobs[j];
        ops += job.completed;
        errors += job.errors;
        kicks += job.kicks;
        interrupts += job.interrupts;
        first = job.start_tsc < first ? job.start_tsc : first;
        last = job.end_tsc > last ? job.end_tsc : last;
        g_merged.merge(job.latency);
    }
    uint64_t elapsed_ticks = last > first ? last - first : 1;
    auto to_ns = [&](uint64_t ticks) { return tsc.khz != 0 ? ticks_to_ns(ticks, tsc.khz) : ticks; };
    uint64_t elapsed_ns = to_ns(elapsed_ticks);
    if (elapsed_ns == 0) {
        elapsed_ns = 1;
    }
    uint64_t iops = mul_div(ops, 1'000'000'000, elapsed_ns);
    // MB/s (10^6 bytes) in tenths: ops * bs * 10^9 / elapsed_ns / 10^6 * 10.
    uint64_t mbps_tenths = mul_div(ops * b.options.bs, 10'000, elapsed_ns);

    LineBuffer line;
    line.str("NVMEVM-BENCH {\"rw\":\"");
    line.str(bench_rw_name(b.options.rw));
    line.str("\",\"bs\":");
    line.u64(b.options.bs);
    line.str(",\"qd\":");
    line.u64(b.qd);
    line.str(",\"jobs\":");
    line.u64(b.jobs);
    line.str(",\"mode\":\"");
    line.str(b.options.irq ? "irq" : "poll");
    line.str("\",\"ops\":");
    line.u64(ops);
    line.str(",\"elapsed_ns\":");
    line.u64(elapsed_ns);
    line.str(",\"iops\":");
    line.u64(iops);
    line.str(",\"mbps\":");
    line.tenths(mbps_tenths);
    line.str(",\"lat_ns\":{\"p50\":");
    line.u64(to_ns(g_merged.percentile(50, 100)));
    line.str(",\"p99\":");
    line.u64(to_ns(g_merged.percentile(99, 100)));
    line.str(",\"p999\":");
    line.u64(to_ns(g_merged.percentile(999, 1000)));
    line.str(",\"max\":");
    line.u64(to_ns(g_merged.max()));
    line.str("},\"kicks\":");
    line.u64(kicks);
    line.str(",\"interrupts\":");
    line.u64(interrupts);
    line.str(",\"errors\":");
    line.u64(errors);
    line.str("}\n");
    put_chars(line.data(), line.size());
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

    PciFunction found[kMaxBlkDevices];
    if (find_blk_devices(found) == 0) {
        fail("no modern virtio-blk device (1af4:1042) on bus 0");
    }
    BlkOptions blk = blk_options_from(context);
    blk.interrupts = options.irq;
    const char* error = nullptr;
    if (!b.device.start(found[0], blk, &error)) {
        put_line_start("bench: FAIL device start: ");
        put_str(error);
        put_char('\n');
        b.device.stop();
        exit_vm(kStatusBenchFailed);
    }
    BlkDevice& device = b.device;

    b.jobs = want;
    if (b.jobs > cpus) {
        b.jobs = cpus;
    }
    if (b.jobs > device.queue_count()) {
        note("jobs capped at the queues in use: ", device.queue_count(), "");
        b.jobs = device.queue_count();
    }
    if (want != b.jobs && options.jobs != 0) {
        note("jobs=", b.jobs, " (capped)");
    }

    b.blocks = device.config().capacity / (options.bs / kSectorSize);
    if (b.blocks == 0) {
        fail("disk smaller than bs=", options.bs, "");
    }
    if ((options.rw == BenchRw::kRandWrite || options.rw == BenchRw::kWrite ||
         options.rw == BenchRw::kRandRw) &&
        device.has(kBlkFRo)) {
        fail("the device is read-only");
    }

    // Queue depth: what one queue's ring holds (descriptors per request, indirect tables).
    b.indirect = device.has(kVirtioFIndirectDesc);
    BlkRequest probe;
    device.prepare(&probe, kBlkTIn, 0, __image_end, options.bs);  // segments only
    if (probe.data_count > BlkRequest::kMaxData) {
        fail("bs too large for the device's segment limits: ", options.bs, "");
    }
    unsigned ring = device.queue(0).size();
    for (unsigned j = 1; j < b.jobs; ++j) {
        ring = device.queue(j).size() < ring ? device.queue(j).size() : ring;
    }
    unsigned max_qd = slots_that_fit(ring, probe.data_count, b.indirect);
    b.qd = options.qd;
    if (b.qd > max_qd) {
        put_line_start("bench: qd=");
        put_dec(options.qd);
        put_str(" capped at ");
        put_dec(max_qd);
        put_str(" (ring of ");
        put_dec(ring);
        put_str(" descriptors, ");
        put_dec(b.indirect ? Virtqueue::kMaxIndirect : 0);
        put_str(" indirect tables)\n");
        b.qd = max_qd;
    }

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
        put_str(" KiB: give the VM more memory or lower qd/bs\n");
        device.stop();
        exit_vm(kStatusBenchFailed);
    }
    auto* memory = reinterpret_cast<uint8_t*>(static_cast<uintptr_t>(arena));
    for (uint64_t i = 0; i < per_job * b.jobs; i += 8) {
        *reinterpret_cast<uint64_t*>(memory + i) = (arena + i) * 0x9e3779b97f4a7c15;
    }

    // Work: ops split between the jobs, or a deadline (and ops too if given).
    uint64_t runtime_ticks = options.runtime_ms != 0 ? options.runtime_ms * tsc.khz : 0;
    bool by_ops = options.runtime_ms == 0 || options.ops_given;
    for (unsigned j = 0; j < b.jobs; ++j) {
        Job& job = g_jobs[j];
        job.reset(j);  // in place: a Job holds a 30 KiB histogram
        job.target =
            by_ops ? options.ops / b.jobs + (j < options.ops % b.jobs ? 1 : 0) : ~uint64_t{0};
        job.runtime_ticks = runtime_ticks;
        job.buffers = memory + per_job * j;
        job.rng = Xorshift(0x5eed0000 + j * 0x1234567 + rdtsc());
        job.seq_begin = b.blocks * j / b.jobs;
        job.seq_end = b.blocks * (j + 1) / b.jobs;
        if (job.seq_end == job.seq_begin) {
            job.seq_end = job.seq_begin + 1;
        }
        job.seq_next = job.seq_begin;
        for (unsigned slot = 0; slot < kMaxSlots; ++slot) {
            g_busy[j][slot] = false;
        }
        device.route_queue(j, j);  // interrupts: queue j's completions go to vCPU j
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
    device.stop();

    print_result(tsc);
    uint64_t errors = 0;
    for (unsigned j = 0; j < b.jobs; ++j) {
        errors += g_jobs[j].errors;
    }
    if (errors != 0) {
        put_line_start("bench: ");
        put_dec(errors);
        put_str(" request(s) failed");
        if (device.broken()) {
            put_str(" (the device stopped answering)");
        }
        put_str(": exit status=1\n");
        exit_vm(kStatusBenchFailed);
    }
}

}  // namespace guest
