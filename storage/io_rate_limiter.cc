#include "storage/io_rate_limiter.h"

#include <algorithm>

namespace nvmevm {
namespace {

void reconfigure_bucket(std::optional<TokenBucket>& bucket,
                        const std::optional<TokenBucketConfig>& config, uint64_t now_ns) {
    if (!config)
        bucket.reset();
    else if (bucket)
        bucket->reconfigure(*config, now_ns);
    else
        bucket.emplace(*config, now_ns);
}

}  // namespace

IoRateLimiter::IoRateLimiter(const IoRateLimits& limits, uint64_t now_ns) {
    reconfigure(limits, now_ns);
}

uint64_t IoRateLimiter::admit(uint64_t bytes, uint64_t now_ns) noexcept {
    std::lock_guard lock(mutex_);
    const bool ops_ok = !ops_ || ops_->can_take(1, now_ns);
    const bool bytes_ok = !bytes_ || bytes_->can_take(bytes, now_ns);
    if (ops_ok && bytes_ok) {
        if (ops_) ops_->take(1);
        if (bytes_) bytes_->take(bytes);
        return 0;
    }
    throttled_.fetch_add(1, std::memory_order_relaxed);
    // Both must be able to give at once: the later of the two times.
    uint64_t wait = 0;
    if (ops_) wait = ops_->wait_ns(1, now_ns);
    if (bytes_) wait = std::max(wait, bytes_->wait_ns(bytes, now_ns));
    return std::max<uint64_t>(wait, 1);
}

void IoRateLimiter::reconfigure(const IoRateLimits& limits, uint64_t now_ns) {
    std::lock_guard lock(mutex_);
    reconfigure_bucket(ops_, limits.ops, now_ns);
    reconfigure_bucket(bytes_, limits.bytes, now_ns);
}

}  // namespace nvmevm
