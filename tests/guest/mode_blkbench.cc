// `blkbench`: a quick latency/throughput probe of the first virtio-blk device: 4 KiB reads
// at pseudo-random 4 KiB-aligned offsets, first one at a time (QD1: submit, kick, spin until
// used), then in rounds of 8 with one kick per round (QD8). Prints TSC cycles per request and
// the doorbell counters; compare nvmevm and QEMU in the same run, as ratios (the TSC rate and
// this machine's exit costs are not hardware KVM's). Reads only: the disk is not changed.
// With `irq` it waits by halting until the MSI-X interrupt and also prints the interrupts
// taken and the waits.
#include "interrupts.h"
#include "io.h"
#include "mode_blk_common.h"
#include "serial.h"

namespace guest {
namespace {

constexpr unsigned kRequests = 2000;
constexpr unsigned kDepth = 8;
constexpr uint32_t kBytes = 4096;

alignas(4096) uint8_t g_bench_buffer[kDepth * kBytes];
BlkDevice g_bench_device;
BlkRequest g_bench_requests[kDepth];

uint64_t offset_sector(uint64_t i, uint64_t blocks) {
    uint64_t x = (i + 1) * 0x9e3779b97f4a7c15;
    x ^= x >> 29;
    return x % blocks * (kBytes / kSectorSize);
}

struct IrqSnapshot {
    uint64_t events = irq_events(0);
    uint64_t waits = irq_waits(0);
};

void report(PciAddress where, const char* what, uint64_t cycles, unsigned requests,
            const VirtqStats& before, const VirtqStats& after, const BlkDevice& device,
            const IrqSnapshot& irq_before) {
    put_blk_line(where, "bench ");
    put_str(what);
    put_str(": ");
    put_dec(requests);
    put_str(" x 4 KiB reads, ");
    put_dec(cycles / requests);
    put_str(" cycles/request, kicks=");
    put_dec(after.kicks - before.kicks);
    put_str(" suppressed=");
    put_dec(after.suppressed - before.suppressed);
    if (device.interrupts()) {
        IrqSnapshot now;
        put_str(" interrupts=");
        put_dec(now.events - irq_before.events);
        put_str(" waits=");
        put_dec(now.waits - irq_before.waits);
    }
    put_char('\n');
}

}  // namespace

void mode_blkbench(const Context& context) {
    PciFunction found[kMaxBlkDevices];
    if (find_blk_devices(found) == 0) {
        put_line_start("blkbench: FAIL no modern virtio-blk device (1af4:1042) on bus 0\n");
        report_mode_failure();
        return;
    }
    PciAddress where = found[0].where;
    BlkDevice& device = g_bench_device;
    const char* error = nullptr;
    if (!device.start(found[0], blk_options_from(context), &error)) {
        put_blk_line(where, "bench FAIL init: ");
        put_str(error);
        put_char('\n');
        device.stop();
        report_mode_failure();
        return;
    }
    uint64_t blocks = device.config().capacity / (kBytes / kSectorSize);
    if (blocks == 0) {
        put_blk_line(where, "bench FAIL capacity below 4 KiB\n");
        device.stop();
        report_mode_failure();
        return;
    }
    bool ok = true;

    VirtqStats before = device.queue(0).stats();
    IrqSnapshot irq_before;
    uint64_t start = rdtsc();
    for (unsigned i = 0; i < kRequests && ok; ++i) {
        device.prepare(&g_bench_requests[0], kBlkTIn, offset_sector(i, blocks), g_bench_buffer,
                       kBytes);
        ok = device.execute(0, &g_bench_requests[0]) == kBlkSOk;
    }
    uint64_t cycles = rdtsc() - start;
    if (ok) {
        report(where, "qd1", cycles, kRequests, before, device.queue(0).stats(), device,
               irq_before);
    }

    before = device.queue(0).stats();
    irq_before = IrqSnapshot{};
    start = rdtsc();
    for (unsigned round = 0; round < kRequests / kDepth && ok; ++round) {
        for (unsigned j = 0; j < kDepth && ok; ++j) {
            device.prepare(&g_bench_requests[j], kBlkTIn,
                           offset_sector(kRequests + round * kDepth + j, blocks),
                           g_bench_buffer + j * kBytes, kBytes);
            ok = device.submit(0, &g_bench_requests[j]);
        }
        ok = ok && device.wait_all();
        for (unsigned j = 0; j < kDepth && ok; ++j) {
            ok = g_bench_requests[j].result == kBlkSOk;
        }
    }
    cycles = rdtsc() - start;
    if (ok) {
        report(where, "qd8", cycles, kRequests / kDepth * kDepth, before, device.queue(0).stats(),
               device, irq_before);
    } else {
        put_blk_line(where, "bench FAIL a read did not complete with OK\n");
        report_mode_failure();
    }
    device.stop();
}

}  // namespace guest
