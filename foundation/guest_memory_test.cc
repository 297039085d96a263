#include "foundation/guest_memory.h"

#include <gtest/gtest.h>

#include <array>
#include <limits>

namespace nvmevm {
namespace {

TEST(GuestMemory, SliceInsideRamIsGranted) {
    std::array<uint8_t, 4096> ram{};
    auto mem = GuestMemory::wrap(ram);
    auto s = mem.slice(GuestAddress{100}, 200);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->data(), ram.data() + 100);
    EXPECT_EQ(s->size(), 200u);
    EXPECT_TRUE(mem.contains(GuestAddress{4096}, 0));  // empty range at the very end
    EXPECT_TRUE(mem.contains(GuestAddress{0}, 4096));
}

TEST(GuestMemory, RangeCrossingTheEndIsRefused) {
    std::array<uint8_t, 4096> ram{};
    auto mem = GuestMemory::wrap(ram);
    EXPECT_FALSE(mem.slice(GuestAddress{4000}, 97));
    EXPECT_FALSE(mem.slice(GuestAddress{4097}, 0));
}

TEST(GuestMemory, WrappingAddressPlusLengthIsRefused) {
    std::array<uint8_t, 4096> ram{};
    auto mem = GuestMemory::wrap(ram);
    const uint64_t max = std::numeric_limits<uint64_t>::max();
    EXPECT_FALSE(mem.slice(GuestAddress{16}, max));
    EXPECT_FALSE(mem.slice(GuestAddress{max}, 2));
}

TEST(GuestMemory, MmioHoleSplitsLargeRam) {
    GuestMemory mem((3ull << 30) + (1ull << 20));
    ASSERT_EQ(mem.regions().size(), 2u);
    EXPECT_TRUE(mem.contains(GuestAddress{kMmioHoleStart - 8}, 8));
    EXPECT_FALSE(mem.contains(GuestAddress{kMmioHoleStart - 8}, 16));  // runs into the hole
    EXPECT_FALSE(mem.contains(GuestAddress{kMmioHoleStart}, 1));
    EXPECT_TRUE(mem.contains(GuestAddress{kMmioHoleEnd}, 1u << 20));
    EXPECT_FALSE(mem.contains(GuestAddress{kMmioHoleEnd}, (1u << 20) + 1));
}

TEST(GuestMemory, TypedReadWriteRoundTrips) {
    std::array<uint8_t, 64> ram{};
    auto mem = GuestMemory::wrap(ram);
    ASSERT_TRUE(mem.write_obj(GuestAddress{8}, uint32_t{0xdeadbeef}));
    EXPECT_EQ(mem.read_obj<uint32_t>(GuestAddress{8}), 0xdeadbeefu);
    EXPECT_FALSE(mem.read_obj<uint64_t>(GuestAddress{60}));
    EXPECT_FALSE(mem.write_obj(GuestAddress{60}, uint64_t{1}));
}

}  // namespace
}  // namespace nvmevm
