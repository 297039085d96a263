#include "virtio/split_queue.h"

#include <gtest/gtest.h>

#include <vector>

#include "virtio/test_virtqueue.h"

namespace nvmevm {
namespace {

using testing::TestVirtqueue;

// Pops one chain and returns it with `len`; the chain's head.
uint16_t pop_and_return(SplitQueue& queue, uint32_t len) {
    DescriptorChain chain;
    EXPECT_EQ(queue.pop(chain), PopResult::chain);
    const uint16_t head = chain.head();
    EXPECT_TRUE(queue.push_used(std::move(chain.token()), len));
    return head;
}

class SplitQueueTest : public ::testing::Test {
  protected:
    void TearDown() override { EXPECT_EQ(ChainToken::leaks(), leaks_at_start_); }
    uint64_t leaks_at_start_ = ChainToken::leaks();
};

// unpop() gives back the chain popped last, and only that one: the next pop returns it again.
TEST_F(SplitQueueTest, UnpopReturnsTheLastChainToTheRing) {
    TestVirtqueue q(8);
    const uint16_t first = q.add_chain({{0x1000, 16, false}});
    const uint16_t second = q.add_chain({{0x2000, 16, false}});
    SplitQueue queue;
    ASSERT_EQ(queue.enable(q.config(), q.memory()), QueueError::none);
    DescriptorChain a, b;
    ASSERT_EQ(queue.pop(a), PopResult::chain);
    ASSERT_EQ(queue.pop(b), PopResult::chain);
    EXPECT_EQ(queue.outstanding(), 2u);
    // Not the last one popped: refused, and still owed.
    EXPECT_FALSE(queue.unpop(a.token()));
    EXPECT_TRUE(a.token().owed());
    EXPECT_TRUE(queue.unpop(b.token()));
    EXPECT_FALSE(b.token().owed());
    EXPECT_EQ(queue.outstanding(), 1u);
    EXPECT_EQ(queue.last_avail_idx(), 1);
    // Twice is refused: that would give back a chain popped before it.
    EXPECT_FALSE(queue.unpop(b.token()));
    DescriptorChain again;
    ASSERT_EQ(queue.pop(again), PopResult::chain);
    EXPECT_EQ(again.head(), second);
    EXPECT_EQ(a.head(), first);
    EXPECT_TRUE(queue.push_used(std::move(a.token()), 0));
    EXPECT_TRUE(queue.push_used(std::move(again.token()), 0));
    // After a reset, an old token cannot go back.
    DescriptorChain stale;
    (void)q.add_chain({{0x3000, 16, false}});
    ASSERT_EQ(queue.pop(stale), PopResult::chain);
    queue.reset();
    EXPECT_FALSE(queue.unpop(stale.token()));
    // Nor once the ring is enabled again, where the head popped last is the stale one's.
    ASSERT_EQ(queue.enable(q.config(), q.memory()), QueueError::none);
    EXPECT_FALSE(queue.unpop(stale.token()));
    EXPECT_EQ(queue.last_avail_idx(), 0);
    stale.token().forget();
}

TEST_F(SplitQueueTest, ValidConfigurationEnables) {
    TestVirtqueue q(256);
    SplitQueue queue;
    EXPECT_EQ(SplitQueue::validate(q.config(), q.memory()), QueueError::none);
    EXPECT_EQ(queue.enable(q.config(), q.memory()), QueueError::none);
    EXPECT_TRUE(queue.enabled());
    EXPECT_EQ(queue.size(), 256);
}

TEST_F(SplitQueueTest, SizeMustBeAPowerOfTwoUpTo1024) {
    TestVirtqueue q(16);
    for (int size : {0, 3, 12, 1000, 2048, 32768}) {
        q.config().size = static_cast<uint16_t>(size);
        EXPECT_EQ(SplitQueue::validate(q.config(), q.memory()), QueueError::bad_size) << size;
    }
    for (int size : {1, 2, 64, 1024}) {
        q.config().size = static_cast<uint16_t>(size);
        EXPECT_EQ(SplitQueue::validate(q.config(), q.memory()), QueueError::none) << size;
    }
}

TEST_F(SplitQueueTest, RingsMustBeAligned) {
    TestVirtqueue q(16);
    SplitQueueConfig c = q.config();
    c.desc_table.value += 8;
    EXPECT_EQ(SplitQueue::validate(c, q.memory()), QueueError::desc_misaligned);
    c = q.config();
    c.avail_ring.value += 1;
    EXPECT_EQ(SplitQueue::validate(c, q.memory()), QueueError::avail_misaligned);
    c = q.config();
    c.used_ring.value += 2;
    EXPECT_EQ(SplitQueue::validate(c, q.memory()), QueueError::used_misaligned);
}

// A hostile driver's misaligned rings: enable() refuses every one (the typed and atomic ring
// accesses would be misaligned), the queue stays disabled and touches nothing.
TEST_F(SplitQueueTest, MisalignedRingsAreNeverBound) {
    TestVirtqueue q(16);
    const uint64_t head = q.alloc(64);
    q.add_chain({{head, 64, false}});  // something to pop, were the queue bound
    struct Skew {
        uint64_t desc, avail, used;
        QueueError error;
    };
    std::vector<Skew> skews;
    for (uint64_t b = 1; b < 16; ++b) skews.push_back({b, 0, 0, QueueError::desc_misaligned});
    skews.push_back({0, 1, 0, QueueError::avail_misaligned});
    for (uint64_t b = 1; b < 4; ++b) skews.push_back({0, 0, b, QueueError::used_misaligned});
    for (const Skew& skew : skews) {
        SplitQueueConfig c = q.config();
        c.desc_table.value += skew.desc;
        c.avail_ring.value += skew.avail;
        c.used_ring.value += skew.used;
        SplitQueue queue;
        EXPECT_EQ(queue.enable(c, q.memory()), skew.error)
            << skew.desc << " " << skew.avail << " " << skew.used;
        EXPECT_FALSE(queue.enabled());
        EXPECT_FALSE(queue.has_available());
        DescriptorChain chain;
        EXPECT_EQ(queue.pop(chain), PopResult::empty);
    }
    SplitQueue queue;  // the same rings, aligned: served
    ASSERT_EQ(queue.enable(q.config(), q.memory()), QueueError::none);
    DescriptorChain chain;
    ASSERT_EQ(queue.pop(chain), PopResult::chain);
    EXPECT_TRUE(queue.push_used(std::move(chain.token()), 0));
}

TEST_F(SplitQueueTest, RingsMustLieInsideRam) {
    TestVirtqueue q(16);
    const uint64_t ram = q.ram().size();
    SplitQueueConfig c = q.config();
    c.desc_table = GuestAddress{ram - 16 * 16 + 16};  // last descriptor crosses the end
    EXPECT_EQ(SplitQueue::validate(c, q.memory()), QueueError::desc_outside_ram);
    c = q.config();
    c.avail_ring = GuestAddress{ram - (6 + 2 * 16) + 2};  // used_event crosses the end
    EXPECT_EQ(SplitQueue::validate(c, q.memory()), QueueError::avail_outside_ram);
    c = q.config();
    c.used_ring = GuestAddress{ram - 132};  // 134 bytes: avail_event crosses the end
    EXPECT_EQ(SplitQueue::validate(c, q.memory()), QueueError::used_outside_ram);
    c = q.config();
    c.used_ring = GuestAddress{0xFFFF'FFFF'FFFF'FF00};  // address + length wraps
    EXPECT_EQ(SplitQueue::validate(c, q.memory()), QueueError::used_outside_ram);
    c = q.config();
    c.desc_table = GuestAddress{ram - 16 * 16};  // exactly at the end: fine
    EXPECT_EQ(SplitQueue::validate(c, q.memory()), QueueError::none);

    SplitQueue queue;
    c.used_ring = GuestAddress{ram};
    EXPECT_EQ(queue.enable(c, q.memory()), QueueError::used_outside_ram);
    EXPECT_FALSE(queue.enabled());
    DescriptorChain chain;
    EXPECT_EQ(queue.pop(chain), PopResult::empty);
}

TEST_F(SplitQueueTest, EmptyQueuePopsNothing) {
    TestVirtqueue q(16);
    SplitQueue queue;
    ASSERT_EQ(queue.enable(q.config(), q.memory()), QueueError::none);
    DescriptorChain chain;
    EXPECT_EQ(queue.pop(chain), PopResult::empty);
    EXPECT_FALSE(queue.has_available());
}

TEST_F(SplitQueueTest, PopsInOrderAndReturnsThroughUsedRing) {
    TestVirtqueue q(16);
    SplitQueue queue;
    ASSERT_EQ(queue.enable(q.config(), q.memory()), QueueError::none);
    const uint64_t a = q.alloc(64), b = q.alloc(64);
    const uint16_t head_a = q.add_chain({{a, 64, false}});
    const uint16_t head_b = q.add_chain({{b, 64, true}});
    EXPECT_TRUE(queue.has_available());

    DescriptorChain first, second;
    ASSERT_EQ(queue.pop(first), PopResult::chain);
    ASSERT_EQ(queue.pop(second), PopResult::chain);
    EXPECT_EQ(queue.pop(second), PopResult::empty);  // `second` untouched when empty
    EXPECT_EQ(first.head(), head_a);
    EXPECT_EQ(second.head(), head_b);
    EXPECT_EQ(queue.outstanding(), 2u);

    // Out of order completion is fine; nothing is visible before publish_used.
    EXPECT_TRUE(queue.push_used(std::move(second.token()), 64));
    EXPECT_TRUE(queue.push_used(std::move(first.token()), 0));
    EXPECT_EQ(q.used_idx(), 0);
    queue.publish_used();
    EXPECT_EQ(q.used_idx(), 2);
    EXPECT_EQ(q.used_elem(0).id, head_b);
    EXPECT_EQ(q.used_elem(0).len, 64u);
    EXPECT_EQ(q.used_elem(1).id, head_a);
    EXPECT_EQ(queue.outstanding(), 0u);
    EXPECT_FALSE(first.token().owed());
}

TEST_F(SplitQueueTest, IndicesWrapAround) {
    TestVirtqueue q(4);
    SplitQueue queue;
    ASSERT_EQ(queue.enable(q.config(), q.memory()), QueueError::none);
    const uint64_t buf = q.alloc(8);
    for (int i = 0; i < 70000; ++i) {  // past 2^16
        q.add_chain({{buf, 8, true}});
        pop_and_return(queue, 8);
        queue.publish_used();
    }
    EXPECT_EQ(q.used_idx(), static_cast<uint16_t>(70000));
    EXPECT_EQ(queue.last_avail_idx(), static_cast<uint16_t>(70000));
}

TEST_F(SplitQueueTest, AvailIndexTooFarAheadBreaksTheQueue) {
    TestVirtqueue q(16);
    SplitQueue queue;
    ASSERT_EQ(queue.enable(q.config(), q.memory()), QueueError::none);
    q.set_avail_idx(17);  // 17 entries in a 16-entry ring
    DescriptorChain chain;
    EXPECT_EQ(queue.pop(chain), PopResult::broken);
    EXPECT_EQ(queue.error(), QueueError::avail_index_ahead);
    EXPECT_TRUE(queue.broken());
    q.set_avail_idx(1);  // it stays broken until reset
    EXPECT_EQ(queue.pop(chain), PopResult::broken);
    queue.reset();
    EXPECT_FALSE(queue.broken());
}

TEST_F(SplitQueueTest, ExactlyAFullRingIsFine) {
    TestVirtqueue q(8);
    SplitQueue queue;
    ASSERT_EQ(queue.enable(q.config(), q.memory()), QueueError::none);
    const uint64_t buf = q.alloc(8);
    for (int i = 0; i < 8; ++i) q.add_chain({{buf, 8, true}});
    for (int i = 0; i < 8; ++i) pop_and_return(queue, 0);
    DescriptorChain chain;
    EXPECT_EQ(queue.pop(chain), PopResult::empty);
}

TEST_F(SplitQueueTest, DecrementedAvailIndexBreaksTheQueue) {
    TestVirtqueue q(16);
    SplitQueue queue;
    ASSERT_EQ(queue.enable(q.config(), q.memory()), QueueError::none);
    const uint64_t buf = q.alloc(8);
    q.add_chain({{buf, 8, true}});
    pop_and_return(queue, 0);
    q.set_avail_idx(0);  // "unexposes" a buffer: 0 - 1 = 65535 ahead
    DescriptorChain chain;
    EXPECT_EQ(queue.pop(chain), PopResult::broken);
}

// Every chain starts at a descriptor of the table, and the driver may not make a descriptor
// available again before the device has used it (2.7.13: the device owns a buffer until it is
// used), so at most `size` chains can be outstanding. A driver that re-posts heads still in
// flight breaks the queue instead of growing the device's work beyond the ring.
TEST_F(SplitQueueTest, MoreChainsInFlightThanTheQueueSizeBreaksTheQueue) {
    TestVirtqueue q(2);
    const uint16_t head = q.add_chain({{0x1000, 16, false}});
    SplitQueue queue;
    ASSERT_EQ(queue.enable(q.config(), q.memory()), QueueError::none);
    DescriptorChain a, b, c;
    ASSERT_EQ(queue.pop(a), PopResult::chain);
    q.make_available(head);  // again, while the device still owns it
    ASSERT_EQ(queue.pop(b), PopResult::chain);
    EXPECT_EQ(queue.outstanding(), 2u);
    q.make_available(head);
    const PopResult third = queue.pop(c);
    if (third == PopResult::chain) (void)queue.push_used(std::move(c.token()), 0);
    EXPECT_EQ(third, PopResult::broken);
    EXPECT_EQ(queue.error(), QueueError::too_many_in_flight);
    EXPECT_FALSE(queue.has_available());
    // A broken queue takes no used entries; the tokens are let go all the same.
    EXPECT_FALSE(queue.push_used(std::move(a.token()), 0));
    EXPECT_FALSE(queue.push_used(std::move(b.token()), 0));
}

TEST_F(SplitQueueTest, HeadOutsideTheTableBreaksTheQueue) {
    TestVirtqueue q(16);
    SplitQueue queue;
    ASSERT_EQ(queue.enable(q.config(), q.memory()), QueueError::none);
    q.make_available(16);
    DescriptorChain chain;
    EXPECT_EQ(queue.pop(chain), PopResult::broken);
    EXPECT_EQ(queue.error(), QueueError::head_out_of_range);
    EXPECT_EQ(queue.outstanding(), 0u);
}

TEST_F(SplitQueueTest, MalformedChainIsStillPoppedAndOwed) {
    TestVirtqueue q(16);
    SplitQueue queue;
    ASSERT_EQ(queue.enable(q.config(), q.memory()), QueueError::none);
    q.set_desc(0, q.alloc(8), 8, VIRTQ_DESC_F_NEXT, 99);  // next out of range
    q.make_available(0);
    DescriptorChain chain;
    ASSERT_EQ(queue.pop(chain), PopResult::chain);
    EXPECT_EQ(chain.error(), ChainError::next_out_of_range);
    EXPECT_TRUE(chain.token().owed());
    EXPECT_TRUE(queue.push_used(std::move(chain.token()), 0));
    queue.publish_used();
    EXPECT_EQ(q.used_idx(), 1);
    EXPECT_EQ(q.used_elem(0).len, 0u);
}

TEST_F(SplitQueueTest, ResetDropsTokensOfTheOldGeneration) {
    TestVirtqueue q(16);
    SplitQueue queue;
    ASSERT_EQ(queue.enable(q.config(), q.memory()), QueueError::none);
    q.add_chain({{q.alloc(8), 8, true}});
    DescriptorChain chain;
    ASSERT_EQ(queue.pop(chain), PopResult::chain);
    queue.reset();
    ASSERT_EQ(queue.enable(q.config(), q.memory()), QueueError::none);
    // The I/O of the old chain completes after the driver re-initialised the ring.
    EXPECT_FALSE(queue.push_used(std::move(chain.token()), 8));
    queue.publish_used();
    EXPECT_EQ(q.used_idx(), 0);
    EXPECT_EQ(queue.next_used_idx(), 0);
}

TEST_F(SplitQueueTest, ATokenCannotBeReturnedTwice) {
    TestVirtqueue q(16);
    SplitQueue queue;
    ASSERT_EQ(queue.enable(q.config(), q.memory()), QueueError::none);
    q.add_chain({{q.alloc(8), 8, true}});
    DescriptorChain chain;
    ASSERT_EQ(queue.pop(chain), PopResult::chain);
    EXPECT_TRUE(queue.push_used(std::move(chain.token()), 8));
    EXPECT_FALSE(queue.push_used(std::move(chain.token()), 8));
    EXPECT_EQ(queue.next_used_idx(), 1);
}

TEST_F(SplitQueueTest, ALeakedChainIsCounted) {
    TestVirtqueue q(16);
    SplitQueue queue;
    ASSERT_EQ(queue.enable(q.config(), q.memory()), QueueError::none);
    q.add_chain({{q.alloc(8), 8, true}});
    {
        DescriptorChain chain;
        ASSERT_EQ(queue.pop(chain), PopResult::chain);
    }  // dropped without push_used
    EXPECT_EQ(ChainToken::leaks(), leaks_at_start_ + 1);
    leaks_at_start_ += 1;  // expected here
    EXPECT_EQ(queue.outstanding(), 1u);
}

TEST_F(SplitQueueTest, ForgottenTokensAreNotLeaks) {
    TestVirtqueue q(16);
    SplitQueue queue;
    ASSERT_EQ(queue.enable(q.config(), q.memory()), QueueError::none);
    q.add_chain({{q.alloc(8), 8, true}});
    DescriptorChain chain;
    ASSERT_EQ(queue.pop(chain), PopResult::chain);
    queue.reset();
    chain.token().forget();
}

TEST_F(SplitQueueTest, NoEventIdxNotificationsUseFlags) {
    TestVirtqueue q(16, /*event_idx=*/false);
    SplitQueue queue;
    ASSERT_EQ(queue.enable(q.config(), q.memory()), QueueError::none);
    queue.disable_notifications();
    EXPECT_EQ(q.used_flags(), VIRTQ_USED_F_NO_NOTIFY);
    EXPECT_FALSE(queue.enable_notifications());
    EXPECT_EQ(q.used_flags(), 0);

    // The re-check: a buffer added while notifications were off is reported.
    queue.disable_notifications();
    q.add_chain({{q.alloc(8), 8, true}});
    EXPECT_TRUE(queue.enable_notifications());
    pop_and_return(queue, 8);
    EXPECT_FALSE(queue.enable_notifications());
}

TEST_F(SplitQueueTest, NoEventIdxInterruptFollowsAvailFlags) {
    TestVirtqueue q(16, /*event_idx=*/false);
    SplitQueue queue;
    ASSERT_EQ(queue.enable(q.config(), q.memory()), QueueError::none);
    const uint64_t buf = q.alloc(8);
    EXPECT_FALSE(queue.should_interrupt());  // nothing published yet

    q.add_chain({{buf, 8, true}});
    pop_and_return(queue, 8);
    queue.publish_used();
    EXPECT_TRUE(queue.should_interrupt());
    EXPECT_FALSE(queue.should_interrupt());  // already signalled

    q.set_avail_flags(VIRTQ_AVAIL_F_NO_INTERRUPT);
    q.add_chain({{buf, 8, true}});
    pop_and_return(queue, 8);
    queue.publish_used();
    EXPECT_FALSE(queue.should_interrupt());
}

TEST_F(SplitQueueTest, EventIdxEnableWritesAvailEvent) {
    TestVirtqueue q(16, /*event_idx=*/true);
    SplitQueue queue;
    ASSERT_EQ(queue.enable(q.config(), q.memory()), QueueError::none);
    const uint64_t buf = q.alloc(8);
    for (int i = 0; i < 3; ++i) q.add_chain({{buf, 8, true}});
    for (int i = 0; i < 3; ++i) pop_and_return(queue, 8);
    queue.disable_notifications();
    EXPECT_EQ(q.used_flags(), 0);  // 2.7.10.2: with EVENT_IDX "The device MUST set flags to 0."
    EXPECT_FALSE(queue.enable_notifications());
    EXPECT_EQ(q.avail_event(), 3);  // kick me when you make entry 3 available

    q.add_chain({{buf, 8, true}});
    EXPECT_TRUE(queue.enable_notifications());  // the re-check sees it
    pop_and_return(queue, 8);
}

TEST_F(SplitQueueTest, EventIdxInterruptWhenUsedEventIsCrossed) {
    TestVirtqueue q(16, /*event_idx=*/true);
    SplitQueue queue;
    ASSERT_EQ(queue.enable(q.config(), q.memory()), QueueError::none);
    const uint64_t buf = q.alloc(8);
    q.set_used_event(2);  // interrupt me when the entry at index 2 is written
    q.set_avail_flags(VIRTQ_AVAIL_F_NO_INTERRUPT);  // ignored with EVENT_IDX
    for (int i = 0; i < 5; ++i) q.add_chain({{buf, 8, true}});

    pop_and_return(queue, 8);
    pop_and_return(queue, 8);
    queue.publish_used();  // used idx 0 -> 2: entries 0 and 1
    EXPECT_FALSE(queue.should_interrupt());
    pop_and_return(queue, 8);
    queue.publish_used();  // 2 -> 3: entry 2 written
    EXPECT_TRUE(queue.should_interrupt());
    pop_and_return(queue, 8);
    pop_and_return(queue, 8);
    queue.publish_used();  // 3 -> 5: used_event still 2, already passed
    EXPECT_FALSE(queue.should_interrupt());
}

TEST_F(SplitQueueTest, EventIdxBatchCoveringUsedEventInterruptsOnce) {
    TestVirtqueue q(16, /*event_idx=*/true);
    SplitQueue queue;
    ASSERT_EQ(queue.enable(q.config(), q.memory()), QueueError::none);
    const uint64_t buf = q.alloc(8);
    q.set_used_event(0);  // 2.7.7.2 note: "if used_event is 0 ... after the first buffer"
    for (int i = 0; i < 4; ++i) q.add_chain({{buf, 8, true}});
    for (int i = 0; i < 4; ++i) pop_and_return(queue, 8);
    queue.publish_used();
    EXPECT_TRUE(queue.should_interrupt());
    EXPECT_FALSE(queue.should_interrupt());
}

TEST(VringNeedEvent, Basic) {
    // event in [old, new) -> notify.
    EXPECT_TRUE(vring_need_event(0, 1, 0));
    EXPECT_FALSE(vring_need_event(1, 1, 0));
    EXPECT_TRUE(vring_need_event(4, 10, 0));
    EXPECT_TRUE(vring_need_event(9, 10, 0));
    EXPECT_FALSE(vring_need_event(10, 10, 0));
    EXPECT_FALSE(vring_need_event(5, 5, 5));  // nothing new
}

TEST(VringNeedEvent, Wraparound) {
    // old = 65534, new = 2 (wrapped): the batch covers 65534, 65535, 0, 1.
    EXPECT_TRUE(vring_need_event(65534, 2, 65534));
    EXPECT_TRUE(vring_need_event(65535, 2, 65534));
    EXPECT_TRUE(vring_need_event(0, 2, 65534));
    EXPECT_TRUE(vring_need_event(1, 2, 65534));
    EXPECT_FALSE(vring_need_event(2, 2, 65534));
    EXPECT_FALSE(vring_need_event(65533, 2, 65534));
    // A full 2^16 batch looks like nothing new (new == old): unavoidable with u16 indices, and
    // impossible with queues of at most 1024 entries published at least once per ring.
    EXPECT_FALSE(vring_need_event(7, 100, 100));
}

}  // namespace
}  // namespace nvmevm
