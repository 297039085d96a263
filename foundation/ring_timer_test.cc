#include "foundation/ring_timer.h"

#include <gtest/gtest.h>
#include <sys/utsname.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

#include "foundation/io_ring.h"
#include "foundation/test_kernel_version.h"

namespace nvmevm {
namespace {

using testing::kernel_at_least;

constexpr uint32_t kTag = 7;
constexpr uint32_t kCancelTag = 8;

using Cqe = std::pair<uint32_t, int32_t>;

// Waits for at least one CQE and hands every (tag, res) there is to `timer`; returns them.
std::vector<Cqe> next(IoRing& ring, RingTimer& timer, bool needed) {
    EXPECT_EQ(ring.wait(1), 0);
    std::vector<Cqe> got;
    ring.reap([&](uint32_t tag, int32_t res) noexcept {
        got.emplace_back(tag, res);
        EXPECT_TRUE(timer.on_completion(tag, res, needed));
    });
    return got;
}

TEST(RingTimer, RepeatsUntilNoLongerNeededThenCancelsItself) {
    IoRing ring(8);
    RingTimer timer(ring, 1'000'000, kTag, kCancelTag);
    timer.arm_if(false);
    EXPECT_FALSE(timer.armed());
    timer.arm_if(true);
    ASSERT_TRUE(timer.armed());
    ASSERT_TRUE(timer.repeats()) << "a new timer must try repeating timeouts first";
    // Several expiries from one arm: the timer needs no re-arm to fire again, so an expiry
    // whose wake-up got lost is followed by another.
    int expiries = 0;
    while (expiries < 3) {
        for (const auto& [tag, res] : next(ring, timer, true)) {
            if (res == -EINVAL) {
                ASSERT_FALSE(kernel_at_least(6, 4)) << "Linux 6.4+ refused a repeating timeout";
                GTEST_SKIP() << "IORING_TIMEOUT_MULTISHOT needs Linux 6.4";
            }
            EXPECT_EQ(tag, kTag);
            EXPECT_EQ(res, -ETIME);
            ++expiries;
        }
        EXPECT_TRUE(timer.armed());
    }
    // Not needed at the next expiry: it cancels itself; the cancel's CQE and the timeout's
    // last one (-ECANCELED) follow, and then it is disarmed.
    bool saw_end = false;
    for (int i = 0; i < 5 && timer.armed(); ++i)
        for (const auto& [tag, res] : next(ring, timer, false))
            if (tag == kTag && res == -ECANCELED) saw_end = true;
    EXPECT_TRUE(saw_end);
    EXPECT_FALSE(timer.armed());
    // And it can be armed again.
    timer.arm_if(true);
    EXPECT_TRUE(timer.armed());
}

TEST(RingTimer, FallsBackToOneShotWhenTheKernelRefusesRepeating) {
    IoRing ring(8);
    RingTimer timer(ring, 1'000'000, kTag, kCancelTag);
    // What a kernel before 6.4 answers to the first IORING_TIMEOUT_MULTISHOT.
    EXPECT_TRUE(timer.on_completion(kTag, -EINVAL, true));
    EXPECT_FALSE(timer.repeats());
    EXPECT_FALSE(timer.armed());
    // From then on, one expiry per arm.
    timer.arm_if(true);
    ASSERT_TRUE(timer.armed());
    const std::vector<Cqe> got = next(ring, timer, true);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0], Cqe(kTag, -ETIME));
    EXPECT_FALSE(timer.armed());
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    EXPECT_FALSE(ring.look_at_cq().waiting);
}

TEST(RingTimer, IgnoresOtherTags) {
    IoRing ring(8);
    RingTimer timer(ring, 1'000'000, kTag, kCancelTag);
    EXPECT_FALSE(timer.on_completion(99, 0, true));
    EXPECT_TRUE(timer.on_completion(kCancelTag, 0, true));
}

TEST(IoRing, LookAtCqSeesWaitingCompletionsAndTheirConsumption) {
    IoRing ring(8);
    IoRing::CqLook look = ring.look_at_cq();
    EXPECT_FALSE(look.waiting);
    const uint32_t head = look.head;
    ring.arm_timeout(1'000, kTag);
    ASSERT_EQ(ring.wait(1), 0);
    look = ring.look_at_cq();
    EXPECT_TRUE(look.waiting);
    EXPECT_EQ(look.head, head);
    ring.reap();
    look = ring.look_at_cq();
    EXPECT_FALSE(look.waiting);
    EXPECT_EQ(look.head, head + 1);
}

}  // namespace
}  // namespace nvmevm
