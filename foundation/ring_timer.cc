#include "foundation/ring_timer.h"

#include <cerrno>

#include "foundation/log.h"

namespace nvmevm {

void RingTimer::arm_if(bool needed) noexcept {
    if (armed_ || !needed) return;
    ring_.arm_timeout(period_ns_, tag_, repeats_);
    // Submitted at once: the ring holds one timespec, which the kernel copies on submission.
    armed_ = ring_.submit() >= 0;
}

bool RingTimer::on_completion(uint32_t tag, int32_t res, bool needed) noexcept {
    if (!owns(tag)) return false;
    if (tag == cancel_tag_) return true;  // the cancel's own CQE; the timeout's follows
    if (res == -ETIME && repeats_) {
        // Still armed: it fires again one period later. Stop it when nothing needs it.
        if (!needed && !cancelling_) {
            ring_.cancel_timeout(tag_, cancel_tag_);
            cancelling_ = ring_.submit() >= 0;
        }
        return true;
    }
    if (res == -EINVAL && repeats_) {
        repeats_ = false;
        logf(LogLevel::debug, "io_uring: no repeating timeouts (before Linux 6.4): one-shot timer");
    }
    // A one-shot expiry, the end of a cancelled repeating timer, or a refusal: disarmed.
    armed_ = false;
    cancelling_ = false;
    return true;
}

}  // namespace nvmevm
