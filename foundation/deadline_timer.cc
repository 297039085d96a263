#include "foundation/deadline_timer.h"

#include <algorithm>

namespace nvmevm {

void DeadlineTimer::arm_by(uint64_t deadline_ns) noexcept {
    for (unsigned i = 0; i < pending_; ++i)
        if (deadlines_[i] <= deadline_ns) return;  // one fires soon enough already
    if (pending_ == kMaxPending) return;
    ring_.arm_timeout_at(deadline_ns, tag_);
    // Submitted at once: the ring holds one timespec, which the kernel copies on submission.
    if (ring_.submit() < 0) return;
    deadlines_[pending_++] = deadline_ns;
}

bool DeadlineTimer::on_completion(uint32_t tag) noexcept {
    if (!owns(tag)) return false;
    if (pending_ == 0) return true;
    auto* const first = deadlines_.begin();
    auto* const earliest = std::min_element(first, first + pending_);
    *earliest = deadlines_[--pending_];
    return true;
}

}  // namespace nvmevm
