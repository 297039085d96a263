#include "virtio/blk_queue.h"

#include <cerrno>
#include <cstring>
#include <new>

namespace nvmevm {

BlkQueue::BlkQueue(const GuestMemory& memory, const BlkDriveInfo& drive, uint16_t index)
    : memory_(memory), drive_(drive), index_(index) {}

bool BlkQueue::activate(const SplitQueueConfig& config, VirtioInterrupt& interrupt) {
    std::lock_guard lock(mutex_);
    interrupt_ = &interrupt;
    used_pending_ = false;
    throttled_until_ns_.store(0, std::memory_order_relaxed);
    notifications_on_ = true;
    const QueueError error = queue_.enable(config, memory_);
    if (error != QueueError::none) {
        logf_limited(log_limit_, LogLevel::warn, "drive %s queue %u: %s", drive_.name.c_str(),
                     index_, describe(error));
        broken_.store(true, std::memory_order_relaxed);
        return false;
    }
    broken_.store(false, std::memory_order_relaxed);
    return true;
}

void BlkQueue::reset() {
    std::lock_guard lock(mutex_);
    // Requests still in flight keep their slots; their completions find a token of an old
    // generation, which push_used refuses, and the slot returns to the free list.
    queue_.reset();
    used_pending_ = false;
    throttled_until_ns_.store(0, std::memory_order_relaxed);
    broken_.store(false, std::memory_order_relaxed);
}

BlkQueue::InFlight* BlkQueue::take_slot_locked() noexcept {
    if (!free_slots_.empty()) {
        InFlight* slot = free_slots_.back();
        free_slots_.pop_back();
        return slot;
    }
    if (slots_.size() >= kMaxSlots) return nullptr;
    auto slot = std::unique_ptr<InFlight>(new (std::nothrow) InFlight);
    if (!slot) return nullptr;
    slot->queue = this;
    slots_.push_back(std::move(slot));
    return slots_.back().get();
}

unsigned BlkQueue::drain() {
    bool became_broken = false;
    unsigned taken = 0;
    VirtioInterrupt* interrupt = nullptr;
    {
        std::lock_guard lock(mutex_);
        taken = drain_locked(became_broken);
        interrupt = interrupt_;  // activate() writes it under the lock, from another thread
    }
    // Outside the queue's lock: the transport takes its own, and it calls activate() and
    // reset() with that one held.
    if (became_broken && interrupt != nullptr) interrupt->mark_needs_reset();
    return taken;
}

void BlkQueue::note_broken_locked(bool& became_broken) {
    if (!queue_.broken() || broken_.load(std::memory_order_relaxed)) return;
    logf_limited(log_limit_, LogLevel::warn, "drive %s queue %u: %s; needs reset",
                 drive_.name.c_str(), index_, describe(queue_.error()));
    broken_.store(true, std::memory_order_relaxed);
    became_broken = true;
}

// The bytes a request costs against a bandwidth limit: the data of a read or a write, and the
// ranges of a WRITE_ZEROES (the device may have to write every one of those bytes, and a guest
// must not get around its limit with them, as QEMU's throttling also counts them). A DISCARD
// writes no data and costs none; a flush neither.
uint64_t BlkQueue::limited_bytes(const BlkRequest& request) noexcept {
    switch (request.type()) {
        case BlkRequestType::read:
        case BlkRequestType::write:
            return request.data_len();
        case BlkRequestType::write_zeroes: {
            uint64_t bytes = 0;
            for (const BlkRange& range : request.ranges())
                bytes += uint64_t{range.num_sectors} << kVirtioBlkSectorShift;
            return bytes;
        }
        case BlkRequestType::flush:
        case BlkRequestType::discard:
        case BlkRequestType::get_id:
            break;
    }
    return 0;
}

bool BlkQueue::admitted_locked(const BlkRequest& request, uint64_t& now_ns) noexcept {
    if (now_ns == 0) now_ns = monotonic_ns();
    const uint64_t wait = drive_.limiter->admit(limited_bytes(request), now_ns);
    if (wait == 0) return true;
    throttled_until_ns_.store(now_ns + wait, std::memory_order_relaxed);
    return false;
}

unsigned BlkQueue::drain_locked(bool& became_broken) {
    if (!queue_.enabled() || engine_ == nullptr) return 0;
    // Read once: the stores into guest memory below would otherwise make the compiler load it
    // again for every request.
    const bool limited = drive_.limiter != nullptr;
    if (limited) throttled_until_ns_.store(0, std::memory_order_relaxed);
    uint64_t now_ns = 0;  // read when a rate limit first needs it
    // The ring may have been found corrupt since the last drain by finish_batch()'s re-check of
    // avail->idx (enable_notifications): the driver must hear about it however it was found.
    note_broken_locked(became_broken);
    if (queue_.broken()) return 0;
    unsigned taken = 0;
    for (;;) {
        if (!queue_.has_available()) {
            // has_available() also finds an avail index running ahead of the ring (it marks the
            // queue broken and says "nothing").
            note_broken_locked(became_broken);
            break;
        }
        InFlight* slot = take_slot_locked();
        if (slot == nullptr) break;  // every slot busy: leave the chain in the ring for later
        const PopResult popped = queue_.pop(chain_);
        if (popped != PopResult::chain) {
            free_slots_.push_back(slot);
            note_broken_locked(became_broken);
            break;
        }
        ++taken;
        stats_.requests.fetch_add(1, std::memory_order_relaxed);
        const BlkParseResult parsed =
            BlkRequest::parse(chain_, memory_, drive_.geometry, slot->request);
        if (!parsed.execute) {
            if (parsed.answer.status_value != VIRTIO_BLK_S_OK || parsed.answer.status == nullptr) {
                stats_.errors.fetch_add(1, std::memory_order_relaxed);
                if (parsed.answer.warn) {
                    // Never rounded: the guest gets IOERR (docs/nvme.md, logical_block_size).
                    logf_limited(log_limit_, LogLevel::warn,
                                 "drive %s queue %u: request refused: %s (sector %llu, %llu "
                                 "sectors; the backing works in %u-byte blocks)",
                                 drive_.name.c_str(), index_, parsed.answer.reason,
                                 static_cast<unsigned long long>(parsed.answer.sector),
                                 static_cast<unsigned long long>(parsed.answer.sectors),
                                 drive_.geometry.alignment_sectors << kVirtioBlkSectorShift);
                } else {
                    logf_limited(log_limit_, LogLevel::info,
                                 "drive %s queue %u: request refused: %s", drive_.name.c_str(),
                                 index_, parsed.answer.reason);
                }
            }
            answer_locked(std::move(chain_.token()), parsed.answer.deliver());
            free_slots_.push_back(slot);
            continue;
        }
        if (slot->request.type() == BlkRequestType::get_id) {
            answer_locked(std::move(chain_.token()), slot->request.complete_get_id(drive_.id));
            free_slots_.push_back(slot);
            continue;
        }
        // A request the drive's rate limit holds back goes back into the ring, to be popped
        // again when the limit lets it pass: throttled requests wait in the virtqueue, where the
        // guest put them, not in a host-side queue.
        if (limited && !admitted_locked(slot->request, now_ns) && queue_.unpop(chain_.token())) {
            stats_.requests.fetch_sub(1, std::memory_order_relaxed);
            free_slots_.push_back(slot);
            --taken;
            break;
        }
        slot->token = std::move(chain_.token());
        slot->next_range = 0;
        ++in_flight_;
        submit_locked(*slot);
    }
    // While requests are in flight their completions wake this thread anyway, so the driver's
    // kicks would only cost exits: ask it not to kick until we are idle again.
    // A throttled queue is drained again when its time comes, kicks or not.
    if ((in_flight_ != 0 || throttled_until_ns() != 0) && notifications_on_) {
        queue_.disable_notifications();
        notifications_on_ = false;
    }
    return taken;
}

void BlkQueue::submit_locked(InFlight& slot) noexcept {
    const BlkRequest& request = slot.request;
    switch (request.type()) {
        case BlkRequestType::read:
            engine_->submit(BlockIo::read(request.offset(), request.iovecs()), &slot);
            return;
        case BlkRequestType::write:
            engine_->submit(BlockIo::write(request.offset(), request.iovecs()), &slot);
            return;
        case BlkRequestType::flush:
            engine_->submit(BlockIo::flush(), &slot);
            return;
        case BlkRequestType::discard:
        case BlkRequestType::write_zeroes:
            if (!submit_next_range_locked(slot)) {
                // No ranges at all: nothing to do.
                answer_locked(std::move(slot.token), request.complete(VIRTIO_BLK_S_OK));
                release_locked(slot);
            }
            return;
        case BlkRequestType::get_id:
            break;
    }
}

bool BlkQueue::submit_next_range_locked(InFlight& slot) noexcept {
    const auto ranges = slot.request.ranges();
    if (slot.next_range >= ranges.size()) return false;
    const BlkRange& range = ranges[slot.next_range++];
    const uint64_t offset = range.sector << kVirtioBlkSectorShift;
    const uint64_t length = uint64_t{range.num_sectors} << kVirtioBlkSectorShift;
    engine_->submit(slot.request.type() == BlkRequestType::discard
                        ? BlockIo::discard(offset, length)
                        : BlockIo::write_zeroes(offset, length, range.unmap),
                    &slot);
    return true;
}

void BlkQueue::on_complete(InFlight& slot, int32_t result) noexcept {
    std::lock_guard lock(mutex_);
    const BlkRequest& request = slot.request;
    bool ok = result >= 0;
    if (ok && (request.type() == BlkRequestType::read || request.type() == BlkRequestType::write))
        ok = static_cast<uint32_t>(result) == request.data_len();  // a short transfer is an error
    // A reset since this request started: it completes into nothing, and the ranges it has left
    // are not issued (4.1.4.3.1: nothing of it may happen after the reset).
    const bool current = slot.token.generation() == queue_.generation();
    if (ok && current && submit_next_range_locked(slot)) return;  // more ranges
    if (!ok) {
        stats_.errors.fetch_add(1, std::memory_order_relaxed);
        logf_limited(log_limit_, LogLevel::warn, "drive %s queue %u: I/O error at byte %llu: %s",
                     drive_.name.c_str(), index_, static_cast<unsigned long long>(request.offset()),
                     result < 0 ? std::strerror(-result) : "short transfer");
    }
    if (current) {
        // A short transfer (result >= 0, !ok) is an I/O error too.
        const uint8_t status = ok ? VIRTIO_BLK_S_OK
                                  : (result < 0 ? blk_status_for_result(result)
                                                : static_cast<uint8_t>(VIRTIO_BLK_S_IOERR));
        answer_locked(std::move(slot.token), request.complete(status));
    } else {
        slot.token.forget();  // the queue was reset while this request was in flight
    }
    release_locked(slot);
}

void BlkQueue::answer_locked(ChainToken&& token, uint32_t used_len) noexcept {
    if (queue_.push_used(std::move(token), used_len)) used_pending_ = true;
}

void BlkQueue::release_locked(InFlight& slot) noexcept {
    // After the completion's last guest-memory write: in_flight() (acquire) pairs with it.
    in_flight_.fetch_sub(1, std::memory_order_release);
    free_slots_.push_back(&slot);
}

bool BlkQueue::finish_batch() {
    std::lock_guard lock(mutex_);
    if (!queue_.enabled()) return false;
    if (used_pending_) {
        used_pending_ = false;
        queue_.publish_used();
        if (queue_.should_interrupt() && interrupt_ != nullptr) {
            stats_.interrupts.fetch_add(1, std::memory_order_relaxed);
            interrupt_->signal_queue(index_);
        }
    }
    if (in_flight_ == 0 && !queue_.broken() && throttled_until_ns() == 0) {
        // Idle: the driver must kick us for its next request. With EVENT_IDX that means
        // publishing avail_event = what we consumed, after every batch, not only on the
        // transition from busy to idle. The call re-reads avail->idx afterwards: chains the
        // driver added while it saw kicks suppressed are drained at once.
        notifications_on_ = true;
        return queue_.enable_notifications();
    }
    return false;
}

}  // namespace nvmevm
