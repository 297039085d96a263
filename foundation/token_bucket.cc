#include "foundation/token_bucket.h"

#include <algorithm>

namespace nvmevm {

TokenBucket::TokenBucket(const TokenBucketConfig& config, uint64_t now_ns) noexcept
    : config_(config),
      capacity_(Units{config.size} * config.refill_time_ns),
      budget_(capacity_),
      burst_(Units{config.one_time_burst} * config.refill_time_ns),
      last_ns_(now_ns) {}

void TokenBucket::refill(uint64_t now_ns) noexcept {
    // A clock that steps back (it cannot: CLOCK_MONOTONIC; but a caller might pass an older
    // reading) adds nothing rather than taking away.
    if (now_ns <= last_ns_) return;
    const Units added = Units{now_ns - last_ns_} * config_.size;
    last_ns_ = now_ns;
    // A long idle time can add more than fits: the bucket holds at most its size.
    budget_ = added >= capacity_ - budget_ ? capacity_ : budget_ + added;
}

TokenBucket::Units TokenBucket::threshold(uint64_t tokens) const noexcept {
    const Units need = Units{tokens} * config_.refill_time_ns - burst_;
    return std::min(need, capacity_);
}

bool TokenBucket::can_take(uint64_t tokens, uint64_t now_ns) noexcept {
    refill(now_ns);
    return budget_ >= threshold(tokens);
}

void TokenBucket::take(uint64_t tokens) noexcept {
    const Units need = Units{tokens} * config_.refill_time_ns;
    const Units from_budget = std::clamp<Units>(budget_, 0, need);
    const Units from_burst = std::min(burst_, need - from_budget);
    burst_ -= from_burst;
    budget_ -= need - from_burst;
}

uint64_t TokenBucket::wait_ns(uint64_t tokens, uint64_t now_ns) noexcept {
    refill(now_ns);
    const Units missing = threshold(tokens) - budget_;
    if (missing <= 0) return 0;
    // Every nanosecond adds `size` units: round up, or the caller wakes a little early and finds
    // the bucket one unit short.
    const Units size = config_.size;
    return static_cast<uint64_t>((missing + size - 1) / size);
}

void TokenBucket::reconfigure(const TokenBucketConfig& config, uint64_t now_ns) noexcept {
    refill(now_ns);
    // Convert to the new unit (tokens x the new refill time), rounding toward zero.
    const Units tokens_now = budget_ / config_.refill_time_ns;
    const Units burst_now = burst_ / config_.refill_time_ns;
    config_ = config;
    capacity_ = Units{config.size} * config.refill_time_ns;
    budget_ = std::min(tokens_now * config.refill_time_ns, capacity_);
    burst_ = std::min<Units>(burst_now, config.one_time_burst) * config.refill_time_ns;
}

int64_t TokenBucket::tokens(uint64_t now_ns) noexcept {
    refill(now_ns);
    return static_cast<int64_t>(budget_ / config_.refill_time_ns);
}

}  // namespace nvmevm
