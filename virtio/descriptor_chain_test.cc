#include "virtio/descriptor_chain.h"

#include <gtest/gtest.h>

#include "virtio/split_queue.h"
#include "virtio/test_virtqueue.h"

namespace nvmevm {
namespace {

using testing::TestVirtqueue;
using Buffer = TestVirtqueue::Buffer;

class DescriptorChainTest : public ::testing::Test {
  protected:
    void SetUp() override { ASSERT_EQ(queue.enable(q.config(), q.memory()), QueueError::none); }
    void TearDown() override {
        give_back();
        EXPECT_EQ(queue.outstanding(), 0u);
        EXPECT_EQ(ChainToken::leaks(), leaks_at_start_);
    }
    void give_back() {
        if (chain.token().owed()) {
            EXPECT_TRUE(queue.push_used(std::move(chain.token()), 0));
        }
    }
    // Makes `head` available and pops it; the walk's verdict.
    ChainError pop(uint16_t head) {
        give_back();
        q.make_available(head);
        EXPECT_EQ(queue.pop(chain), PopResult::chain);
        EXPECT_EQ(chain.head(), head);
        return chain.error();
    }
    void reenable() {
        queue.reset();
        ASSERT_EQ(queue.enable(q.config(), q.memory()), QueueError::none);
    }

    TestVirtqueue q{16};
    SplitQueue queue;
    DescriptorChain chain;
    uint64_t leaks_at_start_ = ChainToken::leaks();
};

TEST_F(DescriptorChainTest, DirectChainIsFlattened) {
    const uint64_t h = q.alloc(16), d = q.alloc(512), s = q.alloc(1);
    ASSERT_EQ(pop(q.add_direct({{h, 16, false}, {d, 512, true}, {s, 1, true}})), ChainError::ok);
    ASSERT_EQ(chain.segments().size(), 3u);
    ASSERT_EQ(chain.readable().size(), 1u);
    ASSERT_EQ(chain.writable().size(), 2u);
    EXPECT_EQ(chain.readable()[0].addr.value, h);
    EXPECT_EQ(chain.writable()[0].addr.value, d);
    EXPECT_EQ(chain.writable()[0].len, 512u);
    EXPECT_EQ(chain.last().addr.value, s);
    EXPECT_TRUE(chain.last().device_writable);
    EXPECT_EQ(chain.total_bytes(), 529u);
    EXPECT_EQ(chain.descriptor_count(), 3u);
}

TEST_F(DescriptorChainTest, IndirectChainIsFlattened) {
    const uint64_t h = q.alloc(16), d = q.alloc(512), s = q.alloc(1);
    ASSERT_EQ(pop(q.add_indirect({{h, 16, false}, {d, 512, true}, {s, 1, true}})), ChainError::ok);
    ASSERT_EQ(chain.segments().size(), 3u);
    EXPECT_EQ(chain.readable().size(), 1u);
    EXPECT_EQ(chain.last().addr.value, s);
}

TEST_F(DescriptorChainTest, DirectDescriptorsFollowedByAnIndirectOne) {
    // 2.7.5.3.2: "The device MUST handle the case of zero or more normal chained descriptors
    // followed by a single descriptor with flags&VIRTQ_DESC_F_INDIRECT."
    const uint64_t h = q.alloc(16), d = q.alloc(512), s = q.alloc(1);
    const uint64_t table = q.write_indirect_table({{d, 512, true}, {s, 1, true}});
    q.set_desc(5, h, 16, VIRTQ_DESC_F_NEXT, 9);
    q.set_desc(9, table, 32, VIRTQ_DESC_F_INDIRECT, 0);
    ASSERT_EQ(pop(5), ChainError::ok);
    ASSERT_EQ(chain.segments().size(), 3u);
    EXPECT_EQ(chain.segments()[0].addr.value, h);
    EXPECT_EQ(chain.segments()[1].addr.value, d);
    EXPECT_EQ(chain.last().addr.value, s);
}

TEST_F(DescriptorChainTest, WriteFlagOnTheIndirectDescriptorIsIgnored) {
    const uint64_t h = q.alloc(16), s = q.alloc(1);
    const uint64_t table = q.write_indirect_table({{h, 16, false}, {s, 1, true}});
    q.set_desc(0, table, 32, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_WRITE, 0);
    ASSERT_EQ(pop(0), ChainError::ok);
    EXPECT_FALSE(chain.segments()[0].device_writable);
}

TEST_F(DescriptorChainTest, NextOutOfRange) {
    q.set_desc(0, q.alloc(16), 16, VIRTQ_DESC_F_NEXT, 16);
    EXPECT_EQ(pop(0), ChainError::next_out_of_range);
    EXPECT_FALSE(chain_shape_known(chain.error()));
}

TEST_F(DescriptorChainTest, NextOutOfRangeInsideAnIndirectTable) {
    const uint64_t table = q.alloc(32);
    q.write_obj(table, VirtqDesc{q.alloc(16), 16, VIRTQ_DESC_F_NEXT, 2});  // table has 2 entries
    q.write_obj(table + 16, VirtqDesc{q.alloc(1), 1, VIRTQ_DESC_F_WRITE, 0});
    q.set_desc(0, table, 32, VIRTQ_DESC_F_INDIRECT, 0);
    EXPECT_EQ(pop(0), ChainError::next_out_of_range);
}

TEST_F(DescriptorChainTest, TwoDescriptorLoopEnds) {
    const uint64_t b = q.alloc(16);
    q.set_desc(3, b, 16, VIRTQ_DESC_F_NEXT, 4);
    q.set_desc(4, b, 16, VIRTQ_DESC_F_NEXT, 3);
    EXPECT_EQ(pop(3), ChainError::chain_too_long);
}

TEST_F(DescriptorChainTest, SelfLoopEnds) {
    q.set_desc(7, q.alloc(16), 16, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 7);
    EXPECT_EQ(pop(7), ChainError::chain_too_long);
}

TEST_F(DescriptorChainTest, LoopInsideAnIndirectTableEnds) {
    const uint64_t table = q.alloc(48);
    const uint64_t b = q.alloc(16);
    q.write_obj(table, VirtqDesc{b, 16, VIRTQ_DESC_F_NEXT, 1});
    q.write_obj(table + 16, VirtqDesc{b, 16, VIRTQ_DESC_F_NEXT, 2});
    q.write_obj(table + 32, VirtqDesc{b, 16, VIRTQ_DESC_F_NEXT, 0});
    q.set_desc(0, table, 48, VIRTQ_DESC_F_INDIRECT, 0);
    EXPECT_EQ(pop(0), ChainError::chain_too_long);
}

TEST_F(DescriptorChainTest, ChainAsLongAsTheQueueIsFine) {
    std::vector<Buffer> buffers(16, Buffer{q.alloc(16), 16, true});
    ASSERT_EQ(pop(q.add_direct(buffers)), ChainError::ok);
    EXPECT_EQ(chain.descriptor_count(), 16u);
}

TEST_F(DescriptorChainTest, IndirectInsideIndirectIsRefused) {
    const uint64_t inner = q.write_indirect_table({{q.alloc(1), 1, true}});
    const uint64_t outer = q.alloc(32);
    q.write_obj(outer, VirtqDesc{q.alloc(16), 16, VIRTQ_DESC_F_NEXT, 1});
    q.write_obj(outer + 16, VirtqDesc{inner, 16, VIRTQ_DESC_F_INDIRECT, 0});
    q.set_desc(0, outer, 32, VIRTQ_DESC_F_INDIRECT, 0);
    EXPECT_EQ(pop(0), ChainError::nested_indirect);
}

TEST_F(DescriptorChainTest, IndirectWithoutTheFeatureIsRefused) {
    q.config().indirect_desc = false;
    reenable();
    EXPECT_EQ(pop(q.add_indirect({{q.alloc(1), 1, true}})), ChainError::indirect_not_negotiated);
}

TEST_F(DescriptorChainTest, IndirectWithNextIsRefused) {
    const uint64_t table = q.write_indirect_table({{q.alloc(1), 1, true}});
    q.set_desc(0, table, 16, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, 1);
    q.set_desc(1, q.alloc(1), 1, VIRTQ_DESC_F_WRITE, 0);
    EXPECT_EQ(pop(0), ChainError::indirect_with_next);
}

TEST_F(DescriptorChainTest, IndirectTableLengthMustBeWholeDescriptors) {
    const uint64_t table = q.write_indirect_table({{q.alloc(1), 1, true}, {q.alloc(1), 1, true}});
    q.set_desc(0, table, 0, VIRTQ_DESC_F_INDIRECT, 0);
    EXPECT_EQ(pop(0), ChainError::indirect_bad_length);
    q.set_desc(1, table, 24, VIRTQ_DESC_F_INDIRECT, 0);
    EXPECT_EQ(pop(1), ChainError::indirect_bad_length);
    q.set_desc(2, table, 15, VIRTQ_DESC_F_INDIRECT, 0);
    EXPECT_EQ(pop(2), ChainError::indirect_bad_length);
}

TEST_F(DescriptorChainTest, IndirectTableLargerThan1024IsRefused) {
    q.set_desc(0, 0, 1025 * 16, VIRTQ_DESC_F_INDIRECT, 0);
    EXPECT_EQ(pop(0), ChainError::indirect_too_large);
}

TEST_F(DescriptorChainTest, IndirectTableOutsideRamIsRefused) {
    const uint64_t ram = q.ram().size();
    q.set_desc(0, ram - 16, 32, VIRTQ_DESC_F_INDIRECT, 0);  // half inside
    EXPECT_EQ(pop(0), ChainError::indirect_outside_ram);
    q.set_desc(1, 0xFFFF'FFFF'FFFF'FFF0, 32, VIRTQ_DESC_F_INDIRECT, 0);  // wraps
    EXPECT_EQ(pop(1), ChainError::indirect_outside_ram);
}

TEST_F(DescriptorChainTest, MisalignedIndirectTableIsRead) {
    // The spec sets no alignment for indirect tables (and Linux's kmalloc may give only 8).
    const uint64_t s = q.alloc(1);
    const uint64_t table = q.alloc(64) + 8;
    q.write_obj(table, VirtqDesc{s, 1, VIRTQ_DESC_F_WRITE, 0});
    q.set_desc(0, table, 16, VIRTQ_DESC_F_INDIRECT, 0);
    ASSERT_EQ(pop(0), ChainError::ok);
    EXPECT_EQ(chain.last().addr.value, s);
}

TEST_F(DescriptorChainTest, BufferAddressPlusLengthMustNotWrap) {
    q.set_desc(0, 0xFFFF'FFFF'FFFF'FFF8, 16, VIRTQ_DESC_F_WRITE, 0);
    EXPECT_EQ(pop(0), ChainError::address_wraps);
    q.set_desc(1, 0xFFFF'FFFF'FFFF'FFF0, 16, VIRTQ_DESC_F_WRITE, 0);  // ends exactly at 2^64
    EXPECT_EQ(pop(1), ChainError::address_wraps);
}

TEST_F(DescriptorChainTest, BufferOutsideRamIsLeftToTheParser) {
    // The chain's shape is sound; whether its buffers are RAM is the request parser's question
    // (it can still answer IOERR through a status byte that is RAM).
    q.set_desc(0, 1ull << 40, 512, VIRTQ_DESC_F_NEXT, 1);
    q.set_desc(1, q.alloc(1), 1, VIRTQ_DESC_F_WRITE, 0);
    EXPECT_EQ(pop(0), ChainError::ok);
}

TEST_F(DescriptorChainTest, ReadableAfterWritableIsRefused) {
    const uint64_t b = q.alloc(16);
    EXPECT_EQ(pop(q.add_direct({{b, 16, false}, {b, 16, true}, {b, 16, false}})),
              ChainError::readable_after_writable);
    EXPECT_EQ(pop(q.add_indirect({{b, 16, true}, {b, 1, false}})),
              ChainError::readable_after_writable);
}

TEST_F(DescriptorChainTest, TooManySegmentsKeepsTheLastDescriptor) {
    const uint64_t b = q.alloc(512), s = q.alloc(1);
    std::vector<Buffer> buffers{{q.alloc(16), 16, false}};
    for (int i = 0; i < 140; ++i) buffers.push_back({b, 512, true});
    buffers.push_back({s, 1, true});
    ASSERT_EQ(pop(q.add_indirect(buffers)), ChainError::too_many_segments);
    EXPECT_TRUE(chain_shape_known(chain.error()));
    EXPECT_EQ(chain.segments().size(), kMaxChainSegments);
    EXPECT_EQ(chain.descriptor_count(), 142u);
    EXPECT_EQ(chain.last().addr.value, s);
}

TEST_F(DescriptorChainTest, TooManyBytesKeepsTheLastDescriptor) {
    const uint64_t s = q.alloc(1);
    ASSERT_EQ(pop(q.add_direct({{0, 200u << 20, true}, {0, 200u << 20, true}, {s, 1, true}})),
              ChainError::too_many_bytes);
    EXPECT_TRUE(chain_shape_known(chain.error()));
    EXPECT_EQ(chain.last().addr.value, s);
}

TEST_F(DescriptorChainTest, ZeroLengthDescriptorsAreKept) {
    const uint64_t b = q.alloc(16);
    ASSERT_EQ(pop(q.add_direct({{b, 16, false}, {b, 0, true}, {b, 0, true}})), ChainError::ok);
    EXPECT_EQ(chain.segments().size(), 3u);
    EXPECT_EQ(chain.last().len, 0u);
}

TEST(ChainError, EveryErrorIsDescribed) {
    for (int e = 0; e <= static_cast<int>(ChainError::readable_after_writable); ++e) {
        EXPECT_STRNE(describe(static_cast<ChainError>(e)), "unknown chain error") << e;
    }
}

}  // namespace
}  // namespace nvmevm
