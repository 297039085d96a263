// One virtio-blk virtqueue as the device serves it: pops chains, parses them into requests,
// hands them to the engine of the vCPU thread that owns the queue, and returns them through
// the used ring when the engine completes them. Knows nothing of PCI or io_uring.
//
// Threads: drain(), finish_batch() and the completions run on the owning vCPU thread; the
// transport's activate() and reset() may run on any vCPU thread (the one that wrote the device
// status). A per-queue mutex orders the two; on the hot path it is never contended.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "foundation/io_ring.h"
#include "foundation/log.h"
#include "storage/engine.h"
#include "storage/io_rate_limiter.h"
#include "virtio/blk_request.h"
#include "virtio/descriptor_chain.h"
#include "virtio/split_queue.h"
#include "virtio/virtio_device.h"

namespace nvmevm {

// What every queue of one drive shares: geometry, GET_ID string, counters.
struct BlkDriveInfo {
    BlkGeometry geometry;
    std::array<uint8_t, VIRTIO_BLK_ID_BYTES> id{};
    std::string name;  // for log lines: the drive id
    // The drive's I/O limits (storage/io_rate_limiter.h); null when it has none, and then the
    // queues pay nothing for the feature.
    IoRateLimiter* limiter = nullptr;
};

struct BlkQueueStats {
    std::atomic<uint64_t> requests{0};
    std::atomic<uint64_t> interrupts{0};
    std::atomic<uint64_t> errors{0};
};

class BlkQueue {
  public:
    BlkQueue(const GuestMemory& memory, const BlkDriveInfo& drive, uint16_t index);
    BlkQueue(const BlkQueue&) = delete;
    BlkQueue& operator=(const BlkQueue&) = delete;

    // ---- transport side (any thread) ----
    // The driver set DRIVER_OK with this queue configured. False: the ring is unusable.
    [[nodiscard]] bool activate(const SplitQueueConfig& config, VirtioInterrupt& interrupt);
    // Device reset: the ring is forgotten; requests in flight complete into nothing.
    void reset();

    // ---- owner side (the vCPU thread the queue belongs to) ----
    // Before the first drain: the engine of the owner thread's ring for this drive.
    void attach_engine(BlockEngine& engine) { engine_ = &engine; }
    // The engine is going (its vCPU thread's service is destroyed): drain() takes nothing more.
    void detach_engine() { engine_ = nullptr; }
    // Pops, parses and submits (or answers) everything available. Returns the number of chains
    // taken. Request SQEs are left for the caller's one io_uring submit.
    unsigned drain();
    // Makes the used entries visible, interrupts the driver if it asked for it, and re-enables
    // kicks once nothing is in flight. Returns true when new chains arrived meanwhile (the caller
    // drains again).
    [[nodiscard]] bool finish_batch();
    // True once the ring turned out corrupt: the transport must set DEVICE_NEEDS_RESET.
    [[nodiscard]] bool broken() const { return broken_.load(std::memory_order_relaxed); }
    [[nodiscard]] const BlkQueueStats& stats() const { return stats_; }
    // When the drive's rate limit stopped the last drain (the next request is left in the ring):
    // the CLOCK_MONOTONIC time at which it may pass; 0 when not throttled. The owner must drain
    // again then (its service arms a timer): the driver is not asked to kick meanwhile.
    [[nodiscard]] uint64_t throttled_until_ns() const {
        return throttled_until_ns_.load(std::memory_order_relaxed);
    }
    [[nodiscard]] bool rate_limited() const { return drive_.limiter != nullptr; }
    // Requests submitted to the engine and not completed yet.
    [[nodiscard]] bool busy() const { return in_flight_.load(std::memory_order_relaxed) != 0; }
    // The same, for another thread that must know the engine writes no more guest memory for
    // this queue once it reads false (a reset's completion): acquire, paired with the
    // completion's decrement after its last write.
    [[nodiscard]] bool in_flight() const { return in_flight_.load(std::memory_order_acquire) != 0; }

  private:
    // A request between submission and completion. Slots are taken from a free list (not
    // indexed by head: after a reset the guest may reuse a head whose old request is still in
    // flight).
    struct InFlight final : IoCompletion {
        BlkQueue* queue = nullptr;
        BlkRequest request;
        ChainToken token;
        uint32_t next_range = 0;  // DISCARD / WRITE_ZEROES: ranges are executed one by one
        void complete(int32_t result) noexcept override { queue->on_complete(*this, result); }
    };

    static constexpr size_t kMaxSlots = 2 * SplitQueue::kMaxSize;  // a full ring, plus one
                                                                   // left in flight by a reset
    [[nodiscard]] InFlight* take_slot_locked() noexcept;
    void on_complete(InFlight& slot, int32_t result) noexcept;
    unsigned drain_locked(bool& became_broken);
    // The drive's rate limit lets `request` start now (else throttled_until_ns_ is set).
    // `now_ns`: read once per drain, on the first request that needs it.
    [[nodiscard]] bool admitted_locked(const BlkRequest& request, uint64_t& now_ns) noexcept;
    [[nodiscard]] static uint64_t limited_bytes(const BlkRequest& request) noexcept;
    // Reports a ring found corrupt (once per reset): log line, broken(), became_broken.
    void note_broken_locked(bool& became_broken);
    // Locked variants.
    void submit_locked(InFlight& slot) noexcept;
    bool submit_next_range_locked(InFlight& slot) noexcept;
    void answer_locked(ChainToken&& token, uint32_t used_len) noexcept;
    void release_locked(InFlight& slot) noexcept;

    const GuestMemory& memory_;
    const BlkDriveInfo& drive_;
    uint16_t index_;
    BlockEngine* engine_ = nullptr;
    VirtioInterrupt* interrupt_ = nullptr;

    std::mutex mutex_;
    SplitQueue queue_;
    DescriptorChain chain_;  // scratch, reused by every pop
    // Slots are made on demand (a slot is a few KiB: the queue's memory grows with the depth
    // the guest actually uses) and reused; at most kMaxSlots exist.
    std::vector<std::unique_ptr<InFlight>> slots_;
    std::vector<InFlight*> free_slots_;
    // Written under mutex_; read without it by busy() (a stale answer only delays a watchdog).
    std::atomic<uint32_t> in_flight_{0};
    bool used_pending_ = false;     // entries pushed since the last publish
    bool notifications_on_ = true;  // whether the driver is asked to kick us
    std::atomic<uint64_t> throttled_until_ns_{0};
    std::atomic<bool> broken_{false};
    BlkQueueStats stats_;
    RateLimiter log_limit_;
};

}  // namespace nvmevm
