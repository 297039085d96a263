// A timeout on a vCPU thread's io_uring that ends KVM_RUN every `period` while the owner needs
// it (requests in flight), and stops soon after it no longer does.
//
// Why it repeats: every completion ends KVM_RUN through io_uring task work, but task work can
// also run on the return from an interrupt while the thread is between its last look at the CQ
// and KVM_RUN; the CQE is then in the CQ and nothing interrupts the next KVM_RUN. That can
// happen to the timer's own expiry too. A one-shot timer re-armed only when its CQE is reaped
// then never fires again, and the vCPU stays in KVM_RUN with completions in its CQ until the
// guest gives up (seen: 3 benchmark runs in 8 at QD32 on /dev/shm, with the one-shot form and a
// completion spin that widened the window; the guest reported 32 requests stalled for 11 s with
// their CQEs and the timer's sitting in the CQ). A repeating timer (IORING_TIMEOUT_MULTISHOT,
// Linux 6.4) fires again one period later whatever happened to the last expiry. Older kernels
// refuse it (-EINVAL on the first arm); the timer then falls back to the one-shot form.
#pragma once

#include <cstdint>

#include "foundation/io_ring.h"

namespace nvmevm {

class RingTimer {
  public:
    // `tag` and `cancel_tag`: the reap tags of the timeout's CQEs and of its cancellation's.
    RingTimer(IoRing& ring, uint64_t period_ns, uint32_t tag, uint32_t cancel_tag) noexcept
        : ring_(ring), period_ns_(period_ns), tag_(tag), cancel_tag_(cancel_tag) {}

    // Arms the timer (and submits) when `needed` and it is not armed yet.
    void arm_if(bool needed) noexcept;
    // From reap's on_tag: true when `tag` is one of this timer's (then it has been handled).
    // `needed` says whether the timer should keep running; a repeating timer that fires when
    // it is no longer needed is cancelled.
    bool on_completion(uint32_t tag, int32_t res, bool needed) noexcept;

    // Whether `tag` is one of this timer's (a cheap test before on_completion, whose `needed`
    // may cost something to work out).
    [[nodiscard]] bool owns(uint32_t tag) const noexcept {
        return tag == tag_ || tag == cancel_tag_;
    }
    [[nodiscard]] bool armed() const noexcept { return armed_; }
    [[nodiscard]] bool repeats() const noexcept { return repeats_; }

  private:
    IoRing& ring_;
    uint64_t period_ns_;
    uint32_t tag_;
    uint32_t cancel_tag_;
    bool armed_ = false;
    bool cancelling_ = false;
    bool repeats_ = true;  // until the kernel refuses IORING_TIMEOUT_MULTISHOT
};

}  // namespace nvmevm
