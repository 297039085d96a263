// The real virtio-blk queue (virtio/blk_queue.h: pop, parse, submit, complete, used ring) with
// the null engine, over fake guest RAM that the "guest" rewrites between the device's steps:
// chains changed while their requests are in flight, resets with requests in flight, rings
// rewritten between drain and finish_batch.
//
// Input layout (little-endian; missing bytes read as zero):
//   u16 queue size, u8 flags (1 EVENT_IDX, 2 INDIRECT_DESC, 4 read-only, 8 DISCARD,
//   16 WRITE_ZEROES), u16 desc table, u16 avail ring, u16 used ring, u32 capacity in sectors,
//   u16 max_discard_sectors, u8 max_discard_seg, u16 max_write_zeroes_sectors,
//   u8 max_write_zeroes_seg, u8 script length N, N script bytes, then guest RAM (at address 0).
// Script byte % 6: 0 drain, 1 reap completions, 2 finish_batch, 3 device reset + re-activate,
// 4 guest writes a byte (the next three script bytes: u16 address modulo RAM size, u8 value),
// 5 one whole vCPU round (drain, reap, finish_batch). An empty script means four rounds.
//
// Besides crashes and sanitizer reports, a finding (abort) is a popped request not answered
// exactly once: once the input's steps are done and every completion delivered, nothing may be
// in flight, no chain may have been dropped while owed (ChainToken::leaks), the driver must have
// been told about a corrupt ring exactly when the queue stopped for one, and, unless the ring
// broke, the used ring must hold one entry per chain popped since the last reset (what a driver
// counts: used->idx). See check_every_request_answered_once.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <span>
#include <vector>

#include "foundation/io_ring.h"
#include "foundation/log.h"
#include "storage/null_engine.h"
#include "tests/fuzz/fuzz_input.h"
#include "virtio/blk_queue.h"
#include "virtio/chain_token.h"
#include "virtio/virtio_defs.h"

namespace nvmevm {
namespace {

class CountingInterrupt final : public VirtioInterrupt {
  public:
    void signal_queue(uint16_t) override { ++queue_signals; }
    void signal_config() override { ++config_signals; }
    void mark_needs_reset() override { ++needs_reset; }
    unsigned queue_signals = 0;
    unsigned config_signals = 0;
    unsigned needs_reset = 0;
};

// One ring and one engine for the whole process: creating an io_uring per input would cost a
// few syscalls each time. The null engine completes through IoRing::post only.
struct Engine {
    IoRing ring{8};
    NullBlockEngine engine{ring, false};
};
Engine* g_engine = nullptr;

// Delivers every completion, including those posted by completions (DISCARD / WRITE_ZEROES
// ranges are submitted one after another). Each request posts at most kMaxBlkRanges times.
void reap_all(IoRing& ring) {
    for (int i = 0; i < 4096 && (ring.reap() != 0 || ring.has_posted()); ++i) {
    }
    if (ring.has_posted()) {
        std::fprintf(stderr, "completions keep coming after 4096 reaps\n");
        std::abort();
    }
}

[[noreturn]] void finding(const char* what, unsigned long long a, unsigned long long b) {
    std::fprintf(stderr, "fuzz_blk_queue: %s (%llu, %llu)\n", what, a, b);
    std::abort();
}

// What the queue owes its driver, per generation (a device reset starts a new one: chains
// popped before it are no longer answered, 2.6.1.1.1).
struct Ledger {
    uint64_t leaks_at_start = ChainToken::leaks();
    uint64_t requests_at_activation = 0;  // stats().requests when this generation began
    unsigned needs_reset_at_activation = 0;
    // used->idx is the device's to write; a guest write to it in this generation makes the
    // count the driver reads meaningless, and the check is skipped.
    bool guest_wrote_used_idx = false;

    void new_generation(const BlkQueue& queue, const CountingInterrupt& interrupt) {
        requests_at_activation = queue.stats().requests.load(std::memory_order_relaxed);
        needs_reset_at_activation = interrupt.needs_reset;
        guest_wrote_used_idx = false;
    }
};

// After the last step, with every completion delivered and the batch finished.
//
// used->idx is exact here whatever the guest's layout: the device writes the guest's buffers
// (status bytes, read data, GET_ID) only before pushing the chain's used entry, and
// finish_batch publishes every pushed entry, so the last write to used->idx is the last
// publish, which counts every chain pushed in this generation. A ring that broke takes no more
// entries (the driver must reset it), so the count is checked only while it is intact.
void check_every_request_answered_once(const BlkQueue& queue, const CountingInterrupt& interrupt,
                                       const Ledger& ledger, std::span<const uint8_t> ram,
                                       const SplitQueueConfig& config) {
    if (queue.busy()) finding("requests still in flight after every completion", 0, 0);
    const uint64_t leaks = ChainToken::leaks() - ledger.leaks_at_start;
    if (leaks != 0) finding("popped chains dropped without an answer", leaks, 0);
    const unsigned needs_reset = interrupt.needs_reset - ledger.needs_reset_at_activation;
    if (needs_reset != (queue.broken() ? 1u : 0u)) {
        finding("DEVICE_NEEDS_RESET requests (got, broken)", needs_reset, queue.broken());
    }
    if (queue.broken() || ledger.guest_wrote_used_idx) return;
    const uint64_t popped =
        queue.stats().requests.load(std::memory_order_relaxed) - ledger.requests_at_activation;
    if (popped == 0) return;  // nothing published in this generation: used->idx is the guest's
    uint16_t used_idx = 0;
    std::memcpy(&used_idx, ram.data() + config.used_ring.value + kUsedIdxOffset, 2);
    if (used_idx != static_cast<uint16_t>(popped)) {
        finding("used ring entries (used->idx) != chains popped since the reset", used_idx, popped);
    }
}

// Whether the byte at `at` is one of the two of used->idx.
bool is_used_idx_byte(const SplitQueueConfig& config, uint64_t at) {
    const uint64_t idx = config.used_ring.value + kUsedIdxOffset;
    return at == idx || at == idx + 1;
}

}  // namespace
}  // namespace nvmevm

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    // Guest-triggered log lines are rate limited per queue, but every input makes a new queue.
    if (std::getenv("NVMEVM_FUZZ_LOG") == nullptr) nvmevm::set_log_level(nvmevm::LogLevel::error);
    try {
        nvmevm::g_engine = new nvmevm::Engine;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "fuzz_blk_queue: cannot set up an io_uring: %s\n", e.what());
        std::exit(1);
    }
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace nvmevm;
    fuzz::ByteReader in(std::span<const uint8_t>(data, size));
    SplitQueueConfig config;
    config.size = in.take<uint16_t>();
    const auto flags = in.take<uint8_t>();
    config.event_idx = (flags & 1) != 0;
    config.indirect_desc = (flags & 2) != 0;
    config.desc_table = GuestAddress{in.take<uint16_t>()};
    config.avail_ring = GuestAddress{in.take<uint16_t>()};
    config.used_ring = GuestAddress{in.take<uint16_t>()};
    BlkDriveInfo drive;
    drive.name = "fuzz";
    drive.geometry.capacity_sectors = in.take<uint32_t>();
    drive.geometry.read_only = (flags & 4) != 0;
    drive.geometry.discard = (flags & 8) != 0;
    drive.geometry.write_zeroes = (flags & 16) != 0;
    drive.geometry.max_discard_sectors = in.take<uint16_t>();
    drive.geometry.max_discard_seg = in.take<uint8_t>();
    drive.geometry.max_write_zeroes_sectors = in.take<uint16_t>();
    drive.geometry.max_write_zeroes_seg = in.take<uint8_t>();
    const std::span<const uint8_t> script = in.take_bytes(in.take<uint8_t>());
    std::vector<uint8_t> ram(in.rest().begin(), in.rest().end());
    const GuestMemory memory = GuestMemory::wrap(ram);

    IoRing& ring = g_engine->ring;
    CountingInterrupt interrupt;
    Ledger ledger;
    {
        BlkQueue queue(memory, drive, 0);
        queue.attach_engine(g_engine->engine);
        if (!queue.activate(config, interrupt)) return 0;
        ledger.new_generation(queue, interrupt);
        auto round = [&] {
            queue.drain();
            reap_all(ring);
            if (queue.finish_batch()) queue.drain();
        };
        if (script.empty()) {
            for (int i = 0; i < 4; ++i) round();
        }
        for (size_t i = 0; i < script.size(); ++i) {
            switch (script[i] % 6) {
                case 0:
                    queue.drain();
                    break;
                case 1:
                    ring.reap();
                    break;
                case 2:
                    (void)queue.finish_batch();
                    break;
                case 3:
                    queue.reset();
                    (void)queue.activate(config, interrupt);
                    ledger.new_generation(queue, interrupt);
                    break;
                case 4: {
                    uint16_t at = 0;
                    if (i + 2 < script.size())
                        at = static_cast<uint16_t>(script[i + 1] | script[i + 2] << 8);
                    const uint8_t value = i + 3 < script.size() ? script[i + 3] : 0;
                    if (!ram.empty()) {
                        ram[at % ram.size()] = value;
                        if (is_used_idx_byte(config, at % ram.size())) {
                            ledger.guest_wrote_used_idx = true;
                        }
                    }
                    i += 3;
                    break;
                }
                default:
                    round();
                    break;
            }
        }
        // Nothing may stay in flight when the queue goes away: its slots are the completions.
        reap_all(ring);
        (void)queue.finish_batch();
        check_every_request_answered_once(queue, interrupt, ledger, ram, config);
    }
    return 0;
}
