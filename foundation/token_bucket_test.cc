#include "foundation/token_bucket.h"

#include <gtest/gtest.h>

namespace nvmevm {
namespace {

constexpr uint64_t kMs = 1'000'000;
constexpr uint64_t kSecond = 1'000'000'000;

// A fake clock: the test says what time it is.
constexpr uint64_t kStart = 5 * kSecond;

TEST(TokenBucket, StartsFullAndRefusesWhenEmpty) {
    TokenBucket bucket({10, 100 * kMs, 0}, kStart);
    for (int i = 0; i < 10; ++i) {
        ASSERT_TRUE(bucket.can_take(1, kStart)) << i;
        bucket.take(1);
    }
    EXPECT_FALSE(bucket.can_take(1, kStart));
    // One token takes refill_time / size = 10 ms.
    EXPECT_EQ(bucket.wait_ns(1, kStart), 10 * kMs);
    EXPECT_FALSE(bucket.can_take(1, kStart + 10 * kMs - 1));
    EXPECT_TRUE(bucket.can_take(1, kStart + 10 * kMs));
}

TEST(TokenBucket, NeverHoldsMoreThanItsSize) {
    TokenBucket bucket({4, kSecond, 0}, kStart);
    EXPECT_EQ(bucket.tokens(kStart + 1000 * kSecond), 4);
    bucket.take(4);
    EXPECT_EQ(bucket.tokens(kStart + 1000 * kSecond), 0);
    EXPECT_EQ(bucket.tokens(kStart + 1000 * kSecond + kSecond / 2), 2);
}

// The rate over a long run is exactly size / refill_time, even when the refills between two
// looks are far smaller than one token (3 tokens per 1 s, looked at every 7 ns... every 1 ms).
TEST(TokenBucket, RefillRoundingLosesNothingOverALongRun) {
    for (const uint64_t step : {uint64_t{7}, uint64_t{333}, kMs, 333 * kMs}) {
        TokenBucket bucket({3, kSecond, 0}, 0);
        bucket.take(3);  // start empty
        uint64_t taken = 0;
        const uint64_t end = step < 1000 ? 20 * kMs : 1000 * kSecond;
        for (uint64_t now = 0; now <= end; now += step) {
            while (bucket.can_take(1, now)) {
                bucket.take(1);
                ++taken;
            }
        }
        // 3 per second: every token that has fully arrived by `end` was taken, and no more.
        const uint64_t last = end / step * step;
        EXPECT_EQ(taken, last * 3 / kSecond) << "step " << step;
    }
}

TEST(TokenBucket, WaitIsExactAndRoundsUp) {
    TokenBucket bucket({3, kSecond, 0}, 0);
    bucket.take(3);
    // One token is 333,333,333.3 ns away: waiting 333,333,333 ns is not enough.
    const uint64_t wait = bucket.wait_ns(1, 0);
    EXPECT_EQ(wait, 333'333'334u);
    EXPECT_FALSE(bucket.can_take(1, wait - 1));
    EXPECT_TRUE(bucket.can_take(1, wait));
}

// Firecracker lets a request bigger than the bucket through once the bucket is full; the debt
// it leaves is repaid before anything else passes.
TEST(TokenBucket, ARequestLargerThanTheBucketPassesAndIsRepaid) {
    TokenBucket bucket({1000, kSecond, 0}, 0);
    ASSERT_TRUE(bucket.can_take(2500, 0));
    bucket.take(2500);
    EXPECT_EQ(bucket.tokens(0), -1500);
    // 1500 tokens of debt plus 1 token: 1.501 s.
    EXPECT_EQ(bucket.wait_ns(1, 0), 1501 * kMs);
    EXPECT_FALSE(bucket.can_take(1, 1500 * kMs));
    EXPECT_TRUE(bucket.can_take(1, 1501 * kMs));
    // Another oversized one waits for a full bucket, not for 2500 tokens.
    EXPECT_EQ(bucket.wait_ns(2500, 1501 * kMs), 1000 * kMs - 1 * kMs);
    EXPECT_FALSE(bucket.can_take(2500, 2499 * kMs));
    EXPECT_TRUE(bucket.can_take(2500, 2500 * kMs));
}

TEST(TokenBucket, TheBurstComesOnTopOfTheBucketAndOnlyOnce) {
    TokenBucket bucket({10, kSecond, 25}, 0);
    uint64_t taken = 0;
    while (bucket.can_take(1, 0)) {
        bucket.take(1);
        ++taken;
    }
    EXPECT_EQ(taken, 35u);  // the full bucket and the burst
    EXPECT_EQ(bucket.burst_left(), 0u);
    // A long idle time refills the bucket, never the burst.
    taken = 0;
    while (bucket.can_take(1, 100 * kSecond)) {
        bucket.take(1);
        ++taken;
    }
    EXPECT_EQ(taken, 10u);
    EXPECT_EQ(bucket.burst_left(), 0u);
}

TEST(TokenBucket, TheBucketIsDrawnOnBeforeTheBurst) {
    TokenBucket bucket({10, kSecond, 4}, 0);
    ASSERT_TRUE(bucket.can_take(12, 0));
    bucket.take(12);  // the bucket's 10, then 2 of the burst
    EXPECT_EQ(bucket.burst_left(), 2u);
    EXPECT_EQ(bucket.tokens(0), 0);
    EXPECT_FALSE(bucket.can_take(3, 0));
    EXPECT_EQ(bucket.wait_ns(3, 0), 100 * kMs);  // one token more, with the burst's 2
}

// While the burst is being spent the bucket goes on refilling, and what it refills passes too:
// over a run of T from a full bucket, size + burst + rate x T tokens, none lost to the cap.
TEST(TokenBucket, TheBurstDoesNotCostTheRefillsMeanwhile) {
    TokenBucket bucket({10, 10 * kMs, 2000}, 0);  // 1000 per second, 2000 on top
    uint64_t taken = 0;
    for (uint64_t now = 0; now <= 3 * kSecond; now += 10'000) {  // a request every 10 us
        if (bucket.can_take(1, now)) {
            bucket.take(1);
            ++taken;
        }
    }
    EXPECT_EQ(taken, 10u + 2000u + 3000u);
    EXPECT_EQ(bucket.burst_left(), 0u);
}

TEST(TokenBucket, ABurstCoversAnOversizedRequest) {
    TokenBucket bucket({10, kSecond, 100}, 0);
    bucket.take(10);
    // 50 tokens against an empty bucket of 10 with 100 of burst: the burst pays for it all.
    ASSERT_TRUE(bucket.can_take(50, 0));
    bucket.take(50);
    EXPECT_EQ(bucket.burst_left(), 50u);
    EXPECT_EQ(bucket.tokens(0), 0);
}

TEST(TokenBucket, ReconfigureKeepsTokensCappedAndChangesTheRate) {
    TokenBucket bucket({100, kSecond, 50}, 0);
    bucket.take(130);  // the bucket's 100, then 30 of the burst
    EXPECT_EQ(bucket.tokens(0), 0);
    EXPECT_EQ(bucket.burst_left(), 20u);
    bucket.take(20);  // the rest of the burst
    EXPECT_EQ(bucket.tokens(500 * kMs), 50);
    // Smaller bucket, faster refill: the 50 tokens are capped at 20; no burst comes back.
    bucket.reconfigure({20, 100 * kMs, 1000}, 500 * kMs);
    EXPECT_EQ(bucket.tokens(500 * kMs), 20);
    EXPECT_EQ(bucket.burst_left(), 0u);
    bucket.take(20);
    // 20 per 100 ms: one token every 5 ms.
    EXPECT_EQ(bucket.wait_ns(1, 500 * kMs), 5 * kMs);
    // Larger bucket, slower rate: tokens stay as they are (no fresh full bucket).
    bucket.reconfigure({1000, kSecond, 0}, 505 * kMs);
    EXPECT_EQ(bucket.tokens(505 * kMs), 1);
    EXPECT_EQ(bucket.wait_ns(2, 505 * kMs), 1 * kMs);
}

TEST(TokenBucket, ReconfigureCapsTheBurstLeft) {
    TokenBucket bucket({10, kSecond, 100}, 0);
    bucket.reconfigure({10, kSecond, 30}, 0);
    EXPECT_EQ(bucket.burst_left(), 30u);
    bucket.reconfigure({10, kSecond, 500}, 0);
    EXPECT_EQ(bucket.burst_left(), 30u);  // never grows back
}

TEST(TokenBucket, ExtremeValuesDoNotOverflow) {
    TokenBucket bucket({kMaxBucketTokens, kMaxBucketRefillNs, kMaxBucketTokens}, 0);
    ASSERT_TRUE(bucket.can_take(2 * kMaxBucketTokens, 0));
    bucket.take(2 * kMaxBucketTokens);  // the bucket and the burst
    EXPECT_EQ(bucket.tokens(0), 0);
    EXPECT_EQ(bucket.burst_left(), 0u);
    EXPECT_EQ(bucket.wait_ns(kMaxBucketTokens, 0), kMaxBucketRefillNs);
    // Centuries later, still exactly full.
    EXPECT_EQ(bucket.tokens(UINT64_MAX), static_cast<int64_t>(kMaxBucketTokens));
}

TEST(TokenBucket, AnOlderTimeAddsNothing) {
    TokenBucket bucket({10, kSecond, 0}, kSecond);
    bucket.take(10);
    EXPECT_EQ(bucket.tokens(0), 0);
    EXPECT_EQ(bucket.tokens(kSecond + 100 * kMs), 1);
}

}  // namespace
}  // namespace nvmevm
