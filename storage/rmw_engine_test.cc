#include "storage/rmw_engine.h"

#include <gtest/gtest.h>
#include <sys/uio.h>

#include <atomic>
#include <barrier>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "foundation/mapping.h"
#include "storage/block_range_locks.h"
#include "storage/bounce_pool.h"
#include "storage/file_backing.h"
#include "storage/test_files.h"

namespace nvmevm {
namespace {

using testing::Done;
using testing::options;
using testing::reap_one;
using testing::ScratchFile;

constexpr uint64_t kBlock = 4096;
constexpr uint64_t kDisk = 1 << 20;

// Byte `offset` of the disk as the scratch file starts: every byte says where it is.
uint8_t pattern(uint64_t offset) {
    return static_cast<uint8_t>((offset * 7 + offset / 4096) & 0xff);
}

// A real file (io_uring engine, O_DIRECT where /tmp allows) behind a read-modify-write engine
// that treats it as a disk of 4 KiB blocks, and "guest RAM" for the data.
struct RmwRig {
    ScratchFile file{"/tmp", kDisk};
    Mapping ram_mapping = Mapping::anonymous(4 << 20);
    IoRing ring{64};
    std::shared_ptr<BlockRangeLocks> locks;
    std::shared_ptr<const FileBacking> backing;
    std::unique_ptr<ReadModifyWriteEngine> engine;

    explicit RmwRig(ReadModifyWriteEngine::Options o = {},
                    std::shared_ptr<BlockRangeLocks> shared = nullptr)
        : locks(shared ? std::move(shared) : std::make_shared<BlockRangeLocks>()) {
        std::vector<uint8_t> bytes(kDisk);
        for (uint64_t i = 0; i < kDisk; ++i) bytes[i] = pattern(i);
        UniqueFd fd(::open(file.path().c_str(), O_WRONLY | O_CLOEXEC));
        EXPECT_EQ(::pwrite(fd.get(), bytes.data(), bytes.size(), 0), static_cast<ssize_t>(kDisk));
        backing = FileBacking::open(options(file.path()));
        engine = std::make_unique<ReadModifyWriteEngine>(backing->make_engine(ring), ring, ring,
                                                         locks, o);
    }
    uint8_t* ram(uint64_t offset) { return static_cast<uint8_t*>(ram_mapping.get()) + offset; }

    int32_t run(const BlockIo& io) {
        Done done;
        engine->submit(io, &done);
        EXPECT_GE(ring.submit(), 0);
        EXPECT_TRUE(reap_one(ring, done));
        return done.result;
    }
    // The disk's bytes [offset, offset + n) as the file holds them.
    std::vector<uint8_t> disk(uint64_t offset, size_t n) const { return file.read(offset, n); }
};

std::vector<uint8_t> expected_pattern(uint64_t offset, size_t n) {
    std::vector<uint8_t> out(n);
    for (size_t i = 0; i < n; ++i) out[i] = pattern(offset + i);
    return out;
}

TEST(BlockRangeLocks, OverlapsWaitNeighboursDoNot) {
    BlockRangeLocks locks;
    const auto a = locks.try_lock(4, 6, true);
    ASSERT_TRUE(a);
    EXPECT_FALSE(locks.try_lock(5, 6, false));
    EXPECT_FALSE(locks.try_lock(0, 5, false));
    const auto b = locks.try_lock(6, 8, false);  // adjacent: no shared block
    ASSERT_TRUE(b);
    EXPECT_EQ(locks.held(), 2u);
    locks.unlock(*a);
    EXPECT_TRUE(locks.try_lock(5, 6, false));
}

TEST(BlockRangeLocks, AFlushWaitsOnlyForPartialWritesTakenBeforeIt) {
    BlockRangeLocks locks;
    const auto whole = locks.try_lock(0, 1, false);
    const auto partial = locks.try_lock(1, 2, true);
    ASSERT_TRUE(whole && partial);
    const uint64_t barrier = locks.next_sequence();
    EXPECT_TRUE(locks.partial_held_before(barrier));
    const auto later = locks.try_lock(2, 3, true);
    ASSERT_TRUE(later);
    locks.unlock(*partial);
    // The whole-block write and the later partial one do not hold the flush back.
    EXPECT_FALSE(locks.partial_held_before(barrier));
}

TEST(BlockRangeLocks, AFullTableRefusesUntilAnEntryIsFree) {
    BlockRangeLocks locks;
    std::vector<BlockRangeLocks::Held> held;
    for (unsigned i = 0; i < BlockRangeLocks::kCapacity; ++i) {
        const auto h = locks.try_lock(i, i + 1, false);
        ASSERT_TRUE(h) << i;
        held.push_back(*h);
    }
    EXPECT_FALSE(locks.try_lock(100000, 100001, false));
    locks.unlock(held[7]);
    EXPECT_TRUE(locks.try_lock(100000, 100001, false));
    // A stale handle (its entry already reused) frees nothing.
    locks.unlock(held[7]);
    EXPECT_EQ(locks.held(), BlockRangeLocks::kCapacity);
}

TEST(BouncePool, HandsOutAlignedSlotsUpToItsBound) {
    BouncePool pool(8192, 3);
    uint8_t* a = pool.take();
    uint8_t* b = pool.take();
    uint8_t* c = pool.take();
    ASSERT_TRUE(a && b && c);
    EXPECT_EQ(pool.take(), nullptr);
    for (uint8_t* slot : {a, b, c}) EXPECT_EQ(reinterpret_cast<uintptr_t>(slot) % 4096, 0u);
    EXPECT_EQ(pool.in_use(), 3u);
    pool.give_back(b);
    EXPECT_EQ(pool.take(), b);
    EXPECT_THROW(BouncePool(1000, 1), std::invalid_argument);
    EXPECT_THROW(BouncePool(4096, 33), std::invalid_argument);
}

TEST(ReadModifyWriteEngine, AMisalignedReadReturnsExactlyItsSectors) {
    RmwRig rig;
    const uint64_t at = kBlock + 3 * 512;  // sectors 11-13: inside block 1, then into block 2
    const iovec segment{rig.ram(0), 3 * 512};
    EXPECT_EQ(rig.run(BlockIo::read(at + 512 * 2, {&segment, 1})), 3 * 512);
    EXPECT_EQ(std::memcmp(rig.ram(0), expected_pattern(at + 1024, 1536).data(), 1536), 0);
    EXPECT_EQ(rig.engine->counters().partial_reads, 1u);
}

TEST(ReadModifyWriteEngine, AMisalignedWriteKeepsTheOtherSectorsOfItsBlocks) {
    RmwRig rig;
    // Two sectors across the boundary of blocks 2 and 3 (sectors 23 and 24), in two segments.
    std::memset(rig.ram(0), 0xA1, 512);
    std::memset(rig.ram(8192), 0xB2, 512);
    const iovec segments[] = {{rig.ram(0), 512}, {rig.ram(8192), 512}};
    const uint64_t at = 23 * 512;
    EXPECT_EQ(rig.run(BlockIo::write(at, segments)), 1024);
    std::vector<uint8_t> want = expected_pattern(2 * kBlock, 2 * kBlock);
    std::memset(want.data() + (at - 2 * kBlock), 0xA1, 512);
    std::memset(want.data() + (at - 2 * kBlock) + 512, 0xB2, 512);
    EXPECT_EQ(rig.disk(2 * kBlock, 2 * kBlock), want);
    EXPECT_EQ(rig.engine->counters().partial_writes, 1u);
    EXPECT_EQ(rig.locks->held(), 0u);
}

TEST(ReadModifyWriteEngine, ALargeRequestGoesASlotAtATimeThroughOneSlot) {
    ReadModifyWriteEngine::Options o;
    o.slot_bytes = 8192;
    o.slots = 1;
    RmwRig rig(o);
    // 37 sectors from sector 5 (blocks 0 to 5, partial at both ends), in segments of 1.5 KiB and
    // 512 bytes: five chunks through one 8 KiB slot.
    const uint64_t at = 5 * 512;
    const size_t bytes = 37 * 512;
    for (size_t i = 0; i < bytes; ++i) rig.ram(0)[i] = static_cast<uint8_t>(i * 13 + 1);
    std::vector<iovec> segments;
    for (size_t done = 0; done < bytes;) {
        const size_t part = std::min<size_t>(segments.size() % 2 ? 512 : 1536, bytes - done);
        segments.push_back({rig.ram(done), part});
        done += part;
    }
    EXPECT_EQ(rig.run(BlockIo::write(at, segments)), static_cast<int32_t>(bytes));
    std::vector<uint8_t> want = expected_pattern(0, 6 * kBlock);
    std::memcpy(want.data() + at, rig.ram(0), bytes);
    EXPECT_EQ(rig.disk(0, 6 * kBlock), want);
    // And read back the same way, into other memory.
    std::vector<iovec> back;
    for (const iovec& s : segments)
        back.push_back({static_cast<uint8_t*>(s.iov_base) + (1 << 20), s.iov_len});
    EXPECT_EQ(rig.run(BlockIo::read(at, back)), static_cast<int32_t>(bytes));
    EXPECT_EQ(std::memcmp(rig.ram(1 << 20), rig.ram(0), bytes), 0);
}

TEST(ReadModifyWriteEngine, AlignedRangesWithShortSegmentsAreBouncedNotRead) {
    RmwRig rig;
    std::memset(rig.ram(0), 0x5C, 1024);
    std::memset(rig.ram(65536), 0x6D, 3072);
    const iovec segments[] = {{rig.ram(0), 1024}, {rig.ram(65536), 3072}};
    EXPECT_EQ(rig.run(BlockIo::write(4 * kBlock, segments)), 4096);
    std::vector<uint8_t> want(4096, 0x6D);
    std::memset(want.data(), 0x5C, 1024);
    EXPECT_EQ(rig.disk(4 * kBlock, kBlock), want);
    EXPECT_EQ(rig.engine->counters().bounced, 1u);
    EXPECT_EQ(rig.engine->counters().partial_writes, 0u);
}

TEST(ReadModifyWriteEngine, WriteZeroesMergesTheEndsAndZeroesTheMiddle) {
    RmwRig rig;
    // Sectors 3 to 20: the end of block 0, all of block 1, the start of block 2.
    EXPECT_EQ(rig.run(BlockIo::write_zeroes(3 * 512, 18 * 512)), 0);
    std::vector<uint8_t> want = expected_pattern(0, 3 * kBlock);
    std::memset(want.data() + 3 * 512, 0, 18 * 512);
    EXPECT_EQ(rig.disk(0, 3 * kBlock), want);
    // Inside one block.
    EXPECT_EQ(rig.run(BlockIo::write_zeroes(8 * kBlock + 512, 1024)), 0);
    want = expected_pattern(8 * kBlock, kBlock);
    std::memset(want.data() + 512, 0, 1024);
    EXPECT_EQ(rig.disk(8 * kBlock, kBlock), want);
}

TEST(ReadModifyWriteEngine, ADiscardShrinksToTheWholeBlocksInsideIt) {
    RmwRig rig;
    if (!rig.backing->supports_discard()) GTEST_SKIP() << "no discard on /tmp";
    // Sectors 1 to 20: only block 1 (sectors 8-15) is whole.
    EXPECT_EQ(rig.run(BlockIo::discard(512, 20 * 512)), 0);
    std::vector<uint8_t> want = expected_pattern(0, 3 * kBlock);
    std::memset(want.data() + kBlock, 0, kBlock);  // a punched hole reads as zeroes
    EXPECT_EQ(rig.disk(0, 3 * kBlock), want);
    // Nothing whole inside: done without touching the disk.
    EXPECT_EQ(rig.run(BlockIo::discard(8 * kBlock + 512, 1024)), 0);
    EXPECT_EQ(rig.disk(8 * kBlock, kBlock), expected_pattern(8 * kBlock, kBlock));
}

TEST(ReadModifyWriteEngine, AShortReadOfTheBackingIsAnError) {
    RmwRig rig;
    std::memset(rig.ram(0), 1, 512);
    const iovec segment{rig.ram(0), 512};
    // Beyond the file's end: the head block reads 0 bytes.
    EXPECT_EQ(rig.run(BlockIo::write(kDisk + 512, {&segment, 1})), -EIO);
    EXPECT_EQ(rig.run(BlockIo::read(kDisk + 512, {&segment, 1})), -EIO);
    EXPECT_EQ(rig.locks->held(), 0u);
}

// A write whose blocks another thread holds, and a flush behind another thread's
// read-modify-write, wait for them, and go on by the retry timer once they are given back.
TEST(ReadModifyWriteEngine, WritesAndFlushesWaitForBlocksHeldElsewhere) {
    RmwRig rig;
    const auto other = rig.locks->try_lock(1, 2, true);  // block 1, a partial write elsewhere
    ASSERT_TRUE(other);
    std::memset(rig.ram(0), 0x77, 512);
    const iovec segment{rig.ram(0), 512};
    Done write_done;
    Done flush_done;
    rig.engine->submit(BlockIo::write(kBlock + 1024, {&segment, 1}), &write_done);
    rig.engine->submit(BlockIo::flush(), &flush_done);
    EXPECT_EQ(rig.engine->waiting(), 2u);
    // Several retry periods: both still wait.
    for (int i = 0; i < 5; ++i) {
        ASSERT_GE(rig.ring.submit(), 0);
        ASSERT_EQ(rig.ring.wait(1), 0);
        rig.ring.reap();
    }
    EXPECT_EQ(write_done.calls, 0);
    EXPECT_EQ(flush_done.calls, 0);
    EXPECT_EQ(rig.disk(kBlock, kBlock), expected_pattern(kBlock, kBlock));
    rig.locks->unlock(*other);
    EXPECT_TRUE(reap_one(rig.ring, write_done));
    EXPECT_TRUE(reap_one(rig.ring, flush_done));
    EXPECT_EQ(write_done.result, 512);
    EXPECT_EQ(flush_done.result, 0);
    std::vector<uint8_t> want = expected_pattern(kBlock, kBlock);
    std::memset(want.data() + 1024, 0x77, 512);
    EXPECT_EQ(rig.disk(kBlock, kBlock), want);
}

TEST(ReadModifyWriteEngine, RequestsWaitForAFreeBounceSlot) {
    ReadModifyWriteEngine::Options o;
    o.slot_bytes = 4096;
    o.slots = 1;
    RmwRig rig(o);
    std::vector<Done> done(4);
    std::vector<iovec> segments;
    for (size_t i = 0; i < done.size(); ++i) segments.push_back({rig.ram(i * 4096), 512});
    for (size_t i = 0; i < done.size(); ++i)
        rig.engine->submit(BlockIo::read(i * kBlock + 512 * (i + 1), {&segments[i], 1}), &done[i]);
    EXPECT_EQ(rig.engine->waiting(), 3u);
    ASSERT_GE(rig.ring.submit(), 0);
    ASSERT_TRUE(testing::reap_all(rig.ring, done));
    for (size_t i = 0; i < done.size(); ++i) {
        EXPECT_EQ(done[i].result, 512);
        EXPECT_EQ(std::memcmp(rig.ram(i * 4096),
                              expected_pattern(i * kBlock + 512 * (i + 1), 512).data(), 512),
                  0)
            << i;
    }
}

// An aligned write takes its blocks too: otherwise a read-modify-write of one sector of the same
// block, begun before it, reads the old block and writes it back after it, undoing the whole
// block but one sector. Both requests name sector 3, so either value is right for that sector;
// the other seven must be the aligned write's.
TEST(ReadModifyWriteEngine, AnAlignedWriteIsNotUndoneByAPartialOneInItsBlock) {
    RmwRig rig;
    for (int round = 0; round < 50; ++round) {
        const uint64_t at = static_cast<uint64_t>(16 + round) * kBlock;
        std::memset(rig.ram(0), 0x31, 512);
        std::memset(rig.ram(8192), 0x42, kBlock);
        const iovec sector{rig.ram(0), 512};
        const iovec whole{rig.ram(8192), kBlock};
        Done partial;
        Done aligned;
        rig.engine->submit(BlockIo::write(at + 3 * 512, {&sector, 1}), &partial);
        rig.engine->submit(BlockIo::write(at, {&whole, 1}), &aligned);
        ASSERT_GE(rig.ring.submit(), 0);
        ASSERT_TRUE(reap_one(rig.ring, partial));
        ASSERT_TRUE(reap_one(rig.ring, aligned));
        std::vector<uint8_t> got = rig.disk(at, kBlock);
        ASSERT_EQ(got.size(), kBlock);
        const uint8_t third = got[3 * 512];
        EXPECT_TRUE(third == 0x31 || third == 0x42) << "round " << round;
        std::memset(got.data() + 3 * 512, 0x42, 512);
        EXPECT_EQ(got, std::vector<uint8_t>(kBlock, 0x42)) << "round " << round;
    }
}

// Random requests against a model of the disk: batches of up to six requests in flight at once,
// their sectors never overlapping but mostly crowded into three blocks, of every kind, at any
// sector, with segments of any whole number of sectors, through a pool of two 8 KiB slots (so that
// requests are chunked and wait for slots and for blocks). After every batch, each read returned
// what the model holds, and the file is the model.
TEST(ReadModifyWriteEngine, RandomRequestsMatchAModelOfTheDisk) {
    ReadModifyWriteEngine::Options o;
    o.slot_bytes = 8192;
    o.slots = 3;
    RmwRig rig(o);
    constexpr uint64_t kSectors = 256;  // the first 128 KiB of the disk
    std::vector<uint8_t> model = expected_pattern(0, kSectors * 512);
    const bool discard = rig.backing->supports_discard();
    uint64_t seed = 0x9E3779B97F4A7C15ull;
    auto next = [&seed](uint64_t bound) {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        return seed % bound;
    };
    uint8_t stamp = 1;
    for (int batch = 0; batch < 300; ++batch) {
        struct Planned {
            BlockOp op;
            uint64_t sector;
            uint64_t count;
            std::vector<iovec> segments;
            uint64_t ram;  // where its data lives in guest RAM
        };
        std::vector<Planned> planned;
        std::vector<bool> taken(kSectors, false);
        uint64_t ram = 0;
        const uint64_t wanted = 1 + next(6);
        // Most batches crowd into three blocks, where their requests share blocks.
        const bool crowded = next(4) != 0;
        const uint64_t window = crowded ? 24 : kSectors;
        const uint64_t base = crowded ? next(kSectors - window + 1) : 0;
        for (uint64_t tries = 0; planned.size() < wanted && tries < 20; ++tries) {
            const uint64_t count = 1 + next(crowded ? 6 : 40);
            const uint64_t sector = base + next(window - count + 1);
            bool free = true;
            for (uint64_t i = sector; i < sector + count; ++i) free = free && !taken[i];
            if (!free) continue;
            for (uint64_t i = sector; i < sector + count; ++i) taken[i] = true;
            const uint64_t kind = next(10);
            const BlockOp op = kind < 4               ? BlockOp::read
                               : kind < 8             ? BlockOp::write
                               : kind < 9 || !discard ? BlockOp::write_zeroes
                                                      : BlockOp::discard;
            Planned p{op, sector, count, {}, ram};
            for (uint64_t done = 0; done < count;) {
                const uint64_t part = std::min<uint64_t>(1 + next(count), count - done);
                p.segments.push_back({rig.ram(ram + done * 512), part * 512});
                done += part;
            }
            if (op == BlockOp::write)
                for (uint64_t i = 0; i < count * 512; ++i) rig.ram(ram)[i] = stamp++;
            ram += count * 512 + 4096 * next(2);  // sometimes a gap: segments anywhere
            planned.push_back(std::move(p));
        }
        std::vector<Done> done(planned.size());
        for (size_t i = 0; i < planned.size(); ++i) {
            const Planned& p = planned[i];
            const uint64_t at = p.sector * 512;
            switch (p.op) {
                case BlockOp::read:
                    rig.engine->submit(BlockIo::read(at, p.segments), &done[i]);
                    break;
                case BlockOp::write:
                    rig.engine->submit(BlockIo::write(at, p.segments), &done[i]);
                    break;
                case BlockOp::write_zeroes:
                    rig.engine->submit(BlockIo::write_zeroes(at, p.count * 512), &done[i]);
                    break;
                default:
                    rig.engine->submit(BlockIo::discard(at, p.count * 512), &done[i]);
                    break;
            }
        }
        ASSERT_GE(rig.ring.submit(), 0);
        ASSERT_TRUE(testing::reap_all(rig.ring, done));
        for (size_t i = 0; i < planned.size(); ++i) {
            const Planned& p = planned[i];
            const uint64_t at = p.sector * 512;
            const uint64_t bytes = p.count * 512;
            const bool data = p.op == BlockOp::read || p.op == BlockOp::write;
            ASSERT_EQ(done[i].result, data ? static_cast<int32_t>(bytes) : 0)
                << "batch " << batch << " request " << i;
            if (p.op == BlockOp::read) {
                ASSERT_EQ(std::memcmp(rig.ram(p.ram), model.data() + at, bytes), 0)
                    << "batch " << batch << ": read of " << p.count << " sectors at " << p.sector;
            } else if (p.op == BlockOp::write) {
                std::memcpy(model.data() + at, rig.ram(p.ram), bytes);
            } else if (p.op == BlockOp::write_zeroes) {
                std::memset(model.data() + at, 0, bytes);
            } else {
                const uint64_t from = (at + kBlock - 1) / kBlock * kBlock;
                const uint64_t to = (at + bytes) / kBlock * kBlock;
                if (from < to) std::memset(model.data() + from, 0, to - from);
            }
        }
        // Checked after every batch: a lost sector would soon be overwritten by a later one.
        ASSERT_EQ(rig.disk(0, kSectors * 512), model) << "after batch " << batch;
    }
    EXPECT_EQ(rig.disk(0, kSectors * 512), model);
    EXPECT_EQ(rig.locks->held(), 0u);
    EXPECT_GT(rig.engine->counters().waits.load(), 0u);  // slots and blocks were waited for
}

// The case the locks exist for: two vCPU threads, each with its own ring and engine, writing
// different 512-byte sectors of one 4 KiB block at the same time, round after round. Without the
// drive's block locks one write back carries the other's old sector, and a round loses a write
// (seen within a few dozen rounds).
TEST(ReadModifyWriteEngine, TwoThreadsWritingSectorsOfOneBlockBothLand) {
    constexpr int kRounds = 400;
    RmwRig rig;
    auto second_ring = std::make_unique<IoRing>(64);
    ReadModifyWriteEngine second(rig.backing->make_engine(*second_ring), *second_ring, *second_ring,
                                 rig.locks, {});
    std::atomic<int> lost{0};
    const uint64_t block_at = 9 * kBlock;
    int checked = 0;
    std::barrier sync(2, [&]() noexcept {
        const std::vector<uint8_t> got = rig.disk(block_at, kBlock);
        // Sectors 2 and 5 carry the round's bytes of threads 0 and 1.
        ++checked;
        if (got.size() != kBlock || got[2 * 512] != static_cast<uint8_t>(checked) ||
            got[5 * 512 + 511] != static_cast<uint8_t>(checked + 100))
            lost.fetch_add(1);
    });
    auto writer = [&](ReadModifyWriteEngine& engine, IoRing& ring, int which) {
        uint8_t* buffer = rig.ram(static_cast<uint64_t>(which) << 20);
        const iovec segment{buffer, 512};
        const uint64_t sector = which == 0 ? 2 : 5;
        for (int round = 1; round <= kRounds; ++round) {
            std::memset(buffer, round + (which == 0 ? 0 : 100), 512);
            Done done;
            engine.submit(BlockIo::write(block_at + sector * 512, {&segment, 1}), &done);
            if (ring.submit() < 0 || !reap_one(ring, done) || done.result != 512)
                lost.fetch_add(1000);
            sync.arrive_and_wait();
        }
    };
    std::thread other([&] { writer(second, *second_ring, 1); });
    writer(*rig.engine, rig.ring, 0);
    other.join();
    EXPECT_EQ(lost.load(), 0) << "rounds in which a write was lost or failed";
    EXPECT_GT(rig.engine->counters().partial_writes + second.counters().partial_writes,
              static_cast<uint64_t>(kRounds));
}

}  // namespace
}  // namespace nvmevm
