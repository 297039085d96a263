#include "devices/io_bus.h"

#include <gtest/gtest.h>

#include <vector>

namespace nvmevm {
namespace {

class RecordingDevice final : public BusDevice {
  public:
    void read(uint64_t offset, std::span<uint8_t> data) override {
        reads.push_back(offset);
        std::fill(data.begin(), data.end(), 0x42);
    }
    void write(uint64_t offset, std::span<const uint8_t> data) override {
        writes.push_back({offset, load_le(data)});
    }
    std::vector<uint64_t> reads;
    std::vector<std::pair<uint64_t, uint64_t>> writes;
};

TEST(IoBus, DispatchesWithOffsetsRelativeToTheDevice) {
    IoBus bus("test");
    auto dev = std::make_shared<RecordingDevice>();
    bus.add(0x100, 8, dev);
    uint8_t value[2] = {0x34, 0x12};
    EXPECT_TRUE(bus.write(0x106, value));
    ASSERT_EQ(dev->writes.size(), 1u);
    EXPECT_EQ(dev->writes[0].first, 6u);
    EXPECT_EQ(dev->writes[0].second, 0x1234u);
    uint8_t out[4] = {};
    EXPECT_TRUE(bus.read(0x104, out));
    EXPECT_EQ(out[3], 0x42);
}

TEST(IoBus, UnclaimedOrStraddlingAccessReadsAllOnes) {
    IoBus bus("test");
    auto dev = std::make_shared<RecordingDevice>();
    bus.add(0x100, 8, dev);
    uint8_t out[4] = {};
    EXPECT_FALSE(bus.read(0x106, out));  // runs past the device's end
    EXPECT_EQ(out[0], 0xff);
    EXPECT_FALSE(bus.read(0xff, out));
    EXPECT_TRUE(dev->reads.empty());
    const uint8_t in[1] = {1};
    EXPECT_FALSE(bus.write(0x200, in));
}

TEST(IoBus, OverlapsAreRefusedAndRangesCanMove) {
    IoBus bus("test");
    auto dev = std::make_shared<RecordingDevice>();
    bus.add(0x100, 0x10, dev);
    EXPECT_THROW(bus.add(0x10f, 1, dev), std::invalid_argument);
    EXPECT_THROW(bus.add(0xf8, 9, dev), std::invalid_argument);
    EXPECT_FALSE(bus.try_add(~0ull - 2, 8, dev));  // wraps
    auto other = std::make_shared<RecordingDevice>();
    EXPECT_FALSE(bus.remove(0x100, *other));  // not its range: left alone
    EXPECT_TRUE(bus.remove(0x100, *dev));
    EXPECT_FALSE(bus.remove(0x100, *dev));
    EXPECT_TRUE(bus.try_add(0x108, 0x10, dev));
    uint8_t out[1];
    EXPECT_TRUE(bus.read(0x117, out));
    EXPECT_FALSE(bus.read(0x100, out));
}

}  // namespace
}  // namespace nvmevm
