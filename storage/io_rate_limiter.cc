#include "storage/io_rate_limiter.h"

#include <algorithm>
#include <cstdio>

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

std::string describe(const IoRateLimits& limits) {
    if (!limits.any()) return {};
    const bool same_refill =
        !limits.ops || !limits.bytes || limits.ops->refill_time_ns == limits.bytes->refill_time_ns;
    const auto refill = [](const TokenBucketConfig& b) {
        char text[48];
        std::snprintf(text, sizeof text, "%.3f ms", static_cast<double>(b.refill_time_ns) / 1e6);
        return std::string(text);
    };
    // unit names the burst's tokens; scale and format show the rate.
    const auto bucket = [&](const TokenBucketConfig& b, const char* unit, double scale,
                            const char* format) {
        char text[64];
        std::snprintf(
            text, sizeof text, format,
            static_cast<double>(b.size) * 1e9 / static_cast<double>(b.refill_time_ns) / scale);
        std::string out = text;
        if (b.one_time_burst != 0)
            out += " + " + std::to_string(b.one_time_burst) + " " + unit + " burst";
        if (!same_refill) out += " in " + refill(b) + " buckets";
        return out;
    };
    std::string out;
    if (limits.ops) out = bucket(*limits.ops, "op", 1, "%.0f op/s");
    if (limits.bytes)
        out += (out.empty() ? "" : ", ") + bucket(*limits.bytes, "byte", 1e6, "%.3f MB/s");
    if (same_refill)
        out += "; buckets refill in " + refill(limits.ops ? *limits.ops : *limits.bytes);
    return out;
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
