#include "storage/io_rate_limiter.h"

#include <gtest/gtest.h>

namespace nvmevm {
namespace {

TEST(IoRateLimiter, AdmitsWholeRequestsOrNothing) {
    constexpr uint64_t kHour = 3600ull * 1'000'000'000;
    IoRateLimiter limiter(
        IoRateLimits{TokenBucketConfig{10, kHour, 0}, TokenBucketConfig{8192, kHour, 0}}, 0);
    EXPECT_EQ(limiter.admit(4096, 0), 0u);
    // 8 KiB against the 4 KiB left: held back, and the operation it would have cost is not
    // taken either.
    EXPECT_GT(limiter.admit(8192, 0), 0u);
    EXPECT_EQ(limiter.throttled(), 1u);
    for (int i = 0; i < 9; ++i) EXPECT_EQ(limiter.admit(0, 0), 0u) << i;  // flushes: no bytes
    // The operations ran out now: even a request without bytes waits, for one op token.
    EXPECT_EQ(limiter.admit(0, 0), kHour / 10);
    // Both short: the wait is the later of the two. 12 KiB is more than the bytes bucket holds,
    // so it waits for a full bucket (4 KiB more: half an hour), not for 12 KiB.
    EXPECT_EQ(limiter.admit(4096 + 8192, 0), kHour / 2);
    // Without a bucket for bytes, bytes are free.
    limiter.reconfigure(IoRateLimits{TokenBucketConfig{10, kHour, 0}, std::nullopt}, kHour);
    EXPECT_EQ(limiter.admit(uint64_t{1} << 40, kHour), 0u);
}

TEST(IoRateLimits, DescribedForPeople) {
    EXPECT_EQ(describe(IoRateLimits{}), "");
    EXPECT_EQ(describe(IoRateLimits{TokenBucketConfig{30, 10'000'000, 100},
                                    TokenBucketConfig{500'000, 10'000'000, 0}}),
              "3000 op/s + 100 op burst, 50.000 MB/s; buckets refill in 10.000 ms");
    // Refill times that differ are given per bucket.
    EXPECT_EQ(describe(IoRateLimits{TokenBucketConfig{3000, 1'000'000'000, 0},
                                    TokenBucketConfig{5'000'000, 100'000'000, 1'000'000}}),
              "3000 op/s in 1000.000 ms buckets, 50.000 MB/s + 1000000 byte burst in 100.000 ms "
              "buckets");
}

}  // namespace
}  // namespace nvmevm
