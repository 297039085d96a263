#include "tests/fuzz/blk_queue_harness.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <random>
#include <vector>

#include "virtio/test_virtqueue.h"

namespace nvmevm {
namespace {

using testing::TestVirtqueue;

TEST(BlkQueueRun, ServesWellFormedRequests) {
    TestVirtqueue q(16, /*event_idx=*/true);
    BlkGeometry geometry;
    geometry.capacity_sectors = 1024;
    for (uint32_t type : {VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT, VIRTIO_BLK_T_FLUSH, 77u}) {
        const uint64_t h = q.alloc(16), d = q.alloc(4096), s = q.alloc(1);
        q.write_obj(h, VirtioBlkReqHeader{type, 0, 0});
        const bool in = type == VIRTIO_BLK_T_IN;
        q.add_chain({{h, 16, false}, {d, 4096, !in ? false : true}, {s, 1, true}});
    }
    const uint64_t s = q.alloc(1);
    q.set_desc(15, s, 1, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 15);  // a loop
    q.make_available(15);

    const BlkQueueRunStats stats = run_blk_queue(q.ram(), q.config(), geometry);
    EXPECT_TRUE(stats.enabled);
    EXPECT_FALSE(stats.broken);
    EXPECT_EQ(stats.popped, 5u);
    EXPECT_EQ(stats.returned, 5u);
    EXPECT_EQ(stats.executed, 3u);  // IN, OUT, FLUSH (its stray data is ignored)
    EXPECT_EQ(stats.answered + stats.executed + stats.unanswerable, 5u);
    EXPECT_EQ(stats.unanswerable, 1u);
    EXPECT_EQ(stats.interrupts, 1u);  // used_event 0: after the first buffer
    EXPECT_EQ(q.used_idx(), 5);
    EXPECT_EQ(q.used_elem(0).len, 4097u);
    EXPECT_EQ(q.used_elem(4).len, 0u);
}

// Fills `ram` with a queue that is half structure, half noise: ring addresses mostly aligned and
// inside RAM, descriptors pointing mostly into RAM with lengths around the interesting sizes,
// headers with plausible types. Pure noise rarely gets past the first check; this reaches the
// parser's deeper branches.
struct Scenario {
    SplitQueueConfig config;
    BlkGeometry geometry;
};

Scenario make_scenario(std::mt19937_64& rng, std::vector<uint8_t>& ram) {
    auto pick = [&rng](uint64_t n) { return n == 0 ? 0 : rng() % n; };
    for (size_t i = 0; i + 8 <= ram.size(); i += 8) {
        const uint64_t v = rng();
        std::memcpy(ram.data() + i, &v, 8);
    }
    const uint64_t ram_size = ram.size();
    Scenario s;
    static constexpr uint16_t kSizes[] = {1, 2, 4, 8, 16, 32, 3, 0, 64};
    s.config.size = pick(8) == 0 ? static_cast<uint16_t>(rng()) : kSizes[pick(std::size(kSizes))];
    auto place = [&](uint64_t align) {
        return pick(16) == 0 ? GuestAddress{rng()} : GuestAddress{pick(ram_size) / align * align};
    };
    s.config.desc_table = place(16);
    s.config.avail_ring = place(2);
    s.config.used_ring = place(4);
    s.config.event_idx = pick(2) == 0;
    s.config.indirect_desc = pick(4) != 0;

    s.geometry.capacity_sectors = pick(4) == 0 ? rng() >> 9 : pick(4096);
    s.geometry.read_only = pick(4) == 0;
    s.geometry.discard = pick(2) == 0;
    s.geometry.write_zeroes = pick(2) == 0;
    s.geometry.max_discard_sectors = static_cast<uint32_t>(pick(1024));
    s.geometry.max_discard_seg = static_cast<uint32_t>(pick(40));
    s.geometry.max_write_zeroes_sectors = static_cast<uint32_t>(pick(1024));
    s.geometry.max_write_zeroes_seg = static_cast<uint32_t>(pick(40));

    const uint16_t size = s.config.size;
    if (size == 0 || size > 64 || pick(8) == 0) return s;  // leave it to the noise
    auto put16 = [&](uint64_t addr, uint16_t v) {
        if (addr + 2 <= ram_size) std::memcpy(ram.data() + addr, &v, 2);
    };
    static constexpr uint32_t kLens[] = {0, 1, 15, 16, 17, 20, 32, 48, 512, 513, 1024, 4096};
    static constexpr uint32_t kTypes[] = {0, 1, 4, 8, 11, 13, 10, 14, 2};
    auto random_desc = [&](uint32_t entries) {
        VirtqDesc d;
        d.addr = pick(16) == 0 ? rng() : pick(ram_size);
        d.len = pick(8) == 0 ? static_cast<uint32_t>(rng()) : kLens[pick(std::size(kLens))];
        d.flags = static_cast<uint16_t>(pick(8) == 0 ? rng() : pick(8));
        d.next = static_cast<uint16_t>(pick(16) == 0 ? rng() : pick(entries));
        // A plausible request header where the descriptor points.
        if (d.addr + 16 <= ram_size && pick(2) == 0) {
            const VirtioBlkReqHeader h{kTypes[pick(std::size(kTypes))], 0,
                                       pick(4) == 0 ? rng() : pick(2048)};
            std::memcpy(ram.data() + d.addr, &h, 16);
        }
        return d;
    };
    const bool well_formed = size >= 3 && pick(2) == 0;
    for (uint16_t i = 0; i < size; ++i) {
        VirtqDesc d = random_desc(size);
        // Sometimes an indirect table of fresh descriptors.
        if (pick(6) == 0) {
            const uint32_t entries = 1 + static_cast<uint32_t>(pick(8));
            const uint64_t table = pick(ram_size);
            if (table + 16ull * entries <= ram_size) {
                for (uint32_t e = 0; e < entries; ++e) {
                    const VirtqDesc t = random_desc(entries);
                    std::memcpy(ram.data() + table + 16 * e, &t, 16);
                }
                d = VirtqDesc{table, 16 * entries, VIRTQ_DESC_F_INDIRECT, 0};
            }
        }
        const uint64_t at = s.config.desc_table.value + 16ull * i;
        if (at + 16 <= ram_size) std::memcpy(ram.data() + at, &d, 16);
    }
    if (well_formed) {
        // Proper header / data / status chains at heads 0, 3, 6, ..., then a few bytes of the
        // descriptor table flipped.
        for (uint16_t head = 0; head + 2 < size; head = static_cast<uint16_t>(head + 3)) {
            const uint32_t type = kTypes[pick(std::size(kTypes))];
            const bool discard = type == 11 || type == 13;
            const uint32_t len = discard ? 16 * static_cast<uint32_t>(1 + pick(3))
                                         : 512 * static_cast<uint32_t>(pick(4));
            const uint64_t hdr = pick(ram_size - 16), data = pick(ram_size - len),
                           status = pick(ram_size - 1);
            const VirtioBlkReqHeader h{type, 0, pick(s.geometry.capacity_sectors + 8)};
            std::memcpy(ram.data() + hdr, &h, 16);
            for (uint32_t r = 0; discard && r < len / 16; ++r) {
                const VirtioBlkDiscardWriteZeroes range{pick(s.geometry.capacity_sectors + 8),
                                                        static_cast<uint32_t>(pick(64)),
                                                        static_cast<uint32_t>(pick(8) == 0)};
                std::memcpy(ram.data() + data + 16 * r, &range, 16);
            }
            const uint16_t dir = (type == 0 || type == 8) ? VIRTQ_DESC_F_WRITE : 0;
            const VirtqDesc chain[3] = {
                {hdr, 16, VIRTQ_DESC_F_NEXT, static_cast<uint16_t>(head + 1)},
                {data, len, static_cast<uint16_t>(dir | VIRTQ_DESC_F_NEXT),
                 static_cast<uint16_t>(head + 2)},
                {status, 1, VIRTQ_DESC_F_WRITE, 0},
            };
            const uint64_t at = s.config.desc_table.value + 16ull * head;
            if (at + 48 <= ram_size) std::memcpy(ram.data() + at, chain, 48);
        }
        for (uint64_t flips = pick(4); flips > 0; --flips) {
            const uint64_t at = s.config.desc_table.value + pick(16ull * size);
            if (at < ram_size) ram[at] = static_cast<uint8_t>(rng());
        }
    }
    const uint64_t avail = s.config.avail_ring.value;
    put16(avail + kAvailFlagsOffset, static_cast<uint16_t>(pick(2)));
    put16(avail + kAvailIdxOffset, static_cast<uint16_t>(well_formed ? size / 3 : pick(size + 3u)));
    for (uint16_t i = 0; i < size; ++i) {
        const uint16_t head = well_formed ? static_cast<uint16_t>(3 * i)
                                          : static_cast<uint16_t>(pick(size + (pick(8) == 0)));
        put16(avail + kAvailRingOffset + 2ull * i, head);
    }
    put16(avail + used_event_offset(size), static_cast<uint16_t>(pick(size)));
    put16(s.config.used_ring.value + kUsedIdxOffset, 0);
    return s;
}

TEST(BlkQueueFuzz, RandomGuestMemoryNeverCrashes) {
    std::mt19937_64 rng(0x6e766d65766d);  // fixed seed: a failure reproduces
    std::vector<uint8_t> ram(8192);
    uint64_t popped = 0, executed = 0, answered = 0, unanswerable = 0, broken = 0;
    for (int iteration = 0; iteration < 100000; ++iteration) {
        const Scenario s = make_scenario(rng, ram);
        const BlkQueueRunStats stats = run_blk_queue(ram, s.config, s.geometry);
        // Every popped chain is answered unless the ring itself turned out corrupt.
        if (!stats.broken) {
            ASSERT_EQ(stats.returned, stats.popped) << "iteration " << iteration;
        }
        ASSERT_EQ(stats.executed + stats.answered + stats.unanswerable, stats.popped);
        popped += stats.popped;
        executed += stats.executed;
        answered += stats.answered;
        unanswerable += stats.unanswerable;
        broken += stats.broken;
    }
    // The generator must reach every outcome, or it is not testing much.
    EXPECT_GT(executed, 1000u);
    EXPECT_GT(answered, 1000u);
    EXPECT_GT(unanswerable, 1000u);
    EXPECT_GT(broken, 100u);
    RecordProperty("popped", std::to_string(popped));
    std::printf("popped %lu executed %lu answered %lu unanswerable %lu broken %lu\n",
                static_cast<unsigned long>(popped), static_cast<unsigned long>(executed),
                static_cast<unsigned long>(answered), static_cast<unsigned long>(unanswerable),
                static_cast<unsigned long>(broken));
}

TEST(BlkQueueFuzz, RandomByteStringsNeverCrash) {
    std::mt19937_64 rng(42);
    std::vector<uint8_t> data;
    for (int iteration = 0; iteration < 20000; ++iteration) {
        data.resize(rng() % 4096);
        for (uint8_t& b : data) b = static_cast<uint8_t>(rng());
        // Small, valid-looking rings now and then: size 8 at 0, 64, 128.
        if (data.size() > 32 && rng() % 2 == 0) {
            const uint8_t header[9] = {8,   0, static_cast<uint8_t>(rng() & 0x1f), 0, 0, 64, 0,
                                       128, 0};
            std::memcpy(data.data(), header, sizeof(header));
        }
        const BlkQueueRunStats stats = run_blk_queue_from_bytes(data);
        if (!stats.broken) {
            ASSERT_EQ(stats.returned, stats.popped);
        }
    }
}

}  // namespace
}  // namespace nvmevm
