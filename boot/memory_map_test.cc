#include "boot/memory_map.h"

#include <gtest/gtest.h>

#include <vector>

#include "boot/initrd.h"
#include "boot/kernel_image.h"

namespace nvmevm {
namespace {

constexpr uint64_t kMiB = 1 << 20;
using T = MemoryType;

TEST(MemoryMap, SmallGuest) {
    GuestMemory memory(64 * kMiB);
    const std::vector<MemoryMapEntry> expected = {
        {0, 0x9fc00, T::ram},
        {0x9fc00, 0x400, T::reserved},
        {0xe0000, 0x20000, T::reserved},
        {0x100000, 63 * kMiB, T::ram},
    };
    EXPECT_EQ(build_memory_map(memory), expected);
    EXPECT_EQ(low_ram_end(memory), 64 * kMiB);
}

TEST(MemoryMap, RamAboveTheMmioHoleIsReported) {
    GuestMemory memory(kMmioHoleStart + 16 * kMiB);
    const auto map = build_memory_map(memory);
    ASSERT_EQ(map.size(), 5u);
    EXPECT_EQ(map[3], (MemoryMapEntry{0x100000, kMmioHoleStart - 0x100000, T::ram}));
    EXPECT_EQ(map[4], (MemoryMapEntry{kMmioHoleEnd, 16 * kMiB, T::ram}));
    EXPECT_EQ(low_ram_end(memory), kMmioHoleStart);
}

TEST(MemoryMap, EntriesAreClippedToRam) {
    std::vector<uint8_t> ram(0xA0000 - 0x100);  // ends inside the EBDA
    const auto memory = GuestMemory::wrap(ram);
    const std::vector<MemoryMapEntry> expected = {
        {0, 0x9fc00, T::ram},
        {0x9fc00, 0x300, T::reserved},
    };
    EXPECT_EQ(build_memory_map(memory), expected);
}

TEST(Initrd, PlacementIsPageAlignedBelowEveryLimit) {
    GuestMemory memory(64 * kMiB);
    EXPECT_EQ(place_initrd(memory, 1, 0, UINT64_MAX).addr, 64 * kMiB - 4096);
    EXPECT_EQ(place_initrd(memory, 4096, 0, 32 * kMiB - 1).addr, 32 * kMiB - 4096);
    EXPECT_EQ(place_initrd(memory, 4097, 0, 32 * kMiB - 1).addr, 32 * kMiB - 8192);
    // Kernel end rounds up to a page: exactly the room between fits.
    EXPECT_EQ(place_initrd(memory, 64 * kMiB - 4096, 4095, UINT64_MAX).addr, 4096u);
    EXPECT_THROW((void)place_initrd(memory, 64 * kMiB - 4095, 4095, UINT64_MAX), BootError);
    EXPECT_THROW((void)place_initrd(memory, UINT64_MAX, 0, UINT64_MAX), BootError);
    EXPECT_THROW((void)place_initrd(memory, 1, UINT64_MAX, UINT64_MAX), BootError);
}

TEST(Initrd, StaysBelow4GiBWhateverTheKernelAllows) {
    GuestMemory memory(kMmioHoleStart + 16 * kMiB);
    EXPECT_EQ(place_initrd(memory, 4096, 0, UINT64_MAX).addr, kMmioHoleStart - 4096);
}

TEST(Initrd, EmptyInitrdIsNotPlaced) {
    GuestMemory memory(16 * kMiB);
    const auto placement = load_initrd(memory, {}, 15 * kMiB, UINT64_MAX);
    EXPECT_EQ(placement.addr, 0u);
    EXPECT_EQ(placement.size, 0u);
}

}  // namespace
}  // namespace nvmevm
