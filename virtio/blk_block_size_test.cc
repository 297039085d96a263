#include "virtio/blk_block_size.h"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <system_error>

#include "storage/null_backing.h"
#include "virtio/blk_device.h"

namespace nvmevm {
namespace {

TEST(BlkBlockSize, DefaultIsTheBackingsOwn) {
    for (const uint32_t backing : {512u, 1024u, 2048u, 4096u}) {
        const auto sizes = present_block_size(backing, 0);
        ASSERT_TRUE(sizes) << backing;
        EXPECT_EQ(sizes->logical, backing);
        EXPECT_EQ(sizes->physical_block_exp, 0);
        EXPECT_EQ(sizes->min_io_size, 1);
        EXPECT_EQ(sizes->alignment_sectors, backing / 512);
        EXPECT_FALSE(sizes->emulated());
    }
}

TEST(BlkBlockSize, SmallerSectorsOnA4kBackingMakeItThePhysicalBlock) {
    const auto sizes = present_block_size(4096, 512);
    ASSERT_TRUE(sizes);
    EXPECT_EQ(sizes->logical, 512u);
    EXPECT_EQ(sizes->physical_block_exp, 3);  // 8 logical blocks per physical block
    EXPECT_EQ(sizes->min_io_size, 8);
    // Smaller requests are emulated (read-modify-write): whole 512-byte sectors are enough.
    EXPECT_EQ(sizes->alignment_sectors, 1u);
    EXPECT_EQ(sizes->backing, 4096u);
    EXPECT_TRUE(sizes->emulated());
    const auto half = present_block_size(4096, 2048);
    ASSERT_TRUE(half);
    EXPECT_EQ(half->physical_block_exp, 1);
    EXPECT_EQ(half->min_io_size, 2);
}

TEST(BlkBlockSize, LargerBlocksThanTheBackingsAreSafe) {
    const auto sizes = present_block_size(512, 4096);
    ASSERT_TRUE(sizes);
    EXPECT_EQ(sizes->logical, 4096u);
    EXPECT_EQ(sizes->physical_block_exp, 0);
    EXPECT_EQ(sizes->min_io_size, 1);
    EXPECT_EQ(sizes->alignment_sectors, 1u);  // what the backing needs
}

TEST(BlkBlockSize, OnlyPowersOfTwoFrom512To4096) {
    EXPECT_FALSE(present_block_size(4096, 256));
    EXPECT_FALSE(present_block_size(4096, 8192));
    EXPECT_FALSE(present_block_size(4096, 1000));
    EXPECT_FALSE(present_block_size(8192, 0));
    EXPECT_FALSE(present_block_size(0, 512));
    EXPECT_FALSE(present_block_size(3 * 512, 512));
}

// The configuration space the guest reads (virtio 1.2, 5.2.4), for a backing with 4 KiB blocks
// (an NVMe namespace's shape, on a null backing) presented as such and as 512-byte sectors.
class BlkDeviceBlockSize : public ::testing::Test {
  protected:
    static std::shared_ptr<const Backing> backing(uint32_t block, uint64_t capacity = 64 << 20) {
        BackingTraits traits;
        traits.capacity = capacity;
        traits.logical_block_size = block;
        traits.serial = "test";
        return NullBacking::shaped_like(traits);
    }
    static VirtioBlkConfig config(VirtioBlk& device) {
        VirtioBlkConfig out{};
        device.read_config(0, std::span(reinterpret_cast<uint8_t*>(&out), sizeof out));
        return out;
    }
    GuestMemory memory{1 << 20};
};

TEST_F(BlkDeviceBlockSize, A4kNamespaceIsPresentedWith4kBlocksByDefault) {
    const auto backend = backing(4096);
    VirtioBlk device(memory, backend, BlkDeviceOptions{"d", 1, 256, 0, {}});
    const VirtioBlkConfig c = config(device);
    EXPECT_EQ(c.capacity, (64u << 20) / 512);
    EXPECT_EQ(c.blk_size, 4096u);
    EXPECT_EQ(c.topology.physical_block_exp, 0);
    EXPECT_EQ(c.topology.alignment_offset, 0);
    EXPECT_EQ(c.topology.min_io_size, 1);
    EXPECT_EQ(c.discard_sector_alignment, 8u);
}

TEST_F(BlkDeviceBlockSize, LogicalBlockSize512OnA4kNamespace) {
    const auto backend = backing(4096);
    VirtioBlk device(memory, backend, BlkDeviceOptions{"d", 1, 256, 512, {}});
    const VirtioBlkConfig c = config(device);
    EXPECT_EQ(c.capacity, (64u << 20) / 512);
    EXPECT_EQ(c.blk_size, 512u);
    EXPECT_EQ(c.topology.physical_block_exp, 3);  // 4 KiB physical blocks
    EXPECT_EQ(c.topology.alignment_offset, 0);
    EXPECT_EQ(c.topology.min_io_size, 8);  // in logical blocks: 4 KiB
    EXPECT_EQ(c.topology.opt_io_size, 0u);
    EXPECT_EQ(c.discard_sector_alignment, 8u);  // discards: the backing's blocks
    EXPECT_EQ(device.block_sizes().alignment_sectors, 1u);
    ASSERT_NE(device.rmw_locks(), nullptr);  // its writes are ordered block by block
}

TEST_F(BlkDeviceBlockSize, AnEmulatedDriveEndsAtTheBackingsLastWholeBlock) {
    // 64 MiB + 3 sectors: the last, partial 4 KiB block cannot be read-modify-written.
    const auto backend = backing(4096, (64u << 20) + 3 * 512);
    VirtioBlk device(memory, backend, BlkDeviceOptions{"d", 1, 256, 512, {}});
    EXPECT_EQ(config(device).capacity, (64u << 20) / 512);
}

TEST_F(BlkDeviceBlockSize, LogicalBlockSize4096OnA512Namespace) {
    const auto backend = backing(512);
    VirtioBlk device(memory, backend, BlkDeviceOptions{"d", 1, 256, 4096, {}});
    const VirtioBlkConfig c = config(device);
    EXPECT_EQ(c.blk_size, 4096u);
    EXPECT_EQ(c.topology.physical_block_exp, 0);
    EXPECT_EQ(c.topology.min_io_size, 1);
    EXPECT_EQ(c.discard_sector_alignment, 8u);              // never finer than blk_size
    EXPECT_EQ(device.block_sizes().alignment_sectors, 1u);  // what the backing needs
    EXPECT_EQ(device.rmw_locks(), nullptr);
}

TEST_F(BlkDeviceBlockSize, AnImpossibleSizeIsRefused) {
    const auto backend = backing(4096);
    EXPECT_THROW(VirtioBlk(memory, backend, BlkDeviceOptions{"d", 1, 256, 1000, {}}),
                 std::system_error);
}

}  // namespace
}  // namespace nvmevm
