#include "foundation/deadline_timer.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <vector>

#include "foundation/io_ring.h"
#include "foundation/monotonic_clock.h"

namespace nvmevm {
namespace {

constexpr uint32_t kTag = 9;
constexpr uint64_t kMs = 1'000'000;

// Waits for one CQE, hands it to the timer, and returns when it came (CLOCK_MONOTONIC).
uint64_t expiry(IoRing& ring, DeadlineTimer& timer) {
    EXPECT_EQ(ring.wait(1), 0);
    const uint64_t at = monotonic_ns();
    unsigned seen = 0;
    ring.reap([&](uint32_t tag, int32_t res) noexcept {
        EXPECT_TRUE(timer.on_completion(tag));
        EXPECT_EQ(res, -ETIME);
        ++seen;
    });
    EXPECT_EQ(seen, 1u);
    return at;
}

TEST(DeadlineTimer, FiresAtTheDeadlineNotBefore) {
    IoRing ring(8);
    DeadlineTimer timer(ring, kTag);
    const uint64_t deadline = monotonic_ns() + 5 * kMs;
    timer.arm_by(deadline);
    EXPECT_EQ(timer.pending(), 1u);
    EXPECT_GE(expiry(ring, timer), deadline);
    EXPECT_EQ(timer.pending(), 0u);
}

TEST(DeadlineTimer, ALaterDeadlineRidesOnAnEarlierOne) {
    IoRing ring(8);
    DeadlineTimer timer(ring, kTag);
    const uint64_t now = monotonic_ns();
    timer.arm_by(now + 2 * kMs);
    timer.arm_by(now + 50 * kMs);  // the first expiry comes sooner: nothing more is armed
    EXPECT_EQ(timer.pending(), 1u);
    // An earlier deadline needs its own timeout.
    timer.arm_by(now + 1 * kMs);
    EXPECT_EQ(timer.pending(), 2u);
    EXPECT_GE(expiry(ring, timer), now + 1 * kMs);
    EXPECT_GE(expiry(ring, timer), now + 2 * kMs);
    EXPECT_EQ(timer.pending(), 0u);
}

TEST(DeadlineTimer, APastDeadlineFiresAtOnce) {
    IoRing ring(8);
    DeadlineTimer timer(ring, kTag);
    timer.arm_by(monotonic_ns() - kMs);
    const uint64_t start = monotonic_ns();
    EXPECT_LT(expiry(ring, timer) - start, 1000 * kMs);
}

TEST(DeadlineTimer, AtMostMaxPendingAtOnce) {
    IoRing ring(16);
    DeadlineTimer timer(ring, kTag);
    const uint64_t now = monotonic_ns();
    for (unsigned i = 0; i < 2 * DeadlineTimer::kMaxPending; ++i)
        timer.arm_by(now + (100 - i) * kMs);  // each one earlier than the last
    EXPECT_EQ(timer.pending(), DeadlineTimer::kMaxPending);
    for (unsigned i = 0; i < DeadlineTimer::kMaxPending; ++i) (void)expiry(ring, timer);
    EXPECT_EQ(timer.pending(), 0u);
}

}  // namespace
}  // namespace nvmevm
