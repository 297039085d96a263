#include "virtio/split_queue.h"

#include <atomic>
#include <bit>
#include <cstring>

#include "virtio/virtio_defs.h"

namespace nvmevm {

namespace {

// In-place access to a 16-bit ring field shared with the guest. The field's alignment was
// checked at enable() (the spec's alignments make every u16 field 2-byte aligned).
std::atomic_ref<uint16_t> ring_u16(uint8_t* ring, uint64_t offset) {
    return std::atomic_ref<uint16_t>(*reinterpret_cast<uint16_t*>(ring + offset));
}

bool host_aligned(const uint8_t* p, uint64_t alignment) {
    return reinterpret_cast<uintptr_t>(p) % alignment == 0;
}

}  // namespace

const char* describe(QueueError error) {
    switch (error) {
        case QueueError::none:
            return "none";
        case QueueError::bad_size:
            return "queue size not a power of two in 1..1024";
        case QueueError::desc_misaligned:
            return "descriptor table not 16-byte aligned";
        case QueueError::avail_misaligned:
            return "available ring not 2-byte aligned";
        case QueueError::used_misaligned:
            return "used ring not 4-byte aligned";
        case QueueError::desc_outside_ram:
            return "descriptor table outside guest RAM";
        case QueueError::avail_outside_ram:
            return "available ring outside guest RAM";
        case QueueError::used_outside_ram:
            return "used ring outside guest RAM";
        case QueueError::avail_index_ahead:
            return "avail idx more than queue size ahead";
        case QueueError::head_out_of_range:
            return "available head index outside the table";
        case QueueError::too_many_in_flight:
            return "more chains in flight than the queue has descriptors (a head re-posted "
                   "before it was used)";
    }
    return "unknown queue error";
}

QueueError SplitQueue::validate(const SplitQueueConfig& config, const GuestMemory& memory) {
    // 2.7: "Queue Size value is always a power of 2." We offer at most kMaxSize, and the driver
    // may only lower it (4.1.4.3, queue_size in the common configuration).
    if (config.size == 0 || config.size > kMaxSize || !std::has_single_bit(config.size)) {
        return QueueError::bad_size;
    }
    // 2.7.1: "The driver MUST ensure that the physical address of the first byte of each
    // virtqueue part is a multiple of the specified alignment value in the above table."
    if (config.desc_table.value % kDescTableAlign != 0) return QueueError::desc_misaligned;
    if (config.avail_ring.value % kAvailRingAlign != 0) return QueueError::avail_misaligned;
    if (config.used_ring.value % kUsedRingAlign != 0) return QueueError::used_misaligned;
    // Every byte of every part must be RAM ("each part is physically-contiguous in guest
    // memory"); the sizes are the spec's, event-index fields included.
    if (!memory.contains(config.desc_table, desc_table_bytes(config.size))) {
        return QueueError::desc_outside_ram;
    }
    if (!memory.contains(config.avail_ring, avail_ring_bytes(config.size))) {
        return QueueError::avail_outside_ram;
    }
    if (!memory.contains(config.used_ring, used_ring_bytes(config.size))) {
        return QueueError::used_outside_ram;
    }
    return QueueError::none;
}

QueueError SplitQueue::enable(const SplitQueueConfig& config, const GuestMemory& memory) {
    reset();
    if (QueueError error = validate(config, memory); error != QueueError::none) return error;
    auto desc = memory.slice(config.desc_table, desc_table_bytes(config.size));
    auto avail = memory.slice(config.avail_ring, avail_ring_bytes(config.size));
    auto used = memory.slice(config.used_ring, used_ring_bytes(config.size));
    if (!desc || !avail || !used) return QueueError::desc_outside_ram;  // validate() checked
    // Guest RAM is page-aligned on the host, so guest alignment implies host alignment; checked
    // anyway because the atomic accesses below depend on it.
    if (!host_aligned(desc->data(), kDescTableAlign)) return QueueError::desc_misaligned;
    if (!host_aligned(avail->data(), kAvailRingAlign)) return QueueError::avail_misaligned;
    if (!host_aligned(used->data(), kUsedRingAlign)) return QueueError::used_misaligned;
    config_ = config;
    memory_ = &memory;
    desc_ = desc->data();
    avail_ = avail->data();
    used_ = used->data();
    enabled_ = true;
    return QueueError::none;
}

void SplitQueue::reset() {
    config_ = SplitQueueConfig{};
    memory_ = nullptr;
    desc_ = avail_ = used_ = nullptr;
    enabled_ = false;
    error_ = QueueError::none;
    last_avail_ = avail_idx_shadow_ = 0;
    next_used_ = published_used_ = signalled_used_ = 0;
    outstanding_ = 0;
    ++generation_;
}

uint16_t SplitQueue::load_avail_idx() const {
    // Acquire: the driver writes the ring entry and the descriptors before it bumps idx
    // (2.7.13.3.1: "The driver MUST perform a suitable memory barrier before the idx update").
    return ring_u16(avail_, kAvailIdxOffset).load(std::memory_order_acquire);
}

bool SplitQueue::refresh_avail_idx() {
    const uint16_t idx = load_avail_idx();
    // The ring holds `size` entries, so the driver can be at most `size` ahead of us; further
    // means it wrote garbage (2.7.6.1: "A driver MUST NOT decrement the available idx" — a
    // decrement shows up here as a huge distance). Popping would read entries the driver never
    // filled.
    if (static_cast<uint16_t>(idx - last_avail_) > config_.size) {
        mark_broken(QueueError::avail_index_ahead);
        return false;
    }
    avail_idx_shadow_ = idx;
    return true;
}

bool SplitQueue::has_available() {
    if (!enabled_ || broken()) return false;
    if (last_avail_ != avail_idx_shadow_) return true;
    return refresh_avail_idx() && last_avail_ != avail_idx_shadow_;
}

PopResult SplitQueue::pop(DescriptorChain& out) {
    if (!enabled_) return PopResult::empty;
    if (broken()) return PopResult::broken;
    if (last_avail_ == avail_idx_shadow_) {
        if (!refresh_avail_idx()) return PopResult::broken;
        if (last_avail_ == avail_idx_shadow_) return PopResult::empty;
    }
    // Every chain starts at a descriptor of the table, and the driver must not make one
    // available again before we used it (2.7.13), so at most `size` chains are ever owed. One
    // more means the driver re-posted a head still in flight: refusing it bounds the device's
    // work (and its request slots) by the ring, whatever the guest does.
    if (outstanding_ >= config_.size) {
        mark_broken(QueueError::too_many_in_flight);
        return PopResult::broken;
    }
    const uint64_t slot = last_avail_ & (config_.size - 1u);
    const uint16_t head =
        ring_u16(avail_, kAvailRingOffset + 2 * slot).load(std::memory_order_relaxed);
    // A head outside the table names no descriptor and cannot be answered in the used ring.
    if (head >= config_.size) {
        mark_broken(QueueError::head_out_of_range);
        return PopResult::broken;
    }
    ++last_avail_;

    const ChainSource source{
        std::span<const uint8_t>(desc_, desc_table_bytes(config_.size)),
        config_.size,
        config_.indirect_desc,
    };
    (void)DescriptorChain::walk(source, *memory_, head, out);  // the error travels in `out`
    out.token_ = ChainToken(head, generation_);
    ++outstanding_;
    last_popped_head_ = head;
    return PopResult::chain;
}

bool SplitQueue::unpop(ChainToken& token) {
    // Only the chain popped last can go back: a token still owed, of this generation, for the
    // head popped last. (Once given back it is no longer owed, so it cannot go back twice.)
    if (!enabled_ || !token.owed_ || token.generation_ != generation_ ||
        token.head_ != last_popped_head_)
        return false;
    token.owed_ = false;
    --last_avail_;
    --outstanding_;
    return true;
}

bool SplitQueue::push_used(ChainToken&& token, uint32_t written_len) {
    const bool owed = token.owed_;
    token.owed_ = false;
    if (!owed || token.generation_ != generation_ || !enabled_ || broken()) return false;
    --outstanding_;
    const uint64_t slot = next_used_ & (config_.size - 1u);
    const VirtqUsedElem elem{token.head_, written_len};
    std::memcpy(used_ + kUsedRingOffset + sizeof(VirtqUsedElem) * slot, &elem, sizeof(elem));
    ++next_used_;
    return true;
}

void SplitQueue::publish_used() {
    if (!enabled_ || next_used_ == published_used_) return;
    // Release: the used entries (and the data and status bytes written into the buffers) must
    // be visible before the index that exposes them.
    ring_u16(used_, kUsedIdxOffset).store(next_used_, std::memory_order_release);
    published_used_ = next_used_;
}

bool SplitQueue::should_interrupt() {
    if (!enabled_) return false;
    // Our used->idx store must be globally visible before we read the driver's suppression
    // field; otherwise the driver could re-enable interrupts after looking at a stale used->idx
    // while we read its old "no interrupt" value, and both sides would wait. Store then load
    // needs a full fence.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    const uint16_t old_idx = signalled_used_;
    const uint16_t new_idx = published_used_;
    signalled_used_ = new_idx;
    if (config_.event_idx) {
        // 2.7.7.2, with VIRTIO_F_EVENT_IDX: "If the idx field in the used ring (which determined
        // where that descriptor index was placed) was equal to used_event, the device MUST send
        // a notification. Otherwise the device SHOULD NOT send a notification." Over a batch,
        // that is: used_event lies in [old_idx, new_idx).
        const uint16_t used_event =
            ring_u16(avail_, used_event_offset(config_.size)).load(std::memory_order_relaxed);
        return vring_need_event(used_event, new_idx, old_idx);
    }
    if (new_idx == old_idx) return false;  // nothing new since the last decision
    // 2.7.7.2, without VIRTIO_F_EVENT_IDX: "If flags is 1, the device SHOULD NOT send a
    // notification. If flags is 0, the device MUST send a notification."
    const uint16_t flags = ring_u16(avail_, kAvailFlagsOffset).load(std::memory_order_relaxed);
    return (flags & VIRTQ_AVAIL_F_NO_INTERRUPT) == 0;
}

void SplitQueue::disable_notifications() {
    if (!enabled_) return;
    // With VIRTIO_F_EVENT_IDX the used ring's flags must stay 0 (2.7.10.2: "The device MUST set
    // flags to 0."); leaving avail_event where it is suppresses notifications: the driver only
    // kicks when its idx crosses avail_event, which it has already passed or will pass once.
    if (config_.event_idx) return;
    // 2.7.10.2: "The device MAY set flags to 1 to advise the driver that notifications are not
    // needed."
    ring_u16(used_, kUsedFlagsOffset).store(VIRTQ_USED_F_NO_NOTIFY, std::memory_order_relaxed);
}

bool SplitQueue::enable_notifications() {
    if (!enabled_ || broken()) return false;
    if (config_.event_idx) {
        // Ask to be kicked when the driver makes the entry at our next avail index available
        // (2.7.10.1: the driver notifies when "the idx field in the available ring ... was equal
        // to avail_event").
        ring_u16(used_, avail_event_offset(config_.size))
            .store(last_avail_, std::memory_order_relaxed);
    } else {
        ring_u16(used_, kUsedFlagsOffset).store(0, std::memory_order_relaxed);
    }
    // The store above must be visible before we look at avail->idx again (store then load):
    // a driver that added a buffer while notifications were off did not kick us, so the
    // caller must see that buffer now.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    // A corrupt index reads as "more to do": the caller's next pop() reports the broken ring.
    return !refresh_avail_idx() || avail_idx_shadow_ != last_avail_;
}

}  // namespace nvmevm
