// A split virtqueue (virtio 1.2, 2.7), driver side, from ring 3 (polled, or with used-buffer
// notifications for a driver that halts until an MSI-X interrupt). Knows nothing of
// block devices: a chain is a list of buffers, each device-readable or device-writable, with
// an opaque token the driver gets back when the device has used the chain.
//
// The rings live in static, page-aligned guest memory: kMemorySets sets, and the driver says
// which one each queue uses (a device's queue i uses set base + i: devices driven at the same
// time need bases far enough apart, a device started after another's reset may reuse its
// sets). One Virtqueue is used by one vCPU at a time (no locks); different queues may be
// driven from different vCPUs at once. Guest
// physical = virtual (identity map), so buffer addresses are plain pointers as integers.
//
// Ordering on x86 (TSO): stores are not reordered with stores and loads not with loads, so
// publishing (descriptors and ring entry, then avail idx) and consuming (used idx, then the
// element and the status byte it covers) need only compiler barriers, which the volatile ring
// accesses give. The one store-then-load that must not be reordered, the avail idx store
// followed by the read of the device's suppression state (flags or avail_event), gets a full
// fence (a locked instruction), as Linux's virtio_mb.
#pragma once

#include <stdint.h>

#include "virtio_pci.h"

namespace guest {

struct VirtqBuffer {
    uint64_t addr = 0;
    uint32_t len = 0;
    bool device_writes = false;  // VIRTQ_DESC_F_WRITE
};

struct VirtqStats {
    uint64_t chains = 0;      // chains added
    uint64_t kicks = 0;       // notifications written
    uint64_t suppressed = 0;  // kicks skipped: the device said it needs none
};

class Virtqueue {
  public:
    static constexpr unsigned kMaxQueues = 4;  // queues of one device: indexes 0 to 3
    // Sets of ring memory: two devices with kMaxQueues queues each, or more with fewer.
    static constexpr unsigned kMemorySets = 8;
    static constexpr uint16_t kMaxSize = 1024;  // ring entries the guest sets up at most
    static constexpr unsigned kMaxChain = 18;   // buffers in one chain
    // Indirect tables (chains in flight): one per ring entry, so that a benchmark can keep a
    // whole 1024-entry ring of requests in flight.
    static constexpr unsigned kMaxIndirect = kMaxSize;

    // Sets up queue `index` on the device in ring memory set `memory` (< kMemorySets, used by
    // no other queue in use): queue_size, addresses, MSI-X vector, queue_enable. The size is
    // the largest power of two <= min(device maximum, kMaxSize, limit). event_idx: the feature
    // was negotiated (changes who reads which suppression field). msix_vector: kVirtioNoVector
    // to poll (used-buffer notifications suppressed), or the MSI-X table entry that signals
    // this queue's completions (notifications asked for after every used buffer the driver
    // has taken).
    bool init(VirtioPci* transport, uint16_t index, unsigned memory, uint16_t limit, bool event_idx,
              uint16_t msix_vector, const char** error);

    uint16_t index() const { return index_; }
    uint16_t size() const { return size_; }
    uint16_t free_descriptors() const { return num_free_; }
    const VirtqStats& stats() const { return stats_; }

    // Adds a chain and makes it visible in the avail ring; no notification (kick does that).
    // indirect: one descriptor pointing at a table (VIRTQ_DESC_F_INDIRECT; the feature must
    // have been negotiated). False when there is no room (or n is 0 or too large).
    bool add(const VirtqBuffer* buffers, unsigned n, bool indirect, void* token);
    // Notifies the device of the chains added since the last kick, unless it suppressed
    // notifications: VIRTQ_USED_F_NO_NOTIFY, or with EVENT_IDX avail_event (2.7.10).
    void kick();
    // Takes one used element: its token and the length the device wrote. False when none is
    // pending; *bad set when the device returned an id that is no chain head in flight.
    bool pop_used(void** token, uint32_t* len, bool* bad);
    // Chains added and not yet returned.
    unsigned in_flight() const { return in_flight_; }

  private:
    // What used_event (EVENT_IDX) asks for: a notification for the next used buffer when
    // interrupts are wanted, else (last_used - 1) none until the index wraps.
    uint16_t used_event() const {
        return static_cast<uint16_t>(interrupts_ ? last_used_ : last_used_ - 1);
    }

    VirtioPci* transport_ = nullptr;
    uint16_t index_ = 0;
    unsigned memory_ = 0;  // the ring memory set
    uint16_t size_ = 0;
    bool event_idx_ = false;
    bool interrupts_ = false;
    uint16_t num_free_ = 0;
    uint16_t free_head_ = 0;
    uint16_t avail_idx_ = 0;         // next avail idx to publish
    uint16_t kicked_avail_idx_ = 0;  // avail idx at the last kick decision
    uint16_t last_used_ = 0;
    unsigned in_flight_ = 0;
    // Bitmap of free indirect tables, 64 per word.
    uint64_t indirect_free_[kMaxIndirect / 64] = {};
    [[nodiscard]] int take_indirect_table();
    void free_indirect_table(unsigned table);
    VirtqStats stats_;
    uint16_t next_free_[kMaxSize] = {};  // free list, kept apart from the device-read table
    void* tokens_[kMaxSize] = {};
    uint8_t chain_length_[kMaxSize] = {};    // descriptors used in the ring for the chain
    int16_t indirect_table_[kMaxSize] = {};  // -1: direct chain
};

}  // namespace guest
