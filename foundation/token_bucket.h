// A token bucket (docs/rate-limits.md): `size` tokens, refilled at size per `refill_time_ns`,
// plus an optional one-time burst, never refilled, that covers what the bucket cannot. The
// bucket is drawn on first, so it keeps refilling while the burst is spent: over a run of T
// seconds from a full bucket, exactly size + burst + rate x T tokens pass. The drive rate limiter
// (storage/io_rate_limiter.h) keeps one for operations and one for bytes.
//
// The arithmetic is exact integer arithmetic: the budget is kept in token-nanoseconds (a token
// is refill_time_ns units, and every elapsed nanosecond adds `size` units), so no rounding is
// lost however long the bucket runs and however small the refill steps between two looks are.
//
// Not thread-safe, and it reads no clock: the caller passes the time (CLOCK_MONOTONIC in
// nanoseconds in nvmevm, any counter in tests).
#pragma once

#include <cstdint>

namespace nvmevm {

struct TokenBucketConfig {
    uint64_t size = 0;            // tokens the bucket holds when full (> 0)
    uint64_t refill_time_ns = 0;  // time to refill an empty bucket (> 0)
    uint64_t one_time_burst = 0;  // extra tokens, spent first, never refilled
};

// The largest size, burst and refill time a bucket accepts (the config checks against these
// with a clear message); they keep every product below 2^127.
inline constexpr uint64_t kMaxBucketTokens = uint64_t{1} << 50;          // 1 PiB of bytes
inline constexpr uint64_t kMaxBucketRefillNs = 3600ull * 1'000'000'000;  // one hour

class TokenBucket {
  public:
    // Starts full (size tokens, plus the burst), like Firecracker's. `config` must be valid
    // (size and refill_time_ns from 1 to the maxima above, burst at most kMaxBucketTokens).
    TokenBucket(const TokenBucketConfig& config, uint64_t now_ns) noexcept;

    // Whether `tokens` can be taken now: the budget and what is left of the burst cover them.
    // A request bigger than that still passes once the bucket is full (as in Firecracker); it
    // leaves the budget negative, and the refills repay that debt before anything else passes,
    // so the long-run rate stays exact.
    [[nodiscard]] bool can_take(uint64_t tokens, uint64_t now_ns) noexcept;
    // Takes `tokens` (after can_take said yes): from the budget while it lasts, then from the
    // burst, and what neither covers becomes the budget's debt.
    void take(uint64_t tokens) noexcept;
    // Nanoseconds from now_ns until can_take(tokens) would say yes: 0 when it does now.
    [[nodiscard]] uint64_t wait_ns(uint64_t tokens, uint64_t now_ns) noexcept;

    // A new size, refill time and burst, from now on. The tokens in the bucket stay (capped at
    // the new size), so that a change never hands out a fresh full bucket; so does what is left
    // of the burst, capped at the new burst.
    void reconfigure(const TokenBucketConfig& config, uint64_t now_ns) noexcept;

    // Whole tokens available now (budget, negative while repaying an oversized request), and
    // what is left of the one-time burst: for tests and metrics.
    [[nodiscard]] int64_t tokens(uint64_t now_ns) noexcept;
    [[nodiscard]] uint64_t burst_left() const noexcept {
        return static_cast<uint64_t>(burst_ / config_.refill_time_ns);
    }
    [[nodiscard]] const TokenBucketConfig& config() const noexcept { return config_; }

  private:
    using Units = __int128;  // token-nanoseconds: tokens x refill_time_ns

    void refill(uint64_t now_ns) noexcept;
    // The budget at which `tokens` may pass: what the burst leaves of them, but never more than
    // a full bucket.
    [[nodiscard]] Units threshold(uint64_t tokens) const noexcept;

    TokenBucketConfig config_;
    Units capacity_ = 0;  // size x refill_time_ns
    Units budget_ = 0;    // at most capacity_; below 0 after an oversized request
    Units burst_ = 0;     // what is left of the one-time burst
    uint64_t last_ns_ = 0;
};

}  // namespace nvmevm
