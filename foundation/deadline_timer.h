// A one-shot io_uring timeout on a vCPU thread's ring that ends KVM_RUN at a given
// CLOCK_MONOTONIC time: how a queue held back by a drive's rate limit is drained again when its
// tokens have arrived (virtio/blk_vcpu_service.h), with no thread and no polling.
//
// Several deadlines may be wanted before the first fires (two throttled queues on one thread);
// a timeout is armed only when no pending one fires at or before the new deadline, and at most
// kMaxPending are pending (past that, the earliest one's expiry re-arms what is still needed).
// Timeouts expire in deadline order, so each expiry retires the earliest pending deadline.
#pragma once

#include <array>
#include <cstdint>

#include "foundation/io_ring.h"

namespace nvmevm {

class DeadlineTimer {
  public:
    static constexpr unsigned kMaxPending = 4;

    DeadlineTimer(IoRing& ring, uint32_t tag) noexcept : ring_(ring), tag_(tag) {}

    // Makes sure the ring sees an expiry at or before `deadline_ns` (and submits).
    void arm_by(uint64_t deadline_ns) noexcept;
    // From reap's on_tag: true when `tag` is this timer's (its expiry, now handled).
    bool on_completion(uint32_t tag) noexcept;
    [[nodiscard]] bool owns(uint32_t tag) const noexcept { return tag == tag_; }
    [[nodiscard]] unsigned pending() const noexcept { return pending_; }

  private:
    IoRing& ring_;
    uint32_t tag_;
    std::array<uint64_t, kMaxPending> deadlines_{};  // the first pending_ are armed, unsorted
    unsigned pending_ = 0;
};

}  // namespace nvmevm
