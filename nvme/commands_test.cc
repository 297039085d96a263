#include "nvme/commands.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <vector>

namespace nvmevm::nvme {
namespace {

constexpr Format k512{7, 9, 1000};  // 1000 LBAs of 512 B: bytes [0, 512000)
constexpr Format k4k{3, 12, 1000};  // 1000 LBAs of 4 KiB: bytes [0, 4096000)

void expect_command(const Command& c, uint8_t opcode, uint32_t nsid, uint64_t addr,
                    uint32_t data_len, uint32_t cdw10, uint32_t cdw11, uint32_t cdw12) {
    EXPECT_EQ(c.opcode, opcode);
    EXPECT_EQ(c.nsid, nsid);
    EXPECT_EQ(c.addr, addr);
    EXPECT_EQ(c.data_len, data_len);
    EXPECT_EQ(c.cdw10, cdw10);
    EXPECT_EQ(c.cdw11, cdw11);
    EXPECT_EQ(c.cdw12, cdw12);
    EXPECT_EQ(c.cdw13, 0u);
    EXPECT_EQ(c.cdw14, 0u);
    EXPECT_EQ(c.cdw15, 0u);
}

TEST(NvmeCommands, ReadAndWrite512) {
    Command c;
    ASSERT_EQ(build_read_write(k512, false, 0, 512, 0x1000, 512, c), BuildError::none);
    expect_command(c, 0x02, 7, 0x1000, 512, 0, 0, 0);  // NLB 0-based: one block is 0
    ASSERT_EQ(build_read_write(k512, true, 8 * 512, 4096, 0x2000, 4096, c), BuildError::none);
    expect_command(c, 0x01, 7, 0x2000, 4096, 8, 0, 7);
    // Vectored: addr and data_len are the iovec array and its count, passed through untouched.
    ASSERT_EQ(build_read_write(k512, true, 512, 3 * 512, 0xabc0, 3, c), BuildError::none);
    expect_command(c, 0x01, 7, 0xabc0, 3, 1, 0, 2);
}

TEST(NvmeCommands, ReadAndWrite4k) {
    Command c;
    ASSERT_EQ(build_read_write(k4k, false, 4096, 8192, 0x1000, 8192, c), BuildError::none);
    expect_command(c, 0x02, 3, 0x1000, 8192, 1, 0, 1);
    // Sector 8 is LBA 1; sectors not a multiple of 8 are refused, never rounded.
    EXPECT_EQ(build_read_write(k4k, false, 512, 4096, 0, 4096, c), BuildError::misaligned);
    EXPECT_EQ(build_read_write(k4k, true, 4096, 512, 0, 512, c), BuildError::misaligned);
    EXPECT_EQ(build_read_write(k4k, true, 4096, 4096 + 512, 0, 4608, c), BuildError::misaligned);
    EXPECT_EQ(build_read_write(k512, true, 100, 512, 0, 512, c), BuildError::misaligned);
}

TEST(NvmeCommands, EndOfNamespace) {
    Command c;
    // The last LBA exactly.
    ASSERT_EQ(build_read_write(k512, false, 999 * 512, 512, 0, 512, c), BuildError::none);
    expect_command(c, 0x02, 7, 0, 512, 999, 0, 0);
    ASSERT_EQ(build_read_write(k4k, true, 999 * 4096, 4096, 0, 4096, c), BuildError::none);
    expect_command(c, 0x01, 3, 0, 4096, 999, 0, 0);
    // One block past it, and a range that starts inside and runs over.
    EXPECT_EQ(build_read_write(k512, false, 1000 * 512, 512, 0, 512, c), BuildError::out_of_range);
    EXPECT_EQ(build_read_write(k512, false, 999 * 512, 1024, 0, 1024, c), BuildError::out_of_range);
    EXPECT_EQ(build_read_write(k4k, false, 1000 * 4096, 4096, 0, 4096, c),
              BuildError::out_of_range);
    // Offsets near 2^64 must not wrap around the check.
    EXPECT_EQ(build_read_write(k512, false, ~uint64_t{511}, 512, 0, 512, c),
              BuildError::out_of_range);
    EXPECT_EQ(build_read_write(k512, false, 0, 0, 0, 0, c), BuildError::empty);
}

TEST(NvmeCommands, LargeLbaAndNlbLimits) {
    const Format big{1, 9, uint64_t{1} << 40};
    Command c;
    // SLBA above 32 bits: CDW11 holds the upper half.
    const uint64_t slba = (uint64_t{0x12} << 32) | 0x345678;
    ASSERT_EQ(build_read_write(big, false, slba * 512, 512, 0, 512, c), BuildError::none);
    EXPECT_EQ(c.cdw10, 0x345678u);
    EXPECT_EQ(c.cdw11, 0x12u);
    // 65536 LBAs is the most NLB can say (0xffff); one more is too many.
    ASSERT_EQ(build_read_write(big, false, 0, 65536 * 512, 0, 1, c), BuildError::none);
    EXPECT_EQ(c.cdw12, 0xffffu);
    EXPECT_EQ(build_read_write(big, false, 0, 65537 * 512, 0, 1, c), BuildError::too_large);
}

TEST(NvmeCommands, Flush) {
    const Command c = build_flush(k4k);
    expect_command(c, 0x00, 3, 0, 0, 0, 0, 0);
}

TEST(NvmeCommands, WriteZeroes) {
    Command c;
    ASSERT_EQ(build_write_zeroes(k512, 16 * 512, 8 * 512, false, c), BuildError::none);
    expect_command(c, 0x08, 7, 0, 0, 16, 0, 7);
    ASSERT_EQ(build_write_zeroes(k512, 16 * 512, 8 * 512, true, c), BuildError::none);
    expect_command(c, 0x08, 7, 0, 0, 16, 0, 7 | (1u << 25));  // DEAC
    ASSERT_EQ(build_write_zeroes(k4k, 999 * 4096, 4096, false, c), BuildError::none);
    expect_command(c, 0x08, 3, 0, 0, 999, 0, 0);
    EXPECT_EQ(build_write_zeroes(k4k, 999 * 4096, 8192, false, c), BuildError::out_of_range);
    EXPECT_EQ(build_write_zeroes(k4k, 512, 4096, false, c), BuildError::misaligned);
    const Format big{1, 9, uint64_t{1} << 30};
    EXPECT_EQ(build_write_zeroes(big, 0, 65537 * 512, false, c), BuildError::too_large);
}

TEST(NvmeCommands, DeallocateRange) {
    Command c;
    DsmRange range{0xdead, 0xbeef, 0xf00d};
    ASSERT_EQ(build_deallocate(k512, 10 * 512, 990 * 512, range, 0x5000, c), BuildError::none);
    expect_command(c, 0x09, 7, 0x5000, 16, 0, 1u << 2, 0);  // NR 0 (one range), AD
    EXPECT_EQ(range.context_attributes, 0u);
    EXPECT_EQ(range.length, 990u);  // 1-based
    EXPECT_EQ(range.slba, 10u);
    ASSERT_EQ(build_deallocate(k4k, 0, 4096, range, 0x6000, c), BuildError::none);
    expect_command(c, 0x09, 3, 0x6000, 16, 0, 1u << 2, 0);
    EXPECT_EQ(range.length, 1u);
    EXPECT_EQ(range.slba, 0u);
    // Far more than Write Zeroes may name: DSM counts in 32 bits.
    const Format big{1, 9, uint64_t{1} << 40};
    ASSERT_EQ(build_deallocate(big, 0, uint64_t{1} << 31, range, 0, c), BuildError::none);
    EXPECT_EQ(range.length, 1u << 22);
    EXPECT_EQ(build_deallocate(k4k, 4096, 2048, range, 0, c), BuildError::misaligned);
    EXPECT_EQ(build_deallocate(k4k, 999 * 4096, 8192, range, 0, c), BuildError::out_of_range);
}

TEST(NvmeCommands, DsmRangeLayout) {
    // NVM 1.0, Figure 40: bytes 03:00 context attributes, 07:04 length, 15:08 starting LBA.
    static_assert(offsetof(DsmRange, context_attributes) == 0);
    static_assert(offsetof(DsmRange, length) == 4);
    static_assert(offsetof(DsmRange, slba) == 8);
}

TEST(NvmeCommands, StatusMapping) {
    EXPECT_EQ(status_to_errno(0x01), -EOPNOTSUPP);    // Invalid Command Opcode
    EXPECT_EQ(status_to_errno(0x02), -EOPNOTSUPP);    // Invalid Field in Command
    EXPECT_EQ(status_to_errno(0x4002), -EOPNOTSUPP);  // ... with DNR set
    EXPECT_EQ(status_to_errno(0x80), -EIO);           // LBA Out of Range
    EXPECT_EQ(status_to_errno(0x281), -EIO);          // SCT 2 (media): Unrecovered Read
    EXPECT_EQ(status_to_errno(0x102), -EIO);          // SCT 1, SC 2: not "invalid field"
    EXPECT_EQ(status_code_type(0x4281), 2);
    EXPECT_EQ(status_code(0x4281), 0x81);
}

// Chunking: iovecs over a fake address space (never dereferenced).
iovec seg(uintptr_t address, size_t length) {
    return {reinterpret_cast<void*>(address), length};
}

TEST(NvmeChunks, OneSegmentFitsWhole) {
    const std::vector<iovec> segments = {seg(0x10000, 8192)};
    ChunkCursor cursor;
    iovec out[kMaxChunkSegments];
    size_t count = 0;
    const ChunkLimits limits{131072, 32, 512};
    EXPECT_EQ(next_chunk(segments, cursor, limits, out, count), 8192u);
    ASSERT_EQ(count, 1u);
    EXPECT_EQ(out[0].iov_base, segments[0].iov_base);
    EXPECT_EQ(out[0].iov_len, 8192u);
    EXPECT_EQ(next_chunk(segments, cursor, limits, out, count), 0u);  // done
}

TEST(NvmeChunks, SplitAtMaxBytes) {
    const std::vector<iovec> segments = {seg(0x10000, 12288), seg(0x40000, 4096)};
    ChunkCursor cursor;
    iovec out[kMaxChunkSegments];
    size_t count = 0;
    const ChunkLimits limits{8192, 32, 4096};
    EXPECT_EQ(next_chunk(segments, cursor, limits, out, count), 8192u);
    ASSERT_EQ(count, 1u);
    EXPECT_EQ(out[0].iov_len, 8192u);
    EXPECT_EQ(next_chunk(segments, cursor, limits, out, count), 8192u);
    ASSERT_EQ(count, 2u);
    EXPECT_EQ(out[0].iov_base, reinterpret_cast<void*>(0x12000));
    EXPECT_EQ(out[0].iov_len, 4096u);
    EXPECT_EQ(out[1].iov_base, reinterpret_cast<void*>(0x40000));
    EXPECT_EQ(next_chunk(segments, cursor, limits, out, count), 0u);
}

TEST(NvmeChunks, PageBudgetCountsUnalignedSegments) {
    // Each 1024-byte segment straddles a page boundary: two pages each. A budget of 4 pages
    // takes two segments.
    const std::vector<iovec> segments = {seg(0x10e00, 1024), seg(0x20e00, 1024),
                                         seg(0x30e00, 1024)};
    ChunkCursor cursor;
    iovec out[kMaxChunkSegments];
    size_t count = 0;
    const ChunkLimits limits{1 << 20, 4, 512};
    EXPECT_EQ(next_chunk(segments, cursor, limits, out, count), 2048u);
    EXPECT_EQ(count, 2u);
    EXPECT_EQ(next_chunk(segments, cursor, limits, out, count), 1024u);
    EXPECT_EQ(count, 1u);
}

TEST(NvmeChunks, TailGivenBackToWholeLbas) {
    // 4 KiB LBAs, segments of 3 KiB: a chunk limited to 2 segments (6 KiB) keeps 4 KiB and the
    // next chunk starts 1 KiB into the second segment.
    const std::vector<iovec> segments = {seg(0x10000, 3072), seg(0x20000, 3072),
                                         seg(0x30000, 2048)};
    ChunkCursor cursor;
    iovec out[2];
    size_t count = 0;
    const ChunkLimits limits{1 << 20, 32, 4096};
    EXPECT_EQ(next_chunk(segments, cursor, limits, out, count), 4096u);
    ASSERT_EQ(count, 2u);
    EXPECT_EQ(out[1].iov_len, 1024u);
    EXPECT_EQ(cursor.segment, 1u);
    EXPECT_EQ(cursor.offset, 1024u);
    EXPECT_EQ(next_chunk(segments, cursor, limits, out, count), 4096u);
    ASSERT_EQ(count, 2u);
    EXPECT_EQ(out[0].iov_base, reinterpret_cast<void*>(0x20400));
    EXPECT_EQ(out[0].iov_len, 2048u);
    EXPECT_EQ(out[1].iov_len, 2048u);
    EXPECT_EQ(next_chunk(segments, cursor, limits, out, count), 0u);
}

TEST(NvmeChunks, RestShorterThanAnLba) {
    const std::vector<iovec> segments = {seg(0x10000, 4096), seg(0x20000, 512)};
    ChunkCursor cursor;
    iovec out[kMaxChunkSegments];
    size_t count = 0;
    const ChunkLimits limits{1 << 20, 32, 4096};
    EXPECT_EQ(next_chunk(segments, cursor, limits, out, count), 4096u);
    EXPECT_EQ(count, 1u);
    // 512 bytes left: not a whole LBA, nothing to issue (the engine fails the request).
    EXPECT_EQ(next_chunk(segments, cursor, limits, out, count), 0u);
    EXPECT_EQ(count, 0u);
}

TEST(NvmeChunks, EmptySegmentsAreSkipped) {
    const std::vector<iovec> segments = {seg(0x10000, 0), seg(0x20000, 512), seg(0x30000, 0)};
    ChunkCursor cursor;
    iovec out[kMaxChunkSegments];
    size_t count = 0;
    const ChunkLimits limits{1 << 20, 32, 512};
    EXPECT_EQ(next_chunk(segments, cursor, limits, out, count), 512u);
    EXPECT_EQ(count, 1u);
    EXPECT_EQ(cursor.segment, 3u);
}

// logical_block_size = 512 on a 4 KiB namespace: the guest addresses 512-byte sectors; the
// device lets through only whole 4 KiB blocks, which map to one LBA per 8 sectors, up to the
// namespace's last LBA. Anything else is refused here too (the engine's own check).
TEST(NvmeCommands, PresentedSectorsMapToWholeLbas) {
    Command c;
    const auto sector = [](uint64_t s) { return s * 512; };
    ASSERT_EQ(build_read_write(k4k, false, sector(8), sector(8), 0, 4096, c), BuildError::none);
    EXPECT_EQ(c.cdw10, 1u);
    EXPECT_EQ(c.cdw12, 0u);
    ASSERT_EQ(build_read_write(k4k, true, sector(0), sector(16), 0, 8192, c), BuildError::none);
    EXPECT_EQ(c.cdw10, 0u);
    EXPECT_EQ(c.cdw12, 1u);
    // The last LBA: sectors 7992..7999 of a 1000-LBA namespace.
    ASSERT_EQ(build_read_write(k4k, true, sector(7992), sector(8), 0, 4096, c), BuildError::none);
    EXPECT_EQ(c.cdw10, 999u);
    EXPECT_EQ(build_read_write(k4k, true, sector(8000), sector(8), 0, 4096, c),
              BuildError::out_of_range);
    // An odd sector, a length of one sector, a block and one sector more.
    EXPECT_EQ(build_read_write(k4k, true, sector(9), sector(8), 0, 4096, c),
              BuildError::misaligned);
    EXPECT_EQ(build_read_write(k4k, false, sector(8), sector(1), 0, 512, c),
              BuildError::misaligned);
    EXPECT_EQ(build_read_write(k4k, false, sector(8), sector(9), 0, 4608, c),
              BuildError::misaligned);
    EXPECT_EQ(build_read_write(k4k, true, sector(7999), sector(1), 0, 512, c),
              BuildError::misaligned);
    DsmRange range{};
    EXPECT_EQ(build_deallocate(k4k, sector(4), sector(8), range, 0, c), BuildError::misaligned);
    EXPECT_EQ(build_write_zeroes(k4k, sector(8), sector(4), false, c), BuildError::misaligned);
    ASSERT_EQ(build_write_zeroes(k4k, sector(7984), sector(16), false, c), BuildError::none);
    EXPECT_EQ(c.cdw10, 998u);
    EXPECT_EQ(c.cdw12, 1u);
}

}  // namespace
}  // namespace nvmevm::nvme
