#include "virtio/blk_request.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

#include "virtio/split_queue.h"
#include "virtio/test_virtqueue.h"

namespace nvmevm {
namespace {

using testing::TestVirtqueue;
using Buffer = TestVirtqueue::Buffer;

constexpr uint64_t kCapacity = 1024;  // sectors: a 512 KiB disk

class BlkRequestTest : public ::testing::Test {
  protected:
    void SetUp() override {
        geometry.capacity_sectors = kCapacity;
        geometry.discard = true;
        geometry.write_zeroes = true;
        geometry.max_discard_sectors = 256;
        geometry.max_discard_seg = 4;
        geometry.max_write_zeroes_sectors = 256;
        geometry.max_write_zeroes_seg = 4;
        ASSERT_EQ(queue.enable(q.config(), q.memory()), QueueError::none);
    }
    void TearDown() override {
        give_back(0);
        EXPECT_EQ(queue.outstanding(), 0u);
        EXPECT_EQ(ChainToken::leaks(), leaks_at_start_);
    }
    void give_back(uint32_t len) {
        if (chain.token().owed()) {
            EXPECT_TRUE(queue.push_used(std::move(chain.token()), len));
        }
    }

    uint64_t header(uint32_t type, uint64_t sector = 0) {
        const uint64_t h = q.alloc(16);
        q.write_obj(h, VirtioBlkReqHeader{type, 0, sector});
        return h;
    }
    uint64_t status_byte() {
        const uint64_t s = q.alloc(1);
        q.write_obj<uint8_t>(s, 0xEE);  // so that "not written" is visible
        return s;
    }
    uint64_t ranges(std::initializer_list<VirtioBlkDiscardWriteZeroes> list) {
        const uint64_t r = q.alloc(16 * list.size());
        uint64_t at = r;
        for (const auto& range : list) {
            q.write_obj(at, range);
            at += 16;
        }
        return r;
    }

    BlkParseResult parse_head(uint16_t head) {
        give_back(0);
        q.make_available(head);
        EXPECT_EQ(queue.pop(chain), PopResult::chain);
        return BlkRequest::parse(chain, q.memory(), geometry, request);
    }
    BlkParseResult parse(const std::vector<Buffer>& buffers) {
        return parse_head(q.add_direct(buffers));
    }
    BlkParseResult parse_indirect(const std::vector<Buffer>& buffers) {
        return parse_head(q.add_indirect(buffers));
    }
    uint8_t* host(uint64_t gpa) { return q.ram().data() + gpa; }

    // An immediate answer with `status` written at `s`.
    void expect_answer(const BlkParseResult& r, uint8_t status, uint64_t s) {
        EXPECT_FALSE(r.execute);
        EXPECT_EQ(r.answer.status, host(s)) << r.answer.reason;
        EXPECT_EQ(r.answer.status_value, status) << r.answer.reason;
        EXPECT_EQ(r.answer.deliver(), 1u);
        EXPECT_EQ(q.byte(s), status);
    }
    // No answer possible: used length 0, nothing written.
    void expect_unanswerable(const BlkParseResult& r) {
        EXPECT_FALSE(r.execute);
        EXPECT_EQ(r.answer.status, nullptr);
        EXPECT_EQ(r.answer.deliver(), 0u);
    }

    TestVirtqueue q{64};
    SplitQueue queue;
    DescriptorChain chain;
    BlkRequest request;
    BlkGeometry geometry;
    uint64_t leaks_at_start_ = ChainToken::leaks();
};

TEST_F(BlkRequestTest, Read) {
    const uint64_t h = header(VIRTIO_BLK_T_IN, 8), d = q.alloc(4096), s = status_byte();
    const BlkParseResult r = parse({{h, 16, false}, {d, 4096, true}, {s, 1, true}});
    ASSERT_TRUE(r.execute) << r.answer.reason;
    EXPECT_EQ(request.type(), BlkRequestType::read);
    EXPECT_EQ(request.sector(), 8u);
    EXPECT_EQ(request.offset(), 4096u);
    EXPECT_EQ(request.data_len(), 4096u);
    ASSERT_EQ(request.iovecs().size(), 1u);
    EXPECT_EQ(request.iovecs()[0].iov_base, host(d));
    EXPECT_EQ(request.iovecs()[0].iov_len, 4096u);
    ASSERT_EQ(request.guest_addresses().size(), 1u);
    EXPECT_EQ(request.guest_addresses()[0].value, d);
    EXPECT_EQ(request.status_address().value, s);
    EXPECT_EQ(q.byte(s), 0xEE);  // parse writes nothing
    EXPECT_EQ(request.complete(VIRTIO_BLK_S_OK), 4097u);
    EXPECT_EQ(q.byte(s), VIRTIO_BLK_S_OK);
    EXPECT_EQ(request.complete(VIRTIO_BLK_S_IOERR), 1u);
    EXPECT_EQ(q.byte(s), VIRTIO_BLK_S_IOERR);
}

TEST_F(BlkRequestTest, ReadScatteredThroughAnIndirectTable) {
    const uint64_t h = header(VIRTIO_BLK_T_IN, 0), s = status_byte();
    const uint64_t a = q.alloc(512), b = q.alloc(1024), c = q.alloc(2560);
    const BlkParseResult r = parse_indirect(
        {{h, 16, false}, {a, 512, true}, {b, 1024, true}, {c, 2560, true}, {s, 1, true}});
    ASSERT_TRUE(r.execute) << r.answer.reason;
    EXPECT_EQ(request.data_len(), 4096u);
    ASSERT_EQ(request.iovecs().size(), 3u);
    EXPECT_EQ(request.iovecs()[1].iov_base, host(b));
    EXPECT_EQ(request.iovecs()[2].iov_len, 2560u);
    EXPECT_EQ(request.guest_addresses()[2].value, c);
}

TEST_F(BlkRequestTest, Write) {
    const uint64_t h = header(VIRTIO_BLK_T_OUT, kCapacity - 8), d = q.alloc(4096),
                   s = status_byte();
    const BlkParseResult r = parse({{h, 16, false}, {d, 4096, false}, {s, 1, true}});
    ASSERT_TRUE(r.execute) << r.answer.reason;
    EXPECT_EQ(request.type(), BlkRequestType::write);
    EXPECT_EQ(request.sector(), kCapacity - 8);  // the last 8 sectors: exactly fits
    ASSERT_EQ(request.iovecs().size(), 1u);
    EXPECT_EQ(request.iovecs()[0].iov_base, host(d));
    EXPECT_EQ(request.complete(VIRTIO_BLK_S_OK), 1u);
}

TEST_F(BlkRequestTest, HeaderMaySpanDescriptors) {
    const uint64_t h = header(VIRTIO_BLK_T_IN, 3), d = q.alloc(512), s = status_byte();
    const BlkParseResult r =
        parse({{h, 5, false}, {h + 5, 11, false}, {d, 512, true}, {s, 1, true}});
    ASSERT_TRUE(r.execute) << r.answer.reason;
    EXPECT_EQ(request.sector(), 3u);
}

TEST_F(BlkRequestTest, HeaderAndDataMayShareADescriptor) {
    const uint64_t buf = q.alloc(16 + 1024);
    q.write_obj(buf, VirtioBlkReqHeader{VIRTIO_BLK_T_OUT, 0, 2});
    const uint64_t s = status_byte();
    const BlkParseResult r = parse({{buf, 16 + 1024, false}, {s, 1, true}});
    ASSERT_TRUE(r.execute) << r.answer.reason;
    ASSERT_EQ(request.iovecs().size(), 1u);
    EXPECT_EQ(request.iovecs()[0].iov_base, host(buf + 16));
    EXPECT_EQ(request.iovecs()[0].iov_len, 1024u);
    EXPECT_EQ(request.guest_addresses()[0].value, buf + 16);
}

TEST_F(BlkRequestTest, DataAndStatusMayShareADescriptor) {
    const uint64_t h = header(VIRTIO_BLK_T_IN, 0), buf = q.alloc(513);
    const BlkParseResult r = parse({{h, 16, false}, {buf, 513, true}});
    ASSERT_TRUE(r.execute) << r.answer.reason;
    EXPECT_EQ(request.data_len(), 512u);
    EXPECT_EQ(request.iovecs()[0].iov_len, 512u);
    EXPECT_EQ(request.status_address().value, buf + 512);
    EXPECT_EQ(request.complete(VIRTIO_BLK_S_OK), 513u);
}

TEST_F(BlkRequestTest, Flush) {
    const uint64_t h = header(VIRTIO_BLK_T_FLUSH), s = status_byte();
    const BlkParseResult r = parse({{h, 16, false}, {s, 1, true}});
    ASSERT_TRUE(r.execute);
    EXPECT_EQ(request.type(), BlkRequestType::flush);
    EXPECT_EQ(request.complete(VIRTIO_BLK_S_OK), 1u);
    EXPECT_EQ(q.byte(s), VIRTIO_BLK_S_OK);
}

TEST_F(BlkRequestTest, GetId) {
    const uint64_t h = header(VIRTIO_BLK_T_GET_ID), id = q.alloc(20), s = status_byte();
    const BlkParseResult r = parse({{h, 16, false}, {id, 20, true}, {s, 1, true}});
    ASSERT_TRUE(r.execute) << r.answer.reason;
    EXPECT_EQ(request.type(), BlkRequestType::get_id);
    std::array<uint8_t, VIRTIO_BLK_ID_BYTES> serial{};
    std::memcpy(serial.data(), "serial-0123456789abc", 20);
    EXPECT_EQ(request.complete_get_id(serial), 21u);
    EXPECT_EQ(std::memcmp(host(id), "serial-0123456789abc", 20), 0);
    EXPECT_EQ(q.byte(s), VIRTIO_BLK_S_OK);
}

TEST_F(BlkRequestTest, GetIdIntoASmallOrLargeBuffer) {
    const uint64_t h = header(VIRTIO_BLK_T_GET_ID), small = q.alloc(8), s = status_byte();
    ASSERT_TRUE(parse({{h, 16, false}, {small, 8, true}, {s, 1, true}}).execute);
    std::array<uint8_t, VIRTIO_BLK_ID_BYTES> serial{};
    serial.fill('x');
    EXPECT_EQ(request.complete_get_id(serial), 9u);
    EXPECT_EQ(q.byte(small + 7), 'x');
    EXPECT_EQ(q.byte(small + 8), 0);  // the allocator's next byte: untouched

    const uint64_t big = q.alloc(512), s2 = status_byte();
    ASSERT_TRUE(parse({{h, 16, false}, {big, 512, true}, {s2, 1, true}}).execute);
    EXPECT_EQ(request.complete_get_id(serial), 21u);
    EXPECT_EQ(q.byte(big + 19), 'x');
    EXPECT_EQ(q.byte(big + 20), 0);
}

TEST_F(BlkRequestTest, GetIdWithoutABufferIsAnError) {
    const uint64_t h = header(VIRTIO_BLK_T_GET_ID), s = status_byte();
    expect_answer(parse({{h, 16, false}, {s, 1, true}}), VIRTIO_BLK_S_IOERR, s);
}

TEST_F(BlkRequestTest, Discard) {
    const uint64_t h = header(VIRTIO_BLK_T_DISCARD), s = status_byte();
    const uint64_t r = ranges({{0, 8, 0}, {kCapacity - 256, 256, 0}});
    const BlkParseResult p = parse({{h, 16, false}, {r, 32, false}, {s, 1, true}});
    ASSERT_TRUE(p.execute) << p.answer.reason;
    EXPECT_EQ(request.type(), BlkRequestType::discard);
    ASSERT_EQ(request.ranges().size(), 2u);
    EXPECT_EQ(request.ranges()[1].sector, kCapacity - 256);
    EXPECT_EQ(request.ranges()[1].num_sectors, 256u);
    EXPECT_FALSE(request.ranges()[1].unmap);
    EXPECT_EQ(request.complete(VIRTIO_BLK_S_OK), 1u);
}

TEST_F(BlkRequestTest, WriteZeroesWithUnmap) {
    const uint64_t h = header(VIRTIO_BLK_T_WRITE_ZEROES), s = status_byte();
    const uint64_t r = ranges({{16, 16, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP}});
    const BlkParseResult p = parse({{h, 16, false}, {r, 16, false}, {s, 1, true}});
    ASSERT_TRUE(p.execute) << p.answer.reason;
    EXPECT_EQ(request.type(), BlkRequestType::write_zeroes);
    ASSERT_EQ(request.ranges().size(), 1u);
    EXPECT_TRUE(request.ranges()[0].unmap);
}

TEST_F(BlkRequestTest, RangesMaySpanDescriptors) {
    const uint64_t h = header(VIRTIO_BLK_T_DISCARD), s = status_byte();
    const uint64_t r = ranges({{1, 2, 0}, {3, 4, 0}});
    const BlkParseResult p =
        parse({{h, 16, false}, {r, 20, false}, {r + 20, 12, false}, {s, 1, true}});
    ASSERT_TRUE(p.execute) << p.answer.reason;
    ASSERT_EQ(request.ranges().size(), 2u);
    EXPECT_EQ(request.ranges()[1].sector, 3u);
    EXPECT_EQ(request.ranges()[1].num_sectors, 4u);
}

TEST_F(BlkRequestTest, DiscardWithUnmapOrUnknownFlagsIsUnsupported) {
    const uint64_t h = header(VIRTIO_BLK_T_DISCARD), s = status_byte();
    expect_answer(parse({{h, 16, false},
                         {ranges({{0, 8, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP}}), 16, false},
                         {s, 1, true}}),
                  VIRTIO_BLK_S_UNSUPP, s);
    const uint64_t hz = header(VIRTIO_BLK_T_WRITE_ZEROES), s2 = status_byte();
    expect_answer(parse({{hz, 16, false}, {ranges({{0, 8, 2}}), 16, false}, {s2, 1, true}}),
                  VIRTIO_BLK_S_UNSUPP, s2);
}

TEST_F(BlkRequestTest, DiscardNotOfferedIsUnsupported) {
    geometry.discard = false;
    const uint64_t h = header(VIRTIO_BLK_T_DISCARD), s = status_byte();
    expect_answer(parse({{h, 16, false}, {ranges({{0, 8, 0}}), 16, false}, {s, 1, true}}),
                  VIRTIO_BLK_S_UNSUPP, s);
}

TEST_F(BlkRequestTest, DiscardRangeChecks) {
    const uint64_t h = header(VIRTIO_BLK_T_DISCARD);
    auto run = [&](uint64_t r, uint32_t len) {
        const uint64_t s = status_byte();
        expect_answer(parse({{h, 16, false}, {r, len, false}, {s, 1, true}}), VIRTIO_BLK_S_IOERR,
                      s);
    };
    run(ranges({{kCapacity - 8, 16, 0}}), 16);                            // beyond the end
    run(ranges({{std::numeric_limits<uint64_t>::max() - 1, 8, 0}}), 16);  // sector + n overflows
    run(ranges({{0, 257, 0}}), 16);  // over max_discard_sectors
    run(ranges({{0, 1, 0}, {1, 1, 0}, {2, 1, 0}, {3, 1, 0}, {4, 1, 0}}),
        80);                       // over max_discard_seg
    run(ranges({{0, 8, 0}}), 15);  // not whole ranges
    const uint64_t s = status_byte();
    expect_answer(parse({{h, 16, false}, {s, 1, true}}), VIRTIO_BLK_S_IOERR, s);  // no ranges
}

TEST_F(BlkRequestTest, UnknownTypesAreUnsupported) {
    for (uint32_t type :
         {VIRTIO_BLK_T_GET_LIFETIME, VIRTIO_BLK_T_SECURE_ERASE, 2u, 99u, 0xFFFF'FFFFu}) {
        const uint64_t h = header(type), d = q.alloc(512), s = status_byte();
        expect_answer(parse({{h, 16, false}, {d, 512, true}, {s, 1, true}}), VIRTIO_BLK_S_UNSUPP,
                      s);
    }
}

TEST_F(BlkRequestTest, WritableHeaderIsAnError) {
    const uint64_t h = header(VIRTIO_BLK_T_IN), d = q.alloc(512), s = status_byte();
    expect_answer(parse({{h, 16, true}, {d, 512, true}, {s, 1, true}}), VIRTIO_BLK_S_IOERR, s);
}

TEST_F(BlkRequestTest, ShortHeaderIsAnError) {
    const uint64_t h = header(VIRTIO_BLK_T_FLUSH), s = status_byte();
    expect_answer(parse({{h, 15, false}, {s, 1, true}}), VIRTIO_BLK_S_IOERR, s);
}

TEST_F(BlkRequestTest, HeaderOutsideRamIsAnError) {
    const uint64_t s = status_byte();
    expect_answer(parse({{q.ram().size() - 8, 16, false}, {s, 1, true}}), VIRTIO_BLK_S_IOERR, s);
}

TEST_F(BlkRequestTest, ReadableStatusIsUnanswerable) {
    const uint64_t h = header(VIRTIO_BLK_T_IN), d = q.alloc(512), s = status_byte();
    // A readable descriptor after writable ones breaks the chain rules already; a chain of only
    // readable buffers has no writable status byte.
    expect_unanswerable(parse({{h, 16, false}, {d, 512, true}, {s, 1, false}}));
    expect_unanswerable(parse({{h, 16, false}, {d, 512, false}, {s, 1, false}}));
    EXPECT_EQ(q.byte(s), 0xEE);
}

TEST_F(BlkRequestTest, MissingStatusIsUnanswerable) {
    const uint64_t h = header(VIRTIO_BLK_T_FLUSH);
    expect_unanswerable(parse({{h, 16, false}}));
}

TEST_F(BlkRequestTest, ZeroLengthStatusDescriptorIsUnanswerable) {
    const uint64_t h = header(VIRTIO_BLK_T_IN), d = q.alloc(512), s = status_byte();
    expect_unanswerable(parse({{h, 16, false}, {d, 512, true}, {s, 0, true}}));
    EXPECT_EQ(q.byte(s), 0xEE);
}

TEST_F(BlkRequestTest, StatusOutsideRamIsUnanswerable) {
    const uint64_t h = header(VIRTIO_BLK_T_FLUSH);
    expect_unanswerable(parse({{h, 16, false}, {q.ram().size(), 1, true}}));
}

TEST_F(BlkRequestTest, MalformedChainIsUnanswerable) {
    const uint64_t h = header(VIRTIO_BLK_T_FLUSH), s = status_byte();
    q.set_desc(0, h, 16, VIRTQ_DESC_F_NEXT, 1);
    q.set_desc(1, s, 1, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 0);  // loops back
    expect_unanswerable(parse_head(0));
    EXPECT_EQ(q.byte(s), 0xEE);
}

TEST_F(BlkRequestTest, TooManySegmentsIsAnError) {
    const uint64_t h = header(VIRTIO_BLK_T_IN), d = q.alloc(512), s = status_byte();
    std::vector<Buffer> buffers{{h, 16, false}};
    for (uint32_t i = 0; i < kMaxChainSegments; ++i) buffers.push_back({d, 512, true});
    buffers.push_back({s, 1, true});
    expect_answer(parse_indirect(buffers), VIRTIO_BLK_S_IOERR, s);
}

TEST_F(BlkRequestTest, MaximumSegmentsIsFine) {
    const uint64_t h = header(VIRTIO_BLK_T_IN), d = q.alloc(512), s = status_byte();
    std::vector<Buffer> buffers{{h, 16, false}};
    for (uint32_t i = 0; i < kMaxDataSegments; ++i) buffers.push_back({d, 512, true});
    buffers.push_back({s, 1, true});
    const BlkParseResult r = parse_indirect(buffers);
    ASSERT_TRUE(r.execute) << r.answer.reason;
    EXPECT_EQ(request.iovecs().size(), kMaxDataSegments);
    EXPECT_EQ(request.data_len(), kMaxDataSegments * 512);
}

TEST_F(BlkRequestTest, DataInTheWrongDirectionIsAnError) {
    const uint64_t d = q.alloc(512);
    const uint64_t hr = header(VIRTIO_BLK_T_IN), s1 = status_byte();
    expect_answer(parse({{hr, 16, false}, {d, 512, false}, {s1, 1, true}}), VIRTIO_BLK_S_IOERR, s1);
    const uint64_t hw = header(VIRTIO_BLK_T_OUT), s2 = status_byte();
    expect_answer(parse({{hw, 16, false}, {d, 512, true}, {s2, 1, true}}), VIRTIO_BLK_S_IOERR, s2);
}

TEST_F(BlkRequestTest, SectorBeyondTheEndIsAnError) {
    const uint64_t d = q.alloc(1024);
    for (auto [sector, len] : {std::pair<uint64_t, uint32_t>{kCapacity, 512},
                               {kCapacity - 1, 1024},
                               {kCapacity + 1, 0}}) {
        const uint64_t h = header(VIRTIO_BLK_T_IN, sector), s = status_byte();
        expect_answer(parse({{h, 16, false}, {d, len, true}, {s, 1, true}}), VIRTIO_BLK_S_IOERR, s);
    }
    const uint64_t h = header(VIRTIO_BLK_T_IN, kCapacity - 1), s = status_byte();
    EXPECT_TRUE(parse({{h, 16, false}, {d, 512, true}, {s, 1, true}}).execute);
}

TEST_F(BlkRequestTest, HugeSectorsDoNotOverflow) {
    const uint64_t d = q.alloc(512);
    for (uint64_t sector :
         {uint64_t{1} << 63, uint64_t{1} << 55, std::numeric_limits<uint64_t>::max()}) {
        const uint64_t h = header(VIRTIO_BLK_T_OUT, sector), s = status_byte();
        expect_answer(parse({{h, 16, false}, {d, 512, false}, {s, 1, true}}), VIRTIO_BLK_S_IOERR,
                      s);
    }
}

TEST_F(BlkRequestTest, DataLengthMustBeWholeSectors) {
    const uint64_t h = header(VIRTIO_BLK_T_IN), d = q.alloc(1024), s = status_byte();
    expect_answer(parse({{h, 16, false}, {d, 100, true}, {s, 1, true}}), VIRTIO_BLK_S_IOERR, s);
    const uint64_t s2 = status_byte();
    expect_answer(parse({{h, 16, false}, {d, 512, true}, {d, 1, true}, {s2, 1, true}}),
                  VIRTIO_BLK_S_IOERR, s2);
}

TEST_F(BlkRequestTest, EmptyTransferIsAnsweredAtOnce) {
    const uint64_t h = header(VIRTIO_BLK_T_IN, 5), s = status_byte();
    expect_answer(parse({{h, 16, false}, {s, 1, true}}), VIRTIO_BLK_S_OK, s);
}

TEST_F(BlkRequestTest, ReadOnlyDiskRefusesChanges) {
    geometry.read_only = true;
    const uint64_t d = q.alloc(512);
    const uint64_t hw = header(VIRTIO_BLK_T_OUT), s1 = status_byte();
    expect_answer(parse({{hw, 16, false}, {d, 512, false}, {s1, 1, true}}), VIRTIO_BLK_S_IOERR, s1);
    for (uint32_t type : {VIRTIO_BLK_T_DISCARD, VIRTIO_BLK_T_WRITE_ZEROES}) {
        const uint64_t h = header(type), s = status_byte();
        expect_answer(parse({{h, 16, false}, {ranges({{0, 1, 0}}), 16, false}, {s, 1, true}}),
                      VIRTIO_BLK_S_IOERR, s);
    }
    const uint64_t hr = header(VIRTIO_BLK_T_IN), s2 = status_byte();
    EXPECT_TRUE(parse({{hr, 16, false}, {d, 512, true}, {s2, 1, true}}).execute);
    const uint64_t hf = header(VIRTIO_BLK_T_FLUSH), s3 = status_byte();
    EXPECT_TRUE(parse({{hf, 16, false}, {s3, 1, true}}).execute);
}

TEST_F(BlkRequestTest, DataOutsideRamIsAnError) {
    const uint64_t h = header(VIRTIO_BLK_T_IN), s = status_byte();
    const uint64_t ram = q.ram().size();
    expect_answer(parse({{h, 16, false}, {ram - 512, 1024, true}, {s, 1, true}}),
                  VIRTIO_BLK_S_IOERR, s);
    const uint64_t s2 = status_byte();
    expect_answer(parse({{h, 16, false}, {1ull << 40, 512, true}, {s2, 1, true}}),
                  VIRTIO_BLK_S_IOERR, s2);
}

TEST_F(BlkRequestTest, ParsingResetsAReusedRequest) {
    const uint64_t h = header(VIRTIO_BLK_T_IN), d = q.alloc(512), s = status_byte();
    ASSERT_TRUE(parse({{h, 16, false}, {d, 512, true}, {s, 1, true}}).execute);
    const uint64_t hf = header(VIRTIO_BLK_T_FLUSH), s2 = status_byte();
    ASSERT_TRUE(parse({{hf, 16, false}, {s2, 1, true}}).execute);
    EXPECT_EQ(request.type(), BlkRequestType::flush);
    EXPECT_TRUE(request.iovecs().empty());
    EXPECT_EQ(request.data_len(), 0u);
}

// A drive that presents 512-byte sectors on a backing of 4 KiB blocks (logical_block_size =
// 512): what is aligned to 8 sectors goes to the engine, up to the last block; the rest is
// refused with IOERR (and flagged for a warning), never rounded.
TEST_F(BlkRequestTest, PresentedSectorsMustBeAlignedToTheBackingsBlock) {
    geometry.alignment_sectors = 8;
    const uint64_t d = q.alloc(8192);
    for (const uint32_t type : {VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT}) {
        const bool out = type == VIRTIO_BLK_T_OUT;
        const uint64_t h = header(type, 8), s = status_byte();
        ASSERT_TRUE(parse({{h, 16, false}, {d, 4096, !out}, {s, 1, true}}).execute);
        EXPECT_EQ(request.sector(), 8u);
        // The last 4 KiB block of the disk.
        const uint64_t hl = header(type, kCapacity - 8);
        ASSERT_TRUE(parse({{hl, 16, false}, {d, 4096, !out}, {s, 1, true}}).execute);
        EXPECT_EQ(request.offset(), (kCapacity - 8) * 512);

        const uint64_t h1 = header(type, 9), s1 = status_byte();
        const BlkParseResult odd = parse({{h1, 16, false}, {d, 4096, !out}, {s1, 1, true}});
        expect_answer(odd, VIRTIO_BLK_S_IOERR, s1);
        EXPECT_TRUE(odd.answer.warn);
        EXPECT_EQ(odd.answer.sector, 9u);
        EXPECT_EQ(odd.answer.sectors, 8u);
        const uint64_t h2 = header(type, 8), s2 = status_byte();
        expect_answer(parse({{h2, 16, false}, {d, 512, !out}, {s2, 1, true}}), VIRTIO_BLK_S_IOERR,
                      s2);
        const uint64_t h3 = header(type, 0), s3 = status_byte();
        expect_answer(parse({{h3, 16, false}, {d, 4096 + 512, !out}, {s3, 1, true}}),
                      VIRTIO_BLK_S_IOERR, s3);
        // Beyond capacity stays "beyond capacity" (not a warning about alignment).
        const uint64_t h4 = header(type, kCapacity), s4 = status_byte();
        const BlkParseResult past = parse({{h4, 16, false}, {d, 4096, !out}, {s4, 1, true}});
        expect_answer(past, VIRTIO_BLK_S_IOERR, s4);
        EXPECT_FALSE(past.answer.warn);
    }
}

TEST_F(BlkRequestTest, PresentedSectorsRangesMustBeAlignedToTheBackingsBlock) {
    geometry.alignment_sectors = 8;
    const uint64_t h = header(VIRTIO_BLK_T_DISCARD), s = status_byte();
    ASSERT_TRUE(parse({{h, 16, false},
                       {ranges({{0, 8, 0}, {kCapacity - 16, 16, 0}}), 32, false},
                       {s, 1, true}})
                    .execute);
    for (const VirtioBlkDiscardWriteZeroes bad :
         {VirtioBlkDiscardWriteZeroes{4, 8, 0}, VirtioBlkDiscardWriteZeroes{8, 12, 0}}) {
        const uint64_t hb = header(VIRTIO_BLK_T_WRITE_ZEROES), sb = status_byte();
        const BlkParseResult r =
            parse({{hb, 16, false}, {ranges({{0, 8, 0}, bad}), 32, false}, {sb, 1, true}});
        expect_answer(r, VIRTIO_BLK_S_IOERR, sb);
        EXPECT_TRUE(r.answer.warn);
    }
}

TEST_F(BlkRequestTest, WithoutAnAlignmentEverySectorIsFine) {
    geometry.alignment_sectors = 1;
    const uint64_t h = header(VIRTIO_BLK_T_IN, 3), d = q.alloc(512), s = status_byte();
    EXPECT_TRUE(parse({{h, 16, false}, {d, 512, true}, {s, 1, true}}).execute);
}

TEST(BlkStatus, EngineResultsBecomeStatusBytes) {
    EXPECT_EQ(blk_status_for_result(0), VIRTIO_BLK_S_OK);
    EXPECT_EQ(blk_status_for_result(4096), VIRTIO_BLK_S_OK);
    EXPECT_EQ(blk_status_for_result(-EOPNOTSUPP), VIRTIO_BLK_S_UNSUPP);
    EXPECT_EQ(blk_status_for_result(-EIO), VIRTIO_BLK_S_IOERR);
    EXPECT_EQ(blk_status_for_result(-ENOSPC), VIRTIO_BLK_S_IOERR);
    EXPECT_EQ(blk_status_for_result(-EINVAL), VIRTIO_BLK_S_IOERR);
}

}  // namespace
}  // namespace nvmevm
