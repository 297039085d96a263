// `hostile`: a misbehaving driver. Attacks the first virtio-blk device with malformed chains,
// corrupt rings, bad queue settings and stray register writes, and checks each answer against
// docs/virtio-blk.md ("Guest input"): a chain whose layout cannot be trusted comes back with
// used len 0; a well-formed forbidden request gets IOERR; a corrupt ring (avail index running
// ahead, head out of range) or an unusable queue configuration sets DEVICE_NEEDS_RESET. After
// every case the device must still serve a normal write + read on each queue (re-initialized
// first where the case called for a reset). Then every other virtio-blk device must serve a
// normal write + read too (untouched by the attacks). One PASS/FAIL line per case.
//
// The driver here is its own minimal raw split virtqueue (static memory, polled, no MSI-X), so
// that it can write any descriptor it likes; the transport is VirtioPci.
#include <stdint.h>

#include "io.h"
#include "mode_blk_common.h"
#include "modes.h"
#include "pci.h"
#include "serial.h"
#include "virtio_blk.h"
#include "virtio_pci.h"

namespace guest {
namespace {

constexpr uint16_t kDescNext = 1;
constexpr uint16_t kDescWrite = 2;
constexpr uint16_t kDescIndirect = 4;
constexpr uint16_t kQueueSize = 32;
constexpr unsigned kQueues = 2;
constexpr unsigned kIndirectEntries = 1040;
constexpr uint64_t kTimeoutCycles = 6'000'000'000;
constexpr uint64_t kFarAddress = uint64_t{1} << 40;  // far beyond the VM's RAM

struct Desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
};
static_assert(sizeof(Desc) == 16);

struct alignas(4096) RingMemory {
    Desc desc[kQueueSize];
    alignas(64) volatile uint16_t avail[3 + kQueueSize];     // flags, idx, ring, used_event
    alignas(64) volatile uint32_t used[2 + 2 * kQueueSize];  // flags|idx, (id, len)...
};

RingMemory g_rings[kQueues];
alignas(4096) Desc g_indirect[kIndirectEntries];
alignas(512) uint8_t g_data[8][4096];
BlkHeader g_headers[8];
volatile uint8_t g_status[8];

void write16(uint64_t addr, uint16_t value) {
    asm volatile("movw %0, (%1)" : : "r"(value), "r"(addr) : "memory");
}

struct RawQueue {
    uint16_t index = 0;
    uint16_t avail_idx = 0;
    uint16_t last_used = 0;
};

struct Raw {
    PciFunction function;
    VirtioPci transport;
    uint64_t features = 0;
    uint64_t capacity = 0;
    unsigned queues = 0;
    RawQueue q[kQueues];
};

Raw g_raw;

uint64_t addr_of(const volatile void* p) {
    return reinterpret_cast<uint64_t>(p);
}

void fence() {
    asm volatile("lock addl $0, (%%rsp)" ::: "memory", "cc");
}

// Initialization through FEATURES_OK; queue setup left to the caller.
bool raw_features(Raw& raw, const char** error) {
    if (!raw.transport.attach(raw.function, error)) {
        return false;
    }
    pci_enable(raw.function.where, kPciCommandMemory | kPciCommandBusMaster);
    if (!raw.transport.reset()) {
        *error = "reset did not complete";
        return false;
    }
    raw.transport.add_status(kVirtioStatusAcknowledge);
    raw.transport.add_status(kVirtioStatusDriver);
    uint64_t offered = raw.transport.device_features();
    raw.features = offered & (feature_bit(kVirtioFVersion1) | feature_bit(kVirtioFIndirectDesc) |
                              feature_bit(kBlkFMq));
    raw.transport.set_driver_features(raw.features);
    raw.transport.add_status(kVirtioStatusFeaturesOk);
    if ((raw.transport.status() & kVirtioStatusFeaturesOk) == 0) {
        *error = "FEATURES_OK refused";
        return false;
    }
    raw.capacity = raw.transport.config64(0);
    return true;
}

// `avail_skew` and `used_skew` move the rings off their own (aligned) place by that many bytes.
bool raw_setup_queue(Raw& raw, unsigned i, uint16_t size, uint64_t desc_addr, const char** error,
                     uint64_t avail_skew = 0, uint64_t used_skew = 0) {
    RingMemory& ring = g_rings[i];
    for (auto& d : ring.desc) {
        d = Desc{};
    }
    for (auto& a : ring.avail) {
        a = 0;
    }
    for (auto& u : ring.used) {
        u = 0;
    }
    ring.avail[0] = 1;  // VIRTQ_AVAIL_F_NO_INTERRUPT
    raw.q[i] = RawQueue{static_cast<uint16_t>(i), 0, 0};
    return raw.transport.setup_queue(static_cast<uint16_t>(i), size, desc_addr,
                                     addr_of(&ring.avail[0]) + avail_skew,
                                     addr_of(&ring.used[0]) + used_skew, kVirtioNoVector, error);
}

bool raw_start(Raw& raw, const char** error) {
    if (!raw_features(raw, error)) {
        return false;
    }
    unsigned n = raw.transport.num_queues();
    raw.queues = (raw.features & feature_bit(kBlkFMq)) != 0 && n >= 2 ? 2 : 1;
    for (unsigned i = 0; i < raw.queues; ++i) {
        if (!raw_setup_queue(raw, i, kQueueSize, addr_of(&g_rings[i].desc[0]), error)) {
            return false;
        }
    }
    raw.transport.add_status(kVirtioStatusDriverOk);
    if ((raw.transport.status() & (kVirtioStatusNeedsReset | kVirtioStatusFailed)) != 0) {
        *error = "device status has NEEDS_RESET or FAILED after DRIVER_OK";
        return false;
    }
    return true;
}

bool needs_reset(Raw& raw) {
    return (raw.transport.status() & kVirtioStatusNeedsReset) != 0;
}

struct Outcome {
    bool completed = false;
    bool needs_reset = false;
    uint32_t used_id = 0;
    uint32_t used_len = 0;
    uint8_t status = 0xff;  // g_status[0] when the element was taken
};

// Publishes `head` (count times the same head: count 1 normally) and waits for one used element
// or NEEDS_RESET.
Outcome raw_run(Raw& raw, unsigned qi, uint16_t head) {
    RawQueue& q = raw.q[qi];
    RingMemory& ring = g_rings[qi];
    ring.avail[2 + q.avail_idx % kQueueSize] = head;
    ++q.avail_idx;
    ring.avail[1] = q.avail_idx;
    fence();
    raw.transport.notify(q.index);
    Outcome out;
    uint64_t start = rdtsc();
    unsigned polls = 0;
    while (rdtsc() - start < kTimeoutCycles) {
        uint16_t used_idx = static_cast<uint16_t>(ring.used[0] >> 16);
        if (used_idx != q.last_used) {
            unsigned slot = q.last_used % kQueueSize;
            out.completed = true;
            out.used_id = ring.used[1 + 2 * slot];
            out.used_len = ring.used[2 + 2 * slot];
            out.status = g_status[0];
            ++q.last_used;
            break;
        }
        if (++polls % 64 == 0 && needs_reset(raw)) {
            break;
        }
        cpu_relax();
    }
    out.needs_reset = needs_reset(raw);
    return out;
}

void set_desc(unsigned qi, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next) {
    g_rings[qi].desc[i] = Desc{addr, len, flags, next};
}

// A well-formed request: header, one data buffer, status (descriptors 0-2).
Outcome raw_request(Raw& raw, unsigned qi, uint32_t type, uint64_t sector, uint8_t* data,
                    uint32_t bytes) {
    g_headers[0] = BlkHeader{type, 0, sector};
    g_status[0] = 0xff;
    set_desc(qi, 0, addr_of(&g_headers[0]), sizeof(BlkHeader), kDescNext, 1);
    set_desc(qi, 1, addr_of(data), bytes,
             static_cast<uint16_t>(kDescNext | (type == kBlkTIn ? kDescWrite : 0)), 2);
    set_desc(qi, 2, addr_of(&g_status[0]), 1, kDescWrite, 0);
    return raw_run(raw, qi, 0);
}

// A normal write and read back of one 4 KiB block on queue qi; nullptr when it worked.
const char* normal_io(Raw& raw, unsigned qi, uint8_t seed) {
    uint64_t sector = 8 + 8 * qi;
    for (unsigned i = 0; i < 4096; ++i) {
        g_data[0][i] = static_cast<uint8_t>(seed + i * 7);
        g_data[1][i] = 0;
    }
    Outcome w = raw_request(raw, qi, kBlkTOut, sector, g_data[0], 4096);
    if (!w.completed || w.used_len != 1 || g_status[0] != kBlkSOk) {
        return "normal write failed";
    }
    Outcome r = raw_request(raw, qi, kBlkTIn, sector, g_data[1], 4096);
    if (!r.completed || r.used_len != 4097 || g_status[0] != kBlkSOk) {
        return "normal read failed";
    }
    for (unsigned i = 0; i < 4096; ++i) {
        if (g_data[1][i] != g_data[0][i]) {
            return "read data differs from what was written";
        }
    }
    return nullptr;
}

unsigned g_passed = 0;
unsigned g_failed = 0;
unsigned g_skipped = 0;
uint8_t g_seed = 1;

void report(const char* name, const char* problem, const Outcome* o) {
    put_blk_line(g_raw.function.where, problem == nullptr ? "PASS " : "FAIL ");
    put_str("hostile ");
    put_str(name);
    if (o != nullptr) {
        put_str(o->completed ? " (used len " : " (no used element");
        if (o->completed) {
            put_dec(o->used_len);
            put_str(", status ");
            put_hex(o->status);
        }
        put_str(o->needs_reset ? ", NEEDS_RESET)" : ")");
    }
    if (problem != nullptr) {
        put_str(": ");
        put_str(problem);
        ++g_failed;
    } else {
        ++g_passed;
    }
    put_char('\n');
}

// After a case: the device must still work (after a reset when `reset_expected`, or when the
// queue is left with a chain the device never returned, which the driver cannot reclaim
// otherwise).
const char* still_works(bool reinit) {
    const char* error = nullptr;
    if (reinit && !raw_start(g_raw, &error)) {
        return error;
    }
    for (unsigned qi = 0; qi < g_raw.queues; ++qi) {
        if (const char* problem = normal_io(g_raw, qi, g_seed++)) {
            return qi == 0 ? problem : "queue 1: normal write or read failed";
        }
    }
    return nullptr;
}

// The check of a malformed-chain case: returned with used len 0 (or `alt_ioerr`: IOERR), no
// NEEDS_RESET, then the device still works.
void finish_chain_case(const char* name, const Outcome& o, bool allow_ioerr) {
    const char* problem = nullptr;
    if (!o.completed) {
        problem = o.needs_reset ? "NEEDS_RESET instead of a used element" : "chain never returned";
    } else if (o.needs_reset) {
        problem = "NEEDS_RESET set";
    } else if (o.used_id != 0) {
        problem = "used id is not the chain's head";
    } else if (o.used_len != 0 && !(allow_ioerr && o.used_len == 1 && o.status == kBlkSIoErr)) {
        problem = allow_ioerr ? "expected used len 0 or IOERR" : "expected used len 0";
    }
    const char* after = still_works(!o.completed || o.needs_reset);
    report(name, problem != nullptr ? problem : after, &o);
}

bool has_indirect() {
    return (g_raw.features & feature_bit(kVirtioFIndirectDesc)) != 0;
}

void skip(const char* name, const char* why) {
    put_blk_line(g_raw.function.where, "SKIP hostile ");
    put_str(name);
    put_str(": ");
    put_str(why);
    put_char('\n');
    ++g_skipped;
}

// Header + data (flags) + status, descriptors 0-2, with the data descriptor given.
Outcome chain_with_data(uint64_t addr, uint32_t len, uint16_t data_flags, uint32_t type) {
    g_headers[0] = BlkHeader{type, 0, 0};
    g_status[0] = 0xff;
    set_desc(0, 0, addr_of(&g_headers[0]), sizeof(BlkHeader), kDescNext, 1);
    set_desc(0, 1, addr, len, static_cast<uint16_t>(kDescNext | data_flags), 2);
    set_desc(0, 2, addr_of(&g_status[0]), 1, kDescWrite, 0);
    return raw_run(g_raw, 0, 0);
}

void case_data_outside_ram() {
    Outcome o = chain_with_data(kFarAddress, 4096, kDescWrite, kBlkTIn);
    finish_chain_case("read-into-address-outside-ram", o, true);
    o = chain_with_data(kFarAddress, 4096, 0, kBlkTOut);
    finish_chain_case("write-from-address-outside-ram", o, true);
    // The header itself outside RAM.
    g_status[0] = 0xff;
    set_desc(0, 0, kFarAddress, sizeof(BlkHeader), kDescNext, 1);
    set_desc(0, 1, addr_of(&g_status[0]), 1, kDescWrite, 0);
    o = raw_run(g_raw, 0, 0);
    finish_chain_case("header-outside-ram", o, true);
}

void case_address_wraps() {
    Outcome o = chain_with_data(0xffff'ffff'ffff'f000, 0x2000, kDescWrite, kBlkTIn);
    finish_chain_case("address-plus-length-wraps", o, true);
}

void case_chain_loop() {
    g_headers[0] = BlkHeader{kBlkTIn, 0, 0};
    g_status[0] = 0xff;
    set_desc(0, 0, addr_of(&g_headers[0]), sizeof(BlkHeader), kDescNext, 1);
    set_desc(0, 1, addr_of(g_data[1]), 512, kDescNext | kDescWrite, 2);
    set_desc(0, 2, addr_of(g_data[2]), 512, kDescNext | kDescWrite, 1);  // back to 1
    Outcome o = raw_run(g_raw, 0, 0);
    finish_chain_case("chain-loops", o, false);
}

void case_next_out_of_range() {
    g_headers[0] = BlkHeader{kBlkTIn, 0, 0};
    g_status[0] = 0xff;
    set_desc(0, 0, addr_of(&g_headers[0]), sizeof(BlkHeader), kDescNext, 1);
    set_desc(0, 1, addr_of(g_data[1]), 512, kDescNext | kDescWrite, 5000);
    Outcome o = raw_run(g_raw, 0, 0);
    finish_chain_case("next-beyond-queue", o, false);
}

// An indirect chain in g_indirect of `entries` entries; the ring descriptor points at it.
Outcome run_indirect(uint64_t table, uint32_t table_len) {
    g_status[0] = 0xff;
    set_desc(0, 0, table, table_len, kDescIndirect, 0);
    return raw_run(g_raw, 0, 0);
}

void fill_indirect_request(unsigned data_descs) {
    g_headers[0] = BlkHeader{kBlkTIn, 0, 0};
    g_indirect[0] = Desc{addr_of(&g_headers[0]), sizeof(BlkHeader), kDescNext, 1};
    for (unsigned i = 1; i <= data_descs; ++i) {
        g_indirect[i] =
            Desc{addr_of(g_data[1]), 512, kDescNext | kDescWrite, static_cast<uint16_t>(i + 1)};
    }
    g_indirect[data_descs + 1] = Desc{addr_of(&g_status[0]), 1, kDescWrite, 0};
}

void case_chain_longer_than_queue() {
    if (!has_indirect()) {
        return skip("chain-longer-than-indirect-limit", "no INDIRECT_DESC");
    }
    // 1030 entries: more than the 1024 an indirect table may hold.
    fill_indirect_request(1028);
    Outcome o = run_indirect(addr_of(&g_indirect[0]), 1030 * sizeof(Desc));
    finish_chain_case("chain-longer-than-indirect-limit", o, false);
    // A loop inside an indirect table.
    fill_indirect_request(2);
    g_indirect[2].next = 1;
    g_indirect[2].flags = kDescNext | kDescWrite;
    g_indirect[3] = Desc{addr_of(g_data[1]), 512, kDescNext | kDescWrite, 1};
    o = run_indirect(addr_of(&g_indirect[0]), 4 * sizeof(Desc));
    finish_chain_case("indirect-chain-loops", o, false);
    // A direct chain the length of the queue plus one cannot exist without a loop; a direct
    // chain of exactly the queue size (header, 30 data, status) is legal: check it works.
    g_headers[0] = BlkHeader{kBlkTIn, 0, 0};
    g_status[0] = 0xff;
    set_desc(0, 0, addr_of(&g_headers[0]), sizeof(BlkHeader), kDescNext, 1);
    for (uint16_t i = 1; i < kQueueSize - 1; ++i) {
        set_desc(0, i, addr_of(g_data[1]), 512, kDescNext | kDescWrite,
                 static_cast<uint16_t>(i + 1));
    }
    set_desc(0, kQueueSize - 1, addr_of(&g_status[0]), 1, kDescWrite, 0);
    o = raw_run(g_raw, 0, 0);
    // More than 128 data segments is refused, 30 is fine: OK, or IOERR if the device limits
    // segments (seg_max) lower.
    const char* problem = nullptr;
    if (!o.completed || o.needs_reset) {
        problem = "a queue-size chain was not served";
    } else if (!(o.used_len == 30 * 512 + 1 && o.status == kBlkSOk) && o.used_len != 0 &&
               o.status != kBlkSIoErr) {
        problem = "unexpected answer";
    }
    report("chain-of-queue-size", problem != nullptr ? problem : still_works(false), &o);
}

void case_nested_indirect() {
    if (!has_indirect()) {
        return skip("indirect-in-indirect", "no INDIRECT_DESC");
    }
    fill_indirect_request(1);
    g_indirect[1] = Desc{addr_of(&g_indirect[8]), 3 * sizeof(Desc), kDescIndirect | kDescNext, 2};
    g_indirect[8] = Desc{addr_of(g_data[1]), 512, kDescWrite, 0};
    Outcome o = run_indirect(addr_of(&g_indirect[0]), 3 * sizeof(Desc));
    finish_chain_case("indirect-in-indirect", o, false);
    // INDIRECT together with NEXT in the ring.
    fill_indirect_request(1);
    g_status[0] = 0xff;
    set_desc(0, 0, addr_of(&g_indirect[0]), 3 * sizeof(Desc), kDescIndirect | kDescNext, 1);
    set_desc(0, 1, addr_of(&g_status[0]), 1, kDescWrite, 0);
    o = raw_run(g_raw, 0, 0);
    finish_chain_case("indirect-with-next", o, false);
}

void case_bad_indirect_table() {
    if (!has_indirect()) {
        return skip("indirect-table-*", "no INDIRECT_DESC");
    }
    fill_indirect_request(1);
    Outcome o = run_indirect(kFarAddress, 3 * sizeof(Desc));
    finish_chain_case("indirect-table-outside-ram", o, false);
    fill_indirect_request(1);
    o = run_indirect(addr_of(&g_indirect[0]), 3 * sizeof(Desc) - 5);
    finish_chain_case("indirect-table-len-not-multiple-of-16", o, false);
    o = run_indirect(addr_of(&g_indirect[0]), 0);
    finish_chain_case("indirect-table-len-0", o, false);
    o = run_indirect(0xffff'ffff'ffff'fff0, 3 * sizeof(Desc));
    finish_chain_case("indirect-table-wraps", o, false);
    // Misaligned table: the spec does not require alignment; the device may serve it (OK) or
    // refuse it (used len 0). Either way, no NEEDS_RESET and the device keeps working.
    auto* bytes = reinterpret_cast<uint8_t*>(&g_indirect[512]);
    fill_indirect_request(1);
    for (unsigned i = 0; i < 3 * sizeof(Desc); ++i) {
        bytes[4 + i] = reinterpret_cast<uint8_t*>(&g_indirect[0])[i];
    }
    o = run_indirect(addr_of(bytes + 4), 3 * sizeof(Desc));
    const char* problem = nullptr;
    if (!o.completed || o.needs_reset) {
        problem = "not returned / NEEDS_RESET";
    } else if (o.used_len != 0 && !(o.used_len == 513 && o.status == kBlkSOk)) {
        problem = "expected OK (513) or used len 0";
    }
    report("indirect-table-misaligned", problem != nullptr ? problem : still_works(false), &o);
}

void case_wrong_directions() {
    // Device-writable header.
    g_headers[0] = BlkHeader{kBlkTIn, 0, 0};
    g_status[0] = 0xff;
    set_desc(0, 0, addr_of(&g_headers[0]), sizeof(BlkHeader), kDescNext | kDescWrite, 1);
    set_desc(0, 1, addr_of(g_data[1]), 512, kDescNext | kDescWrite, 2);
    set_desc(0, 2, addr_of(&g_status[0]), 1, kDescWrite, 0);
    // nvmevm answers this one (the status byte is usable) with IOERR: docs/virtio-blk.md.
    finish_chain_case("device-writable-header", raw_run(g_raw, 0, 0), true);
    // Device-readable status.
    g_status[0] = 0xff;
    set_desc(0, 0, addr_of(&g_headers[0]), sizeof(BlkHeader), kDescNext, 1);
    set_desc(0, 2, addr_of(&g_status[0]), 1, 0, 0);
    finish_chain_case("device-readable-status", raw_run(g_raw, 0, 0), false);
    // No status descriptor at all: header only, header + readable data.
    g_status[0] = 0xff;
    set_desc(0, 0, addr_of(&g_headers[0]), sizeof(BlkHeader), 0, 0);
    finish_chain_case("header-only", raw_run(g_raw, 0, 0), false);
    g_headers[0] = BlkHeader{kBlkTOut, 0, 0};
    set_desc(0, 0, addr_of(&g_headers[0]), sizeof(BlkHeader), kDescNext, 1);
    set_desc(0, 1, addr_of(g_data[1]), 512, 0, 0);
    finish_chain_case("missing-status", raw_run(g_raw, 0, 0), false);
    // A short header (8 bytes).
    g_status[0] = 0xff;
    set_desc(0, 0, addr_of(&g_headers[0]), 8, kDescNext, 1);
    set_desc(0, 1, addr_of(&g_status[0]), 1, kDescWrite, 0);
    finish_chain_case("short-header", raw_run(g_raw, 0, 0), true);
}

void ioerr_case(const char* name, uint32_t type, uint64_t sector) {
    Outcome o = raw_request(g_raw, 0, type, sector, g_data[1], 4096);
    const char* problem = nullptr;
    if (!o.completed || o.needs_reset) {
        problem = "not returned / NEEDS_RESET";
    } else if (o.used_len != 1 || o.status != kBlkSIoErr) {
        problem = "expected IOERR (used len 1)";
    }
    report(name, problem != nullptr ? problem : still_works(false), &o);
}

void case_sectors() {
    ioerr_case("read-beyond-end", kBlkTIn, g_raw.capacity + 16);
    ioerr_case("write-beyond-end", kBlkTOut, g_raw.capacity);
    ioerr_case("read-sector-overflow", kBlkTIn, 0xffff'ffff'ffff'fffe);
    ioerr_case("write-sector-overflow", kBlkTOut, 0xffff'ffff'ffff'ffff);
    ioerr_case("read-sector-times-512-overflows", kBlkTIn, uint64_t{1} << 56);
}

// A corrupt ring: NEEDS_RESET expected, then a reset and re-initialization that works.
void ring_corruption_case(const char* name, uint16_t avail_jump, uint16_t head) {
    RawQueue& q = g_raw.q[0];
    RingMemory& ring = g_rings[0];
    ring.avail[2 + q.avail_idx % kQueueSize] = head;
    q.avail_idx = static_cast<uint16_t>(q.avail_idx + avail_jump);
    ring.avail[1] = q.avail_idx;
    fence();
    g_raw.transport.notify(0);
    uint64_t start = rdtsc();
    bool flagged = false;
    while (rdtsc() - start < kTimeoutCycles && !(flagged = needs_reset(g_raw))) {
        cpu_relax();
    }
    Outcome o;
    o.needs_reset = flagged;
    const char* after = still_works(true);
    report(name, flagged ? after : "DEVICE_NEEDS_RESET not set", &o);
}

void case_ring_corruption() {
    ring_corruption_case("avail-idx-ahead-by-more-than-size", kQueueSize + 5, 0);
    ring_corruption_case("avail-head-out-of-range", 1, 999);
}

void case_notify_missing_queue() {
    uint64_t doorbell = g_raw.transport.notify_address(0);
    write16(doorbell, 7);
    write16(doorbell, 0xffff);
    write16(doorbell, static_cast<uint16_t>(g_raw.transport.num_queues()));
    Outcome o;
    o.needs_reset = needs_reset(g_raw);
    report("notify-missing-queue", o.needs_reset ? "NEEDS_RESET set" : still_works(false), &o);
}

// DRIVER_OK with a queue the device cannot use: it must set NEEDS_RESET (or refuse).
void bad_queue_config_case(const char* name, uint16_t size, uint64_t desc, uint64_t avail_skew = 0,
                           uint64_t used_skew = 0) {
    const char* error = nullptr;
    Outcome o;
    const char* problem = nullptr;
    if (!raw_features(g_raw, &error)) {
        problem = error;
    } else {
        g_raw.queues = 1;
        if (!raw_setup_queue(g_raw, 0, size, desc, &error, avail_skew, used_skew)) {
            // Refused at setup (read back differs): an acceptable refusal.
        } else {
            g_raw.transport.add_status(kVirtioStatusDriverOk);
            o.needs_reset = needs_reset(g_raw);
            if (!o.needs_reset) {
                problem = "DRIVER_OK accepted without NEEDS_RESET";
            }
        }
    }
    const char* after = still_works(true);
    report(name, problem != nullptr ? problem : after, &o);
}

void case_bad_queue_config() {
    bad_queue_config_case("desc-table-outside-ram", kQueueSize, kFarAddress);
    bad_queue_config_case("desc-table-wraps", kQueueSize, 0xffff'ffff'ffff'ff00);
    bad_queue_config_case("queue-size-not-power-of-two", 12, addr_of(&g_rings[0].desc[0]));
    bad_queue_config_case("queue-size-0", 0, addr_of(&g_rings[0].desc[0]));
    // 2.7: the descriptor table 16-byte, the available ring 2-byte, the used ring 4-byte
    // aligned. The device must not bind the rings (it would access them misaligned).
    bad_queue_config_case("desc-table-misaligned", kQueueSize, addr_of(&g_rings[0].desc[0]) + 8);
    bad_queue_config_case("avail-ring-misaligned", kQueueSize, addr_of(&g_rings[0].desc[0]), 1);
    bad_queue_config_case("used-ring-misaligned", kQueueSize, addr_of(&g_rings[0].desc[0]), 0, 2);
}

void case_stray_register_writes() {
    VirtioPci& t = g_raw.transport;
    uint64_t common = t.common().address;
    uint8_t status_before = t.status();
    uint16_t queues_before = t.num_queues();
    uint64_t capacity_before = t.config64(0);
    // Read-only common fields, odd offsets and widths.
    mmio_write32(common + 4, 0xffffffff);                  // device_feature
    write16(common + 18, 0x55);                            // num_queues
    mmio_write8(common + 21, 0x77);                        // config_generation
    write16(common + 30, 0x1234);                          // queue_notify_off
    mmio_write8(common + 3, 0xff);                         // inside device_feature_select, odd byte
    mmio_write32(common + t.common().length, 0xdeadbeef);  // past the structure
    mmio_write64(common + t.common().length + 8, ~uint64_t{0});
    // Device configuration: read-only here (no CONFIG_WCE).
    mmio_write32(t.device_region().address, 0);
    mmio_write64(t.device_region().address, 0);
    mmio_write8(t.device_region().address + 20, 0xff);
    mmio_write32(t.device_region().address + t.device_region().length, 1);
    // ISR (read-only) and the doorbells at odd offsets and widths.
    mmio_write8(t.isr_region().address, 0xff);
    mmio_write32(t.isr_region().address, 0xffffffff);
    mmio_write8(t.notify_address(0) + 1, 0);
    mmio_write32(t.notify_address(0) + 1, 0);
    mmio_write64(t.notify_region().address + t.notify_region().length, 0);
    // The MSI-X table: past the last entry, odd widths, and the PBA.
    uint8_t caps[48];
    unsigned count = pci_capabilities(g_raw.function.where, caps, 48);
    for (unsigned i = 0; i < count; ++i) {
        if (pci_read8(g_raw.function.where, caps[i]) != kPciCapMsix) {
            continue;
        }
        uint16_t control = pci_read16(g_raw.function.where, static_cast<uint8_t>(caps[i] + 2));
        unsigned entries = (control & 0x7ffu) + 1;
        uint32_t table = pci_read32(g_raw.function.where, static_cast<uint8_t>(caps[i] + 4));
        uint32_t pba = pci_read32(g_raw.function.where, static_cast<uint8_t>(caps[i] + 8));
        const PciBarInfo& tbar = g_raw.function.bars[table & 7];
        const PciBarInfo& pbar = g_raw.function.bars[pba & 7];
        if (tbar.present && !tbar.io && tbar.address != 0 && tbar.address < (uint64_t{1} << 32)) {
            uint64_t base = tbar.address + (table & ~7u);
            mmio_write32(base + 16 * entries, 0xfee00000);
            mmio_write64(base + 16 * entries + 8, 0x30);
            mmio_write32(base + 16 * (entries + 100), 0x12345678);
            mmio_write8(base + 1, 0xaa);     // odd byte of entry 0's address
            write16(base + 12 + 1, 0xffff);  // straddling entry 0's vector control
        }
        if (pbar.present && !pbar.io && pbar.address != 0 && pbar.address < (uint64_t{1} << 32)) {
            mmio_write64(pbar.address + (pba & ~7u), ~uint64_t{0});
        }
    }
    Outcome o;
    o.needs_reset = needs_reset(g_raw);
    const char* problem = nullptr;
    if (t.status() != status_before) {
        problem = "device_status changed";
    } else if (t.num_queues() != queues_before) {
        problem = "num_queues changed";
    } else if (t.config64(0) != capacity_before) {
        problem = "capacity changed";
    }
    report("stray-register-writes", problem != nullptr ? problem : still_works(false), &o);
}

void case_reset_in_flight() {
    // Eight 4 KiB writes in flight (descriptors 3i..3i+2), then a reset at once.
    RawQueue& q = g_raw.q[0];
    RingMemory& ring = g_rings[0];
    for (uint16_t r = 0; r < 8; ++r) {
        uint16_t d = static_cast<uint16_t>(3 * r);
        g_headers[r] = BlkHeader{kBlkTOut, 0, 64 + 8u * r};
        g_status[r] = 0xff;
        set_desc(0, d, addr_of(&g_headers[r]), sizeof(BlkHeader), kDescNext,
                 static_cast<uint16_t>(d + 1));
        set_desc(0, static_cast<uint16_t>(d + 1), addr_of(g_data[r]), 4096, kDescNext,
                 static_cast<uint16_t>(d + 2));
        set_desc(0, static_cast<uint16_t>(d + 2), addr_of(&g_status[r]), 1, kDescWrite, 0);
        ring.avail[2 + q.avail_idx % kQueueSize] = d;
        ++q.avail_idx;
    }
    ring.avail[1] = q.avail_idx;
    fence();
    g_raw.transport.notify(0);
    g_raw.transport.set_status(0);
    Outcome o;
    const char* problem = nullptr;
    uint64_t start = rdtsc();
    while (g_raw.transport.status() != 0 && rdtsc() - start < kTimeoutCycles) {
        cpu_relax();
    }
    if (g_raw.transport.status() != 0) {
        problem = "device_status did not read 0 after the reset";
    }
    // Completions of the old generation must not land in the new rings: re-initialize, let the
    // old requests finish in the background, and run normal requests several times.
    const char* after = still_works(true);
    for (unsigned i = 0; i < 4 && after == nullptr; ++i) {
        after = still_works(false);
    }
    report("reset-with-requests-in-flight", problem != nullptr ? problem : after, &o);
}

// Every other device: a normal write + read (untouched by the attacks on the first).
void check_other_devices(PciFunction* found, unsigned count) {
    g_raw.transport.reset();
    for (unsigned i = 1; i < count; ++i) {
        Raw& raw = g_raw;
        raw.function = found[i];
        const char* error = nullptr;
        if (!raw_start(raw, &error)) {
            report("other-device-works", error, nullptr);
        } else {
            report("other-device-works", still_works(false), nullptr);
        }
        raw.transport.reset();
    }
}

}  // namespace

void mode_hostile(const Context&) {
    PciFunction found[kMaxBlkDevices];
    unsigned count = find_blk_devices(found);
    if (count == 0) {
        put_line_start("hostile: FAIL no virtio-blk device\n");
        report_mode_failure();
        return;
    }
    g_passed = g_failed = g_skipped = 0;
    g_raw.function = found[0];
    const char* error = nullptr;
    if (!raw_start(g_raw, &error)) {
        put_blk_line(found[0].where, "FAIL hostile start: ");
        put_str(error);
        put_char('\n');
        report_mode_failure();
        return;
    }
    report("baseline-write-read", still_works(false), nullptr);
    case_data_outside_ram();
    case_address_wraps();
    case_chain_loop();
    case_next_out_of_range();
    case_chain_longer_than_queue();
    case_nested_indirect();
    case_bad_indirect_table();
    case_wrong_directions();
    case_sectors();
    case_ring_corruption();
    case_notify_missing_queue();
    case_bad_queue_config();
    case_stray_register_writes();
    case_reset_in_flight();
    check_other_devices(found, count);
    g_raw.transport.reset();
    put_line_start("hostile: ");
    put_dec(g_passed);
    put_str(" passed, ");
    put_dec(g_failed);
    put_str(" failed, ");
    put_dec(g_skipped);
    put_str(" skipped\n");
    if (g_failed != 0) {
        report_mode_failure();
    }
}

}  // namespace guest
