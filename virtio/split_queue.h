// A split virtqueue as the device sees it (virtio 1.2, 2.7 "Split Virtqueues").
//
// The transport configures it (size, ring addresses, negotiated features) and enables it; the
// device pops descriptor chains, returns them through the used ring, and asks whether the driver
// wants an interrupt. The rings live in guest RAM that a running guest writes concurrently, so:
//  - every ring field is read or written in place through host pointers obtained once, at
//    enable(), from GuestMemory::slice over the whole ring (and dropped at reset());
//  - the driver's avail->idx is read with acquire semantics (it publishes the ring entries and
//    descriptors before it), our used->idx is written with release semantics (it publishes the
//    used entries and the data written into the buffers);
//  - a guest index that makes no sense (avail->idx more than `size` ahead, a head outside the
//    table, more than `size` chains owed at once) marks the queue broken: it stops, and the
//    transport sets DEVICE_NEEDS_RESET.
//
// Not thread-safe: one thread (the vCPU thread that owns the queue) drives it.
#pragma once

#include <cstdint>

#include "foundation/guest_memory.h"
#include "virtio/descriptor_chain.h"

namespace nvmevm {

// What the transport writes into the queue's registers, and the features it negotiated.
struct SplitQueueConfig {
    uint16_t size = 0;
    GuestAddress desc_table;
    GuestAddress avail_ring;
    GuestAddress used_ring;
    bool event_idx = false;      // VIRTIO_F_EVENT_IDX negotiated
    bool indirect_desc = false;  // VIRTIO_F_INDIRECT_DESC negotiated
};

enum class QueueError : uint8_t {
    none = 0,
    // Refused at enable().
    bad_size,
    desc_misaligned,
    avail_misaligned,
    used_misaligned,
    desc_outside_ram,
    avail_outside_ram,
    used_outside_ram,
    // Found while running: the ring is corrupt.
    avail_index_ahead,
    head_out_of_range,
    too_many_in_flight,
};

[[nodiscard]] const char* describe(QueueError error);

enum class PopResult : uint8_t {
    empty,   // nothing available (or the queue is not enabled)
    chain,   // `out` holds a chain that must be returned through push_used (check out.error())
    broken,  // the ring is corrupt; see error(). The device needs a reset.
};

class SplitQueue {
  public:
    // The largest queue size we offer (queue_size in the PCI common configuration).
    static constexpr uint16_t kMaxSize = 1024;

    SplitQueue() = default;
    SplitQueue(const SplitQueue&) = delete;
    SplitQueue& operator=(const SplitQueue&) = delete;

    // Checks a configuration against the spec's size and alignment rules and guest RAM.
    [[nodiscard]] static QueueError validate(const SplitQueueConfig& config,
                                             const GuestMemory& memory);

    // validate(), then binds the rings and starts from index 0. On an error the queue stays
    // disabled and the transport sets DEVICE_NEEDS_RESET. `memory` must outlive the queue's
    // enabled period.
    [[nodiscard]] QueueError enable(const SplitQueueConfig& config, const GuestMemory& memory);

    // Back to the default state (2.6.1.1.1: "The device MUST reset any state of a virtqueue to
    // the default state, including the available state and the used state."). Starts a new
    // generation: tokens popped before are no longer accepted by push_used.
    void reset();

    [[nodiscard]] bool enabled() const { return enabled_; }
    [[nodiscard]] bool broken() const { return error_ != QueueError::none; }
    [[nodiscard]] QueueError error() const { return error_; }
    [[nodiscard]] uint16_t size() const { return config_.size; }
    [[nodiscard]] const SplitQueueConfig& config() const { return config_; }

    // Takes the next available chain into `out` (which is reused: its storage is large). A chain
    // that breaks the descriptor rules is still popped, with out.error() set: the device must
    // return it (with used length 0 unless chain_shape_known(error)).
    [[nodiscard]] PopResult pop(DescriptorChain& out);

    // Puts back the chain pop() returned last, so that the next pop() returns it again (walked
    // afresh from guest memory): for a request the device may not start yet (a drive's rate
    // limit). `token` must be the one that pop() gave, with nothing popped since; then it is
    // consumed and true returned. A token that is not owed, is of an older generation or is not
    // for the head popped last changes nothing and gets false: its chain is still owed an answer.
    [[nodiscard]] bool unpop(ChainToken& token);

    // True when a chain is waiting (reads avail->idx if everything seen so far was popped).
    [[nodiscard]] bool has_available();

    // Writes one used-ring entry for the chain `token` came from; the driver sees it only after
    // publish_used(). `written_len` is the number of bytes written into the chain's
    // device-writable buffers (2.7.8: "The number of bytes written into the device writable
    // portion of the buffer"). The token is consumed either way. False when the entry was
    // dropped: the token is from before a reset, or the queue is disabled or broken.
    [[nodiscard]] bool push_used(ChainToken&& token, uint32_t written_len);

    // Makes all entries pushed so far visible to the driver (one release store of used->idx).
    // 2.7.8.2: "The device MUST set len prior to updating the used idx."
    void publish_used();

    // After publish_used(): true when the driver asked to be interrupted for the entries published
    // since the last call (which this call records as signalled). The caller must then send the
    // queue's interrupt.
    [[nodiscard]] bool should_interrupt();

    // Asks the driver not to notify (kick) us: we are going to poll the ring anyway.
    void disable_notifications();
    // Asks the driver to notify us about new buffers again. Returns true when buffers arrived in
    // the meantime (the driver may have seen notifications disabled and not kicked), in which case
    // the caller must keep popping: the re-check that closes the race with the driver.
    [[nodiscard]] bool enable_notifications();

    [[nodiscard]] uint16_t last_avail_idx() const { return last_avail_; }
    [[nodiscard]] uint16_t next_used_idx() const { return next_used_; }
    [[nodiscard]] uint16_t signalled_used_idx() const { return signalled_used_; }
    // Chains popped and not yet returned (in this generation).
    [[nodiscard]] uint32_t outstanding() const { return outstanding_; }
    [[nodiscard]] uint32_t generation() const { return generation_; }

  private:
    [[nodiscard]] uint16_t load_avail_idx() const;
    // Reads avail->idx into the shadow; false (and the queue broken) when it is impossible.
    [[nodiscard]] bool refresh_avail_idx();
    void mark_broken(QueueError error) { error_ = error; }

    SplitQueueConfig config_;
    const GuestMemory* memory_ = nullptr;
    // Host views of the rings, valid while enabled_.
    uint8_t* desc_ = nullptr;
    uint8_t* avail_ = nullptr;
    uint8_t* used_ = nullptr;
    bool enabled_ = false;
    QueueError error_ = QueueError::none;

    uint16_t last_avail_ = 0;        // next avail ring slot to consume
    uint16_t avail_idx_shadow_ = 0;  // avail->idx as last read
    uint16_t next_used_ = 0;         // next used ring slot to fill
    uint16_t published_used_ = 0;    // used->idx as last written
    uint16_t signalled_used_ = 0;    // used->idx when we last decided about an interrupt
    uint32_t outstanding_ = 0;
    uint32_t generation_ = 0;
    uint16_t last_popped_head_ = 0;  // the head pop() returned last: the one unpop() may undo
};

}  // namespace nvmevm
