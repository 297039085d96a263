// `blk`: the virtio-blk correctness suite, run on every modern virtio-blk device on bus 0.
// Each check prints `blk 00:SS PASS <check> ...`, `FAIL <check>: why` or `SKIP <check> (why)`;
// any FAIL (or no device at all) makes the guest exit with kStatusCheckFailed.
//
// Data checks write a pattern that depends on the sector number and a seed taken from the TSC
// at start, so a device that drops writes cannot pass on data left by an earlier run; the
// first ranges are then rewritten with a second seed and checked again.
//
// Multi-queue: with MQ, two queues and a second vCPU running (smp.h; the suite starts it
// unless `nosmp`), vCPU i drives queue i, both at the same time; what one wrote the other
// reads back through its own queue. With one vCPU both queues carry requests at once,
// interleaved from vCPU 0. With `irq` every wait halts until the queue's MSI-X interrupt,
// which goes to the vCPU driving that queue.
#include "interrupts.h"
#include "io.h"
#include "mode_blk_common.h"
#include "serial.h"
#include "smp.h"

namespace guest {
namespace {

constexpr uint32_t kBufferBytes = 1u << 20;
constexpr uint32_t kSweepRequestBytes = 128u << 10;
constexpr unsigned kSweepInFlight = kBufferBytes / kSweepRequestBytes;  // 8
constexpr uint64_t kSweepMaxSectors = (64u << 20) / kSectorSize;        // disks up to 64 MiB
constexpr uint64_t kPatternWordsPerSector = kSectorSize / 8;

alignas(4096) uint8_t g_buffer[kBufferBytes];
BlkDevice g_device;
BlkRequest g_requests[kSweepInFlight];
BlkRange g_ranges[2];
uint8_t g_saved[kSectorSize];
char g_id[kBlkIdBytes + 1];

uint64_t mix(uint64_t x) {  // splitmix64's finalizer
    x += 0x9e3779b97f4a7c15;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9;
    x = (x ^ (x >> 27)) * 0x94d049bb133111eb;
    return x ^ (x >> 31);
}

uint64_t pattern_word(uint64_t sector, uint64_t word, uint64_t seed) {
    return mix(seed ^ mix(sector * kPatternWordsPerSector + word));
}

void fill_pattern(uint8_t* buffer, uint64_t sector, uint32_t sectors, uint64_t seed) {
    auto* words = reinterpret_cast<uint64_t*>(buffer);
    for (uint64_t s = 0; s < sectors; ++s) {
        for (uint64_t w = 0; w < kPatternWordsPerSector; ++w) {
            words[s * kPatternWordsPerSector + w] = pattern_word(sector + s, w, seed);
        }
    }
}

// The first sector whose data differs from the pattern, or UINT64_MAX when all match.
uint64_t check_pattern(const uint8_t* buffer, uint64_t sector, uint32_t sectors, uint64_t seed) {
    const auto* words = reinterpret_cast<const uint64_t*>(buffer);
    for (uint64_t s = 0; s < sectors; ++s) {
        for (uint64_t w = 0; w < kPatternWordsPerSector; ++w) {
            if (words[s * kPatternWordsPerSector + w] != pattern_word(sector + s, w, seed)) {
                return sector + s;
            }
        }
    }
    return UINT64_MAX;
}

bool all_zero(const uint8_t* buffer, uint32_t bytes) {
    for (uint32_t i = 0; i < bytes; ++i) {
        if (buffer[i] != 0) {
            return false;
        }
    }
    return true;
}

class Suite {
  public:
    Suite(BlkDevice* device, PciAddress where, uint64_t seed)
        : device_(*device), where_(where), seed_(seed) {
        irq_counts(&events_before_, &waits_before_);
    }

    void run();
    unsigned passed() const { return passed_; }
    unsigned failed() const { return failed_; }

  private:
    struct Range {
        uint64_t sector;
        uint32_t sectors;
        unsigned segments;
    };

    void pass(const char* check, const char* detail = nullptr);
    void fail(const char* check, const char* why, uint64_t value = UINT64_MAX);
    void skip(const char* check, const char* why);
    void fail_status(const char* check, uint8_t status, uint8_t expected);

    // One request on `queue` and its wait; checks the used length of successful requests.
    uint8_t io(unsigned queue, uint32_t type, uint64_t sector, void* buffer, uint32_t bytes,
               unsigned segments = 1, bool indirect = false);
    // Writes the pattern to a range, or reads it back and checks it (UINT64_MAX: matches).
    uint8_t write_pattern(unsigned queue, const Range& range, uint64_t seed, bool indirect);
    uint8_t read_check(unsigned queue, const Range& range, uint64_t seed, bool indirect,
                       uint64_t* bad_sector);

    bool check_capacity();
    void check_get_id();
    void check_write_read(bool indirect);
    void check_sweep();
    void check_flush();
    void check_range_command(uint32_t type, const char* check, uint32_t max_sectors,
                             uint32_t max_segments, uint32_t alignment, uint32_t flags,
                             bool require_zeroes);
    void check_past_end();
    void check_unknown_type();
    void check_read_only();
    void check_multi_queue();
    void check_multi_queue_parallel();
    void check_used_len();
    void check_interrupts();
    void print_stats();
    static void irq_counts(uint64_t* events, uint64_t* waits);

    BlkDevice& device_;
    PciAddress where_;
    uint64_t seed_;
    unsigned passed_ = 0;
    unsigned failed_ = 0;
    unsigned used_len_checked_ = 0;
    unsigned used_len_wrong_ = 0;
    uint32_t used_len_first_bad_ = 0;
    uint32_t used_len_first_want_ = 0;
    uint64_t events_before_ = 0;
    uint64_t waits_before_ = 0;
};

void Suite::irq_counts(uint64_t* events, uint64_t* waits) {
    *events = *waits = 0;
    for (unsigned cpu = 0; cpu < cpus_running(); ++cpu) {
        *events += irq_events(cpu);
        *waits += irq_waits(cpu);
    }
}

// Interrupt mode: the waits must have been ended by the device's MSI-X interrupts, not only by
// the watchdog timer (which alone would also get every request done, slowly).
void Suite::check_interrupts() {
    if (!device_.interrupts()) {
        return;
    }
    uint64_t events = 0;
    uint64_t waits = 0;
    irq_counts(&events, &waits);
    events -= events_before_;
    waits -= waits_before_;
    if (events == 0) {
        fail("irq", "no MSI-X interrupt arrived (waits ended by the watchdog timer only); waits",
             waits);
        return;
    }
    put_blk_line(where_, "PASS irq (halted until MSI-X: interrupts=");
    put_dec(events);
    put_str(" waits=");
    put_dec(waits);
    put_str(")\n");
    ++passed_;
}

void Suite::pass(const char* check, const char* detail) {
    put_blk_line(where_, "PASS ");
    put_str(check);
    if (detail != nullptr) {
        put_char(' ');
        put_str(detail);
    }
    put_char('\n');
    ++passed_;
}

void Suite::fail(const char* check, const char* why, uint64_t value) {
    put_blk_line(where_, "FAIL ");
    put_str(check);
    put_str(": ");
    put_str(why);
    if (value != UINT64_MAX) {
        put_char(' ');
        put_dec(value);
    }
    put_char('\n');
    ++failed_;
}

void Suite::skip(const char* check, const char* why) {
    put_blk_line(where_, "SKIP ");
    put_str(check);
    put_str(" (");
    put_str(why);
    put_str(")\n");
}

void Suite::fail_status(const char* check, uint8_t status, uint8_t expected) {
    put_blk_line(where_, "FAIL ");
    put_str(check);
    put_str(": status ");
    put_str(blk_status_name(status));
    put_str(" (");
    put_dec(status);
    put_str("), expected ");
    put_str(blk_status_name(expected));
    put_char('\n');
    ++failed_;
}

uint8_t Suite::io(unsigned queue, uint32_t type, uint64_t sector, void* buffer, uint32_t bytes,
                  unsigned segments, bool indirect) {
    BlkRequest& request = g_requests[0];
    device_.prepare(&request, type, sector, buffer, bytes, segments, indirect);
    uint8_t status = device_.execute(queue, &request);
    if (status == kBlkSOk) {
        ++used_len_checked_;
        if (request.used_len != request.writable_bytes) {
            if (used_len_wrong_++ == 0) {
                used_len_first_bad_ = request.used_len;
                used_len_first_want_ = request.writable_bytes;
            }
        }
    }
    return status;
}

uint8_t Suite::write_pattern(unsigned queue, const Range& range, uint64_t seed, bool indirect) {
    fill_pattern(g_buffer, range.sector, range.sectors, seed);
    return io(queue, kBlkTOut, range.sector, g_buffer, range.sectors * kSectorSize, range.segments,
              indirect);
}

uint8_t Suite::read_check(unsigned queue, const Range& range, uint64_t seed, bool indirect,
                          uint64_t* bad_sector) {
    // Poison first, so stale buffer contents cannot pass for data the device never wrote.
    for (uint32_t i = 0; i < range.sectors * kSectorSize; ++i) {
        g_buffer[i] = 0xa5;
    }
    uint8_t status = io(queue, kBlkTIn, range.sector, g_buffer, range.sectors * kSectorSize,
                        range.segments, indirect);
    *bad_sector =
        status == kBlkSOk ? check_pattern(g_buffer, range.sector, range.sectors, seed) : UINT64_MAX;
    return status;
}

bool Suite::check_capacity() {
    uint64_t capacity = device_.config().capacity;
    if (capacity == 0) {
        fail("capacity", "device reports 0 sectors");
        return false;
    }
    put_blk_line(where_, "PASS capacity=");
    put_dec(capacity);
    put_str(" sectors (");
    put_dec(capacity * kSectorSize >> 10);
    put_str(" KiB)\n");
    ++passed_;
    return true;
}

void Suite::check_get_id() {
    for (auto& c : g_id) {
        c = 0;
    }
    uint8_t status = io(0, kBlkTGetId, 0, g_id, kBlkIdBytes);
    if (status == kBlkSUnsupp) {
        skip("get-id", "device answered UNSUPP");
        return;
    }
    if (status != kBlkSOk) {
        fail_status("get-id", status, kBlkSOk);
        return;
    }
    // "The string is not zero-terminated if it is 20 bytes long" (5.2.6): g_id has one more.
    put_blk_line(where_, "PASS get-id serial=\"");
    for (char c : g_id) {
        if (c == '\0') {
            break;
        }
        put_char(c >= 0x20 && c < 0x7f ? c : '?');
    }
    put_str("\"\n");
    ++passed_;
}

void Suite::check_write_read(bool indirect) {
    const char* check = indirect ? "write-read-indirect" : "write-read";
    uint64_t capacity = device_.config().capacity;
    Range ranges[8];
    unsigned count = 0;
    auto add = [&](uint64_t sector, uint64_t sectors, unsigned segments) {
        if (sector < capacity && sectors <= capacity - sector) {
            ranges[count++] = Range{sector, static_cast<uint32_t>(sectors), segments};
        }
    };
    add(0, 1, 1);
    add(1, 7, 2);     // odd start, two segments
    add(8, 8, 1);     // one 4 KiB block
    add(16, 128, 4);  // 64 KiB in four segments
    add(capacity / 2 - 3, 5, 1);
    add(capacity - 8, 8, 3);  // up to the last sector, three segments
    add(capacity - 1, 1, 1);  // the last sector alone
    for (unsigned pass = 0; pass < 2; ++pass) {
        uint64_t seed = seed_ + pass + (indirect ? 2 : 0);
        for (unsigned i = 0; i < count; ++i) {
            uint8_t status = write_pattern(0, ranges[i], seed, indirect);
            if (status != kBlkSOk) {
                fail_status(check, status, kBlkSOk);
                return;
            }
            uint64_t bad = UINT64_MAX;
            status = read_check(0, ranges[i], seed, indirect, &bad);
            if (status != kBlkSOk) {
                fail_status(check, status, kBlkSOk);
                return;
            }
            if (bad != UINT64_MAX) {
                fail(check,
                     pass == 0 ? "data read back differs at sector"
                               : "rewritten data read back differs at sector",
                     bad);
                return;
            }
        }
    }
    put_blk_line(where_, "PASS ");
    put_str(check);
    put_str(" (");
    put_dec(count);
    put_str(" ranges incl. last sector ");
    put_dec(capacity - 1);
    put_str(", written twice)\n");
    ++passed_;
}

void Suite::check_sweep() {
    uint64_t capacity = device_.config().capacity;
    if (capacity > kSweepMaxSectors) {
        skip("sweep", "disk larger than 64 MiB");
        return;
    }
    constexpr uint32_t kSectorsPerRequest = kSweepRequestBytes / kSectorSize;
    bool indirect_offered = device_.has(kVirtioFIndirectDesc);
    uint64_t seed = seed_ + 7;
    uint64_t requests = 0;
    for (unsigned phase = 0; phase < 2; ++phase) {  // 0: write all, 1: read and check all
        uint32_t type = phase == 0 ? kBlkTOut : kBlkTIn;
        for (uint64_t base = 0; base < capacity;) {
            // A round: up to 8 requests in flight, one kick, then wait for all of them.
            unsigned n = 0;
            for (; n < kSweepInFlight && base < capacity; ++n) {
                uint64_t left = capacity - base;
                uint32_t sectors =
                    left < kSectorsPerRequest ? static_cast<uint32_t>(left) : kSectorsPerRequest;
                uint8_t* buffer = g_buffer + n * kSweepRequestBytes;
                if (phase == 0) {
                    fill_pattern(buffer, base, sectors, seed);
                } else {
                    for (uint32_t i = 0; i < sectors * kSectorSize; ++i) {
                        buffer[i] = 0x5a;
                    }
                }
                // Alternate one/four segments and direct/indirect chains across requests.
                bool indirect = indirect_offered && (n & 1) != 0;
                device_.prepare(&g_requests[n], type, base, buffer, sectors * kSectorSize,
                                (n & 2) != 0 ? 4 : 1, indirect);
                if (!device_.submit(0, &g_requests[n])) {
                    if (n > 0 && !device_.broken()) {
                        break;  // ring full (small queue): finish this round first
                    }
                    fail("sweep", "could not submit request at sector", base);
                    return;
                }
                base += sectors;
                ++requests;
            }
            if (!device_.wait_all()) {
                fail("sweep", "requests did not complete; round ending at sector", base);
                return;
            }
            for (unsigned i = 0; i < n; ++i) {
                BlkRequest& r = g_requests[i];
                if (r.result != kBlkSOk) {
                    fail_status("sweep", r.result, kBlkSOk);
                    return;
                }
                if (phase == 1) {
                    uint64_t bad = check_pattern(g_buffer + i * kSweepRequestBytes, r.header.sector,
                                                 (r.writable_bytes - 1) / kSectorSize, seed);
                    if (bad != UINT64_MAX) {
                        fail("sweep", "data read back differs at sector", bad);
                        return;
                    }
                }
            }
        }
    }
    put_blk_line(where_, "PASS sweep (whole disk written and read back, ");
    put_dec(requests);
    put_str(" requests of up to 128 KiB, 8 in flight per kick)\n");
    ++passed_;
}

void Suite::check_flush() {
    if (!device_.has(kBlkFFlush)) {
        skip("flush", "FLUSH not offered");
        return;
    }
    uint8_t status = io(0, kBlkTFlush, 0, nullptr, 0);
    if (status != kBlkSOk) {
        fail_status("flush", status, kBlkSOk);
        return;
    }
    pass("flush");
}

// DISCARD or WRITE_ZEROES over pattern-filled sectors, in up to two segments per request.
void Suite::check_range_command(uint32_t type, const char* check, uint32_t max_sectors,
                                uint32_t max_segments, uint32_t alignment, uint32_t flags,
                                bool require_zeroes) {
    uint64_t capacity = device_.config().capacity;
    uint64_t align = alignment == 0 ? 1 : alignment;
    uint64_t sectors = max_sectors == 0 ? 1 : max_sectors < 32 ? max_sectors : 32;
    sectors = (sectors + align - 1) / align * align;
    uint64_t start = (type == kBlkTDiscard ? capacity / 4 : capacity / 4 + capacity / 8);
    start = start / align * align;
    unsigned segments = max_segments >= 2 ? 2 : 1;
    uint64_t span = sectors * segments + align;  // a gap between the segments
    if (start + span > capacity || span * kSectorSize > kBufferBytes || sectors > max_sectors) {
        skip(check, "disk too small for the test range or limits too small");
        return;
    }
    Range whole{start, static_cast<uint32_t>(span), 1};
    if (uint8_t status = write_pattern(0, whole, seed_ + 11, false); status != kBlkSOk) {
        fail_status(check, status, kBlkSOk);
        return;
    }
    g_ranges[0] = BlkRange{start, static_cast<uint32_t>(sectors), flags};
    g_ranges[1] = BlkRange{start + sectors + align, static_cast<uint32_t>(sectors), flags};
    uint8_t status = io(0, type, 0, g_ranges, static_cast<uint32_t>(segments * sizeof(BlkRange)));
    if (status != kBlkSOk) {
        fail_status(check, status, kBlkSOk);
        return;
    }
    // Read back: the ranges zeroes (or, after a discard, anything), the gap unchanged.
    for (uint32_t i = 0; i < span * kSectorSize; ++i) {
        g_buffer[i] = 0xa5;
    }
    status = io(0, kBlkTIn, start, g_buffer, static_cast<uint32_t>(span * kSectorSize));
    if (status != kBlkSOk) {
        fail_status(check, status, kBlkSOk);
        return;
    }
    uint32_t range_bytes = static_cast<uint32_t>(sectors * kSectorSize);
    bool zeroes = all_zero(g_buffer, range_bytes);
    if (segments == 2) {
        zeroes = zeroes && all_zero(g_buffer + range_bytes + align * kSectorSize, range_bytes);
        uint64_t bad = check_pattern(g_buffer + range_bytes, start + sectors,
                                     static_cast<uint32_t>(align), seed_ + 11);
        if (bad != UINT64_MAX) {
            fail(check, "sector between the two ranges changed:", bad);
            return;
        }
    }
    if (require_zeroes && !zeroes) {
        fail(check, "range does not read back as zeroes");
        return;
    }
    put_blk_line(where_, "PASS ");
    put_str(check);
    put_str(" (");
    put_dec(segments);
    put_str(" segment(s) of ");
    put_dec(sectors);
    put_str(" sectors");
    if (!require_zeroes) {
        put_str(zeroes ? ", reads back zeroes" : ", not zeroed: allowed for discard");
    }
    put_str(")\n");
    ++passed_;
}

void Suite::check_past_end() {
    uint64_t capacity = device_.config().capacity;
    struct Case {
        const char* check;
        uint32_t type;
        uint64_t sector;
        uint32_t sectors;
    };
    const Case cases[] = {
        {"read-past-end", kBlkTIn, capacity, 1},
        {"read-across-end", kBlkTIn, capacity - 1, 2},
        {"read-far-past-end", kBlkTIn, UINT64_MAX - 1, 1},  // sector + count wraps
    };
    for (const Case& c : cases) {
        uint8_t status = io(0, c.type, c.sector, g_buffer, c.sectors * kSectorSize);
        if (status != kBlkSIoErr) {
            fail_status(c.check, status, kBlkSIoErr);
        } else {
            pass(c.check, "-> IOERR");
        }
    }
    if (device_.has(kBlkFRo)) {
        return;
    }
    // A write across the end must fail as a whole: the last sector keeps its data.
    Range last{capacity - 1, 1, 1};
    uint64_t seed = seed_ + 21;
    if (uint8_t status = write_pattern(0, last, seed, false); status != kBlkSOk) {
        fail_status("write-across-end", status, kBlkSOk);
        return;
    }
    fill_pattern(g_buffer, capacity - 1, 2, seed + 1);
    uint8_t status = io(0, kBlkTOut, capacity - 1, g_buffer, 2 * kSectorSize);
    if (status != kBlkSIoErr) {
        fail_status("write-across-end", status, kBlkSIoErr);
        return;
    }
    uint64_t bad = UINT64_MAX;
    status = read_check(0, last, seed, false, &bad);
    if (status != kBlkSOk || bad != UINT64_MAX) {
        fail("write-across-end", "IOERR, but the last sector changed or is unreadable");
        return;
    }
    pass("write-across-end", "-> IOERR, last sector unchanged");
}

void Suite::check_unknown_type() {
    uint8_t status = io(0, 0x7fu, 0, g_buffer, kSectorSize);
    if (status != kBlkSUnsupp) {
        fail_status("unknown-type", status, kBlkSUnsupp);
        return;
    }
    pass("unknown-type", "-> UNSUPP");
}

void Suite::check_read_only() {
    uint64_t capacity = device_.config().capacity;
    uint8_t status = io(0, kBlkTIn, 0, g_saved, kSectorSize);
    if (status != kBlkSOk) {
        fail_status("ro-read", status, kBlkSOk);
        return;
    }
    status = io(0, kBlkTIn, capacity - 1, g_buffer, kSectorSize);
    if (status != kBlkSOk) {
        fail_status("ro-read", status, kBlkSOk);
        return;
    }
    pass("ro-read", "(first and last sector)");
    fill_pattern(g_buffer, 0, 1, seed_);
    status = io(0, kBlkTOut, 0, g_buffer, kSectorSize);
    if (status != kBlkSIoErr) {
        fail_status("ro-write", status, kBlkSIoErr);
        return;
    }
    status = io(0, kBlkTIn, 0, g_buffer, kSectorSize);
    bool same = status == kBlkSOk;
    for (uint32_t i = 0; same && i < kSectorSize; ++i) {
        same = g_buffer[i] == g_saved[i];
    }
    if (!same) {
        fail("ro-write", "IOERR, but sector 0 changed or is unreadable");
        return;
    }
    pass("ro-write", "-> IOERR, sector 0 unchanged");
}

void Suite::check_multi_queue() {
    if (device_.queue_count() < 2) {
        skip("mq", device_.has(kBlkFMq) ? "device has fewer than 2 queues"
                                        : "MQ not offered or not negotiated");
        return;
    }
    if (cpus_running() >= 2) {
        check_multi_queue_parallel();
        return;
    }
    uint64_t capacity = device_.config().capacity;
    constexpr unsigned kPerQueue = kSweepInFlight / 2;
    constexpr uint32_t kSectors = 8;
    uint64_t base = capacity / 2 + 64;
    if (base + 2 * kPerQueue * kSectors > capacity) {
        skip("mq", "disk too small");
        return;
    }
    uint64_t seed = seed_ + 31;
    uint64_t chains_before[2] = {device_.queue(0).stats().chains, device_.queue(1).stats().chains};
    // Write on queue q, read back on 1 - q; a read-only device gets the reads alone.
    bool read_only = device_.has(kBlkFRo);
    unsigned first_phase = read_only ? 1 : 0;
    for (unsigned phase = first_phase; phase < 2; ++phase) {
        for (unsigned i = 0; i < kSweepInFlight; ++i) {
            unsigned queue = (i & 1) ^ phase;
            uint64_t sector = base + i * kSectors;
            uint8_t* buffer = g_buffer + i * kSectors * kSectorSize;
            if (phase == 0) {
                fill_pattern(buffer, sector, kSectors, seed);
            } else {
                for (uint32_t b = 0; b < kSectors * kSectorSize; ++b) {
                    buffer[b] = 0xa5;
                }
            }
            device_.prepare(&g_requests[i], phase == 0 ? kBlkTOut : kBlkTIn, sector, buffer,
                            kSectors * kSectorSize);
            if (!device_.submit(queue, &g_requests[i])) {
                fail("mq", "could not submit on queue", queue);
                device_.wait_all();
                return;
            }
        }
        // Both queues now hold requests the device has not been told about: kick both, then
        // wait for all.
        if (!device_.wait_all()) {
            fail("mq", "requests on two queues did not complete");
            return;
        }
        for (unsigned i = 0; i < kSweepInFlight; ++i) {
            if (g_requests[i].result != kBlkSOk) {
                fail_status("mq", g_requests[i].result, kBlkSOk);
                return;
            }
            if (phase == 1 && !read_only) {
                uint64_t bad = check_pattern(g_buffer + i * kSectors * kSectorSize,
                                             base + i * kSectors, kSectors, seed);
                if (bad != UINT64_MAX) {
                    fail("mq", "data written on one queue, read on the other, differs at", bad);
                    return;
                }
            }
        }
    }
    uint64_t per_queue = kPerQueue * (2 - first_phase);
    if (device_.queue(0).stats().chains - chains_before[0] != per_queue ||
        device_.queue(1).stats().chains - chains_before[1] != per_queue) {
        fail("mq", "requests not spread over both queues");
        return;
    }
    pass("mq", read_only
                   ? "(1 vCPU, 2 queues interleaved, 4 reads in flight on each)"
                   : "(1 vCPU, 2 queues interleaved, 4 requests in flight on each, written on "
                     "one, read on the other)");
}

// One vCPU's part of the parallel mq check: it drives queue `queue` (= its vCPU index) alone.
struct MqWorker {
    BlkDevice* device;
    unsigned queue;
    uint64_t sector;  // first sector of the region it writes or reads
    uint64_t seed;
    bool write;  // write the pattern, or read it back (and check it unless read-only)
    bool check_data;
    Barrier* barrier;
    const char* error;
    uint64_t value;
    uint64_t start_tsc;
    uint64_t end_tsc;
};

constexpr unsigned kMqRounds = 32;
constexpr unsigned kMqDepth = kSweepInFlight / 2;  // requests in flight per queue: 4
constexpr uint32_t kMqSectors = 8;
constexpr uint64_t kMqRegionSectors = uint64_t{kMqRounds} * kMqDepth * kMqSectors;

void mq_worker(void* arg) {
    MqWorker& w = *static_cast<MqWorker*>(arg);
    w.error = nullptr;
    if (!w.barrier->arrive_and_wait()) {
        w.error = "the vCPUs did not meet at the start barrier";
        return;
    }
    w.start_tsc = rdtsc();
    uint8_t* buffers = g_buffer + w.queue * (kBufferBytes / 2);
    for (unsigned round = 0; round < kMqRounds && w.error == nullptr; ++round) {
        for (unsigned j = 0; j < kMqDepth; ++j) {
            uint64_t sector = w.sector + (uint64_t{round} * kMqDepth + j) * kMqSectors;
            uint8_t* buffer = buffers + j * kMqSectors * kSectorSize;
            if (w.write) {
                fill_pattern(buffer, sector, kMqSectors, w.seed);
            } else {
                for (uint32_t b = 0; b < kMqSectors * kSectorSize; ++b) {
                    buffer[b] = 0xa5;
                }
            }
            BlkRequest& request = g_requests[w.queue * kMqDepth + j];
            w.device->prepare(&request, w.write ? kBlkTOut : kBlkTIn, sector, buffer,
                              kMqSectors * kSectorSize);
            if (!w.device->submit(w.queue, &request)) {
                w.error = "could not submit on queue";
                w.value = w.queue;
                w.device->wait_queue(w.queue);
                return;
            }
        }
        if (!w.device->wait_queue(w.queue)) {
            w.error = "requests did not complete on queue";
            w.value = w.queue;
            return;
        }
        for (unsigned j = 0; j < kMqDepth && w.error == nullptr; ++j) {
            const BlkRequest& request = g_requests[w.queue * kMqDepth + j];
            uint64_t sector = w.sector + (uint64_t{round} * kMqDepth + j) * kMqSectors;
            if (request.result != kBlkSOk) {
                w.error = "a request failed with status";
                w.value = request.result;
            } else if (!w.write && w.check_data) {
                uint64_t bad = check_pattern(buffers + j * kMqSectors * kSectorSize, sector,
                                             kMqSectors, w.seed);
                if (bad != UINT64_MAX) {
                    w.error = "data written by the other vCPU on the other queue differs at";
                    w.value = bad;
                }
            }
        }
    }
    w.end_tsc = rdtsc();
}

void Suite::check_multi_queue_parallel() {
    uint64_t capacity = device_.config().capacity;
    uint64_t base = capacity / 2 + 64;
    if (base + 2 * kMqRegionSectors > capacity) {
        skip("mq", "disk too small");
        return;
    }
    bool read_only = device_.has(kBlkFRo);
    uint64_t seed = seed_ + 37;
    uint64_t chains_before[2] = {device_.queue(0).stats().chains, device_.queue(1).stats().chains};
    device_.route_queue(1, 1);
    uint64_t overlap_percent = 100;
    uint64_t timing[2][2][2] = {};  // [phase][vCPU]: start after the first start, cycles run
    const char* error = nullptr;
    uint64_t value = UINT64_MAX;
    // Phase 0: vCPU q writes region q through queue q. Phase 1: vCPU q reads region 1 - q
    // (written by the other vCPU through the other queue) through queue q.
    for (unsigned phase = read_only ? 1 : 0; phase < 2 && error == nullptr; ++phase) {
        Barrier barrier(2);
        MqWorker workers[2];
        for (unsigned q = 0; q < 2; ++q) {
            unsigned region = phase == 0 ? q : 1 - q;
            workers[q] = MqWorker{&device_, q,          base + region * kMqRegionSectors,
                                  seed,     phase == 0, !read_only,
                                  &barrier, nullptr,    UINT64_MAX,
                                  0,        0};
        }
        if (!run_on_cpu(1, mq_worker, &workers[1])) {
            error = "vCPU 1 did not take the work";
            break;
        }
        mq_worker(&workers[0]);
        if (!wait_cpu(1)) {
            error = "vCPU 1 did not finish";
            break;
        }
        for (const MqWorker& w : workers) {
            if (error == nullptr && w.error != nullptr) {
                error = w.error;
                value = w.value;
            }
        }
        if (error != nullptr) {
            break;
        }
        // How much of the shorter vCPU's run the other vCPU's run covered.
        uint64_t from = workers[0].start_tsc > workers[1].start_tsc ? workers[0].start_tsc
                                                                    : workers[1].start_tsc;
        uint64_t to =
            workers[0].end_tsc < workers[1].end_tsc ? workers[0].end_tsc : workers[1].end_tsc;
        uint64_t shortest = workers[0].end_tsc - workers[0].start_tsc;
        if (workers[1].end_tsc - workers[1].start_tsc < shortest) {
            shortest = workers[1].end_tsc - workers[1].start_tsc;
        }
        uint64_t percent = to > from && shortest != 0 ? (to - from) * 100 / shortest : 0;
        if (percent < overlap_percent) {
            overlap_percent = percent;
        }
        uint64_t first = workers[0].start_tsc < workers[1].start_tsc ? workers[0].start_tsc
                                                                     : workers[1].start_tsc;
        for (unsigned q = 0; q < 2; ++q) {
            timing[phase][q][0] = workers[q].start_tsc - first;
            timing[phase][q][1] = workers[q].end_tsc - workers[q].start_tsc;
        }
    }
    device_.route_queue(1, 0);
    if (error != nullptr) {
        fail("mq", error, value);
        return;
    }
    uint64_t per_queue = uint64_t{kMqRounds} * kMqDepth * (read_only ? 1 : 2);
    if (device_.queue(0).stats().chains - chains_before[0] != per_queue ||
        device_.queue(1).stats().chains - chains_before[1] != per_queue) {
        fail("mq", "requests not spread over both queues");
        return;
    }
    put_blk_line(where_, "PASS mq (2 vCPUs at once, vCPU i drives queue i, 4 in flight each: ");
    put_dec(uint64_t{kMqRounds} * kMqDepth);
    put_str(read_only ? " reads each"
                      : " writes each, then as many reads each of what the other wrote");
    // How much the two vCPUs' runs overlapped in time says whether the host ran them at once
    // (QEMU's single-threaded TCG does not): reported, not judged.
    put_str("; runs overlapped ");
    put_dec(overlap_percent);
    put_str("%)\n");
    ++passed_;
    for (unsigned phase = read_only ? 1 : 0; phase < 2; ++phase) {
        put_blk_line(where_, phase == 0 ? "mq writes:" : "mq reads:");
        for (unsigned q = 0; q < 2; ++q) {
            put_str(" vCPU ");
            put_dec(q);
            put_str(" started +");
            put_dec(timing[phase][q][0]);
            put_str(", ran ");
            put_dec(timing[phase][q][1]);
            put_str(" cycles;");
        }
        put_char('\n');
    }
}

void Suite::check_used_len() {
    if (used_len_wrong_ == 0) {
        put_blk_line(where_, "PASS used-len (");
        put_dec(used_len_checked_);
        put_str(" successful requests: len = bytes written incl. status)\n");
        ++passed_;
        return;
    }
    put_blk_line(where_, "FAIL used-len: ");
    put_dec(used_len_wrong_);
    put_str(" of ");
    put_dec(used_len_checked_);
    put_str(" successful requests had a used len other than the bytes written; first: ");
    put_dec(used_len_first_bad_);
    put_str(" instead of ");
    put_dec(used_len_first_want_);
    put_char('\n');
    ++failed_;
}

void Suite::print_stats() {
    for (unsigned q = 0; q < device_.queue_count(); ++q) {
        const VirtqStats& stats = device_.queue(q).stats();
        put_blk_line(where_, "queue ");
        put_dec(q);
        put_str(": chains=");
        put_dec(stats.chains);
        put_str(" kicks=");
        put_dec(stats.kicks);
        put_str(" suppressed=");
        put_dec(stats.suppressed);
        put_char('\n');
    }
}

void Suite::run() {
    put_blk_line(where_, "negotiated: ");
    put_feature_names(device_.negotiated());
    put_str("; queues=");
    put_dec(device_.queue_count());
    put_str(" size=");
    put_dec(device_.queue(0).size());
    put_char('\n');
    if (!check_capacity()) {
        return;
    }
    check_get_id();
    if (device_.has(kBlkFRo)) {
        check_read_only();
        skip("write-read", "read-only device");
    } else {
        check_write_read(false);
        if (device_.has(kVirtioFIndirectDesc)) {
            check_write_read(true);
        } else {
            skip("write-read-indirect", "INDIRECT_DESC not negotiated");
        }
        check_sweep();
        check_flush();
        if (device_.has(kBlkFDiscard)) {
            const BlkConfig& c = device_.config();
            check_range_command(kBlkTDiscard, "discard", c.max_discard_sectors, c.max_discard_seg,
                                c.discard_sector_alignment, 0, false);
        } else {
            skip("discard", "DISCARD not offered");
        }
        if (device_.has(kBlkFWriteZeroes)) {
            const BlkConfig& c = device_.config();
            check_range_command(kBlkTWriteZeroes, "write-zeroes", c.max_write_zeroes_sectors,
                                c.max_write_zeroes_seg, 1, 0, true);
            if (c.write_zeroes_may_unmap != 0) {
                check_range_command(kBlkTWriteZeroes, "write-zeroes-unmap",
                                    c.max_write_zeroes_sectors, c.max_write_zeroes_seg, 1,
                                    kBlkWriteZeroesUnmap, true);
            }
        } else {
            skip("write-zeroes", "WRITE_ZEROES not offered");
        }
    }
    check_past_end();
    check_unknown_type();
    check_multi_queue();
    check_used_len();
    check_interrupts();
    print_stats();
}

}  // namespace

void mode_blk(const Context& context) {
    PciFunction found[kMaxBlkDevices];
    unsigned count = find_blk_devices(found);
    BlkOptions options = blk_options_from(context);
    uint64_t seed = rdtsc();
    put_line_start("blk: ");
    put_dec(count);
    put_str(" virtio-blk device(s), seed ");
    put_hex(seed);
    put_char('\n');
    unsigned passed = 0;
    unsigned failed = 0;
    if (count != 0 && blk_use_cpus(context)) {
        // A second vCPU for the mq check (if the MADT lists one); it idles meanwhile.
        const char* why = nullptr;
        unsigned running = start_cpus(context, 2, &why);
        put_line_start("blk: ");
        put_dec(running);
        put_str(" vCPU(s) running");
        if (why != nullptr) {
            put_str(" (");
            put_str(why);
            put_char(')');
        }
        put_str(options.interrupts ? ", interrupts (MSI-X, halting)\n" : ", polling\n");
    } else if (count != 0) {
        put_line_start(options.interrupts
                           ? "blk: vCPU 0 only (nosmp), interrupts (MSI-X, halting)\n"
                           : "blk: vCPU 0 only (nosmp), polling\n");
    }
    if (count == 0) {
        put_line_start("blk: FAIL no modern virtio-blk device (1af4:1042) on bus 0\n");
        ++failed;
    }
    for (unsigned i = 0; i < count; ++i) {
        PciAddress where = found[i].where;
        const char* error = nullptr;
        if (!g_device.start(found[i], options, &error)) {
            put_blk_line(where, "FAIL init: ");
            put_str(error);
            put_char('\n');
            g_device.stop();
            ++failed;
            continue;
        }
        put_blk_line(where, "PASS init\n");
        Suite suite(&g_device, where, seed + i * 1000);
        suite.run();
        passed += suite.passed() + 1;
        failed += suite.failed();
        if (g_device.broken()) {
            put_blk_line(where, "FAIL device stopped answering or broke the ring; checks ended\n");
            ++failed;
        }
        g_device.stop();
        if (g_device.transport().status() != 0) {
            put_blk_line(where, "FAIL reset: device_status not 0 after reset\n");
            ++failed;
        } else {
            put_blk_line(where, "PASS reset\n");
            ++passed;
        }
    }
    put_line_start("blk: ");
    put_dec(passed);
    put_str(" passed, ");
    put_dec(failed);
    put_str(" failed\n");
    if (failed != 0) {
        report_mode_failure();
    }
}

}  // namespace guest
