// A drive's I/O limits (docs/rate-limits.md): a token bucket for operations and one for bytes,
// either or both, shared by every queue of the drive (so by several vCPU threads; a mutex that
// is only ever taken by drives with limits orders them).
//
// A request is admitted whole or not at all: when either bucket cannot give what it costs,
// nothing is taken and the caller learns how long to wait. The virtio-blk queue then leaves the
// request in the virtqueue and comes back when that time is up (virtio/blk_queue.h).
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>

#include "foundation/monotonic_clock.h"
#include "foundation/token_bucket.h"

namespace nvmevm {

struct IoRateLimits {
    std::optional<TokenBucketConfig> ops;    // one token per request that reaches the engine
    std::optional<TokenBucketConfig> bytes;  // one token per data byte read or written
    [[nodiscard]] bool any() const { return ops.has_value() || bytes.has_value(); }
};

// For people: "3000 op/s + 100 op burst, 50.000 MB/s; buckets refill in 10.000 ms" (each bucket
// says its own refill time when they differ); "" without limits. The one text of the drive's log
// line and of `nvmevm bench`'s drive line.
[[nodiscard]] std::string describe(const IoRateLimits& limits);

class IoRateLimiter {
  public:
    IoRateLimiter(const IoRateLimits& limits, uint64_t now_ns);

    // One request that moves `bytes` data bytes (0 for flush, discard, write-zeroes): takes one
    // operation and its bytes and returns 0, or takes nothing and returns the nanoseconds until
    // both buckets could give them (> 0).
    [[nodiscard]] uint64_t admit(uint64_t bytes, uint64_t now_ns) noexcept;

    // New limits from now on (TokenBucket::reconfigure for a bucket that stays; a new bucket
    // starts full; a bucket no longer wanted is dropped).
    void reconfigure(const IoRateLimits& limits, uint64_t now_ns);

    // Times admit() said "wait" (a request may be counted more than once): for the exit stats.
    [[nodiscard]] uint64_t throttled() const { return throttled_.load(std::memory_order_relaxed); }

  private:
    std::mutex mutex_;
    std::optional<TokenBucket> ops_;
    std::optional<TokenBucket> bytes_;
    std::atomic<uint64_t> throttled_{0};
};

}  // namespace nvmevm
