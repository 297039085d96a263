#include <gtest/gtest.h>

#include <random>

#include "devices/pci_config.h"
#include "devices/pci_host.h"
#include "devices/reset_control.h"
#include "devices/test_fakes.h"

namespace nvmevm {
namespace {

using testing::FakeVmControl;

// A device built on PciConfigSpace, as a virtio-pci device would be.
class TestPciDevice final : public PciDevice {
  public:
    TestPciDevice() : config(PciIds{0x1af4, 0x1042, 0x010000, 1, 0x1af4, 0x0002}) {}
    void config_read(uint32_t offset, std::span<uint8_t> data) override {
        config.read(offset, data);
    }
    void config_write(uint32_t offset, std::span<const uint8_t> data) override {
        config.write(offset, data);
    }
    PciConfigSpace config;
};

class PciHostTest : public ::testing::Test {
  protected:
    PciHostTest() : host(std::make_shared<ResetControl>(control)) {}

    uint32_t in(uint64_t offset, size_t width) {
        uint8_t data[4] = {};
        host.read(offset, std::span<uint8_t>(data, width));
        return static_cast<uint32_t>(load_le(std::span<const uint8_t>(data, width)));
    }
    void out(uint64_t offset, size_t width, uint32_t value) {
        uint8_t data[4] = {};
        store_le(std::span<uint8_t>(data, width), value);
        host.write(offset, std::span<const uint8_t>(data, width));
    }
    static uint32_t address(unsigned slot, unsigned reg, unsigned function = 0, unsigned bus = 0) {
        return 0x80000000u | bus << 16 | slot << 11 | function << 8 | (reg & 0xfc);
    }
    uint32_t config_read(unsigned slot, unsigned reg, size_t width = 4) {
        out(0, 4, address(slot, reg));
        return in(4 + (reg & 3), width);
    }
    void config_write(unsigned slot, unsigned reg, size_t width, uint32_t value) {
        out(0, 4, address(slot, reg));
        out(4 + (reg & 3), width, value);
    }

    FakeVmControl control;
    PciHost host;
};

TEST_F(PciHostTest, LinuxType1ProbeSequence) {
    // arch/x86/pci/direct.c, pci_check_type1.
    out(3, 1, 0x01);  // outb(0x01, 0xCFB): no effect on CONFIG_ADDRESS
    const uint32_t saved = in(0, 4);
    EXPECT_EQ(saved, 0u);
    out(0, 4, 0x80000000);
    EXPECT_EQ(in(0, 4), 0x80000000u);
    out(0, 4, saved);
    EXPECT_TRUE(control.requests.empty());
}

TEST_F(PciHostTest, ConfigAddressReservedBitsReadZero) {
    out(0, 4, 0xffffffff);
    EXPECT_EQ(in(0, 4), 0x80fffffcu);
    EXPECT_EQ(in(0, 2), 0xffffu);  // non-dword reads are not CONFIG_ADDRESS
}

TEST_F(PciHostTest, HostBridgeAtSlotZero) {
    EXPECT_EQ(config_read(0, 0x00), 0x29c08086u);
    EXPECT_EQ(config_read(0, 0x08) >> 8, 0x060000u);
    EXPECT_EQ(config_read(0, 0x0a, 2), 0x0600u);  // what pci_sanity_check reads
    EXPECT_EQ(config_read(0, 0x0e, 1), 0x00u);    // header type 0, single function
    EXPECT_EQ(config_read(0, 0x02, 2), 0x29c0u);
    EXPECT_EQ(config_read(0, 0x01, 1), 0x80u);
}

TEST_F(PciHostTest, AbsentFunctionsReadAllOnes) {
    EXPECT_EQ(config_read(1, 0x00), 0xffffffffu);
    EXPECT_EQ(config_read(31, 0x00, 2), 0xffffu);
    out(0, 4, address(0, 0, 1));  // function 1 of the bridge
    EXPECT_EQ(in(4, 4), 0xffffffffu);
    out(0, 4, address(0, 0, 0, 1));  // bus 1
    EXPECT_EQ(in(4, 4), 0xffffffffu);
}

TEST_F(PciHostTest, EnableBitClearReadsAllOnes) {
    out(0, 4, address(0, 0) & 0x7fffffff);
    EXPECT_EQ(in(4, 4), 0xffffffffu);
    out(4, 4, 0);  // ignored
    EXPECT_EQ(config_read(0, 0x00), 0x29c08086u);
}

TEST_F(PciHostTest, ResetControlThroughCf9) {
    out(1, 1, 0x02);
    EXPECT_EQ(in(1, 1), 0x02u);
    EXPECT_TRUE(control.requests.empty());
    out(1, 1, 0x06);
    ASSERT_EQ(control.requests.size(), 1u);
    EXPECT_EQ(control.requests[0].end, VmEnd::reset);
}

TEST_F(PciHostTest, AddDeviceChecksSlots) {
    EXPECT_THROW(host.add_device(0, std::make_shared<TestPciDevice>()), std::invalid_argument);
    EXPECT_THROW(host.add_device(32, std::make_shared<TestPciDevice>()), std::invalid_argument);
    host.add_device(3, std::make_shared<TestPciDevice>());
    EXPECT_THROW(host.add_device(3, std::make_shared<TestPciDevice>()), std::invalid_argument);
    EXPECT_EQ(config_read(3, 0x00), 0x10421af4u);
    EXPECT_EQ(config_read(3, 0x2c), 0x00021af4u);
}

TEST_F(PciHostTest, BarSizingAndCallback) {
    auto device = std::make_shared<TestPciDevice>();
    device->config.add_bar(0, PciBar{PciBarKind::memory32, 0x1000, false});
    device->config.add_bar(2, PciBar{PciBarKind::memory64, 0x4000, true});
    device->config.add_bar(5, PciBar{PciBarKind::io, 0x20, false});
    EXPECT_THROW(device->config.add_bar(3, PciBar{PciBarKind::memory32, 0x1000, false}),
                 std::invalid_argument);  // the upper half of BAR 2
    EXPECT_THROW(device->config.add_bar(4, PciBar{PciBarKind::memory32, 0x1001, false}),
                 std::invalid_argument);
    std::vector<PciBarChange> changes;
    device->config.set_bar_callback([&](const PciBarChange& c) { changes.push_back(c); });
    host.add_device(1, device);

    // 6.2.5.1: write all ones, read back the size mask with the flag bits.
    config_write(1, 0x10, 4, 0xffffffff);
    EXPECT_EQ(config_read(1, 0x10), 0xfffff000u);
    config_write(1, 0x18, 4, 0xffffffff);
    config_write(1, 0x1c, 4, 0xffffffff);
    EXPECT_EQ(config_read(1, 0x18), 0xffffc00cu);  // 64-bit, prefetchable
    EXPECT_EQ(config_read(1, 0x1c), 0xffffffffu);
    config_write(1, 0x24, 4, 0xffffffff);
    EXPECT_EQ(config_read(1, 0x24), 0xffffffe1u);  // I/O
    EXPECT_EQ(config_read(1, 0x14), 0u);           // unused BAR: all read-only zeros
    EXPECT_EQ(config_read(1, 0x30), 0u);           // no expansion ROM
    EXPECT_TRUE(changes.empty());                  // decoding still off

    // Assign addresses; nothing is decoded until the command register says so.
    config_write(1, 0x10, 4, 0xfe001234);
    config_write(1, 0x18, 4, 0x00000000);
    config_write(1, 0x1c, 4, 0x00000001);
    config_write(1, 0x24, 4, 0xc040);
    EXPECT_EQ(config_read(1, 0x10), 0xfe001000u);
    EXPECT_FALSE(device->config.bar_address(0).has_value());
    EXPECT_TRUE(changes.empty());

    config_write(1, 0x04, 2, 0x0002);  // memory space on
    ASSERT_EQ(changes.size(), 2u);
    EXPECT_EQ(changes[0].index, 0u);
    EXPECT_FALSE(changes[0].old_address.has_value());
    EXPECT_EQ(changes[0].new_address, 0xfe001000u);
    EXPECT_EQ(changes[1].index, 2u);
    EXPECT_EQ(changes[1].new_address, 0x100000000u);
    EXPECT_EQ(changes[1].bar.size, 0x4000u);
    EXPECT_EQ(device->config.bar_address(2), 0x100000000u);
    EXPECT_FALSE(device->config.bar_address(5).has_value());

    changes.clear();
    config_write(1, 0x11, 1, 0x20);  // move BAR 0 by a byte write while decoded
    ASSERT_EQ(changes.size(), 1u);
    EXPECT_EQ(changes[0].old_address, 0xfe001000u);
    EXPECT_EQ(changes[0].new_address, 0xfe002000u);

    changes.clear();
    config_write(1, 0x04, 2, 0x0001);  // memory off, I/O on
    ASSERT_EQ(changes.size(), 3u);
    EXPECT_EQ(changes[2].index, 5u);
    EXPECT_EQ(changes[2].new_address, 0xc040u);
}

TEST_F(PciHostTest, CommandStatusAndInterruptRegisters) {
    auto device = std::make_shared<TestPciDevice>();
    device->config.set_interrupt_pin(1);
    const uint8_t errors[2] = {0x00, 0x81};  // status: detected parity error, master abort... set
    device->config.set_bytes(PciConfigSpace::kStatus, errors);
    host.add_device(2, device);
    config_write(2, 0x04, 4, 0xffffffff);
    EXPECT_EQ(config_read(2, 0x04, 2), 0x0547u);  // only the implemented command bits
    EXPECT_EQ(config_read(2, 0x06, 2), 0x0000u);  // write 1 cleared both status bits
    config_write(2, 0x3c, 1, 11);
    EXPECT_EQ(config_read(2, 0x3c, 2), 0x010bu);  // line writable, pin read-only
    config_write(2, 0x00, 4, 0);
    EXPECT_EQ(config_read(2, 0x00), 0x10421af4u);  // IDs read-only
}

TEST_F(PciHostTest, CapabilityList) {
    auto device = std::make_shared<TestPciDevice>();
    const uint8_t body1[] = {0x01, 0x02};
    const uint8_t mask1[] = {0xff, 0x00};
    const uint8_t body2[] = {0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};
    const uint8_t first = device->config.add_capability(0x11, body1, mask1);
    const uint8_t second = device->config.add_capability(0x09, body2);
    EXPECT_EQ(first, 0x40);
    EXPECT_EQ(second, 0x44);
    host.add_device(4, device);
    EXPECT_EQ(config_read(4, 0x06, 2) & 0x10, 0x10u);
    EXPECT_EQ(config_read(4, 0x34, 1), 0x40u);
    EXPECT_EQ(config_read(4, 0x40), 0x02014411u);
    EXPECT_EQ(config_read(4, 0x44, 2), 0x0009u);
    config_write(4, 0x42, 2, 0xffff);
    EXPECT_EQ(config_read(4, 0x42, 2), 0x02ffu);
    std::vector<uint8_t> big(300);
    EXPECT_THROW(device->config.add_capability(0x09, big), std::length_error);
}

TEST_F(PciHostTest, EveryOffsetAndWidthIsSafe) {
    auto device = std::make_shared<TestPciDevice>();
    device->config.add_bar(0, PciBar{PciBarKind::memory64, 0x1000, false});
    device->config.set_bar_callback([](const PciBarChange&) {});
    host.add_device(1, device);
    std::mt19937 random(1234);
    for (uint64_t offset = 0; offset < 12; ++offset) {
        for (size_t width : {0u, 1u, 2u, 3u, 4u, 8u}) {
            for (int round = 0; round < 64; ++round) {
                uint8_t data[8];
                for (auto& byte : data) byte = static_cast<uint8_t>(random());
                // Keep the VM running: never set RST_CPU at 0xCF9.
                if (offset == 1 && width == 1) data[0] &= 0xfb;
                host.write(offset, std::span<const uint8_t>(data, width));
                host.read(offset, std::span<uint8_t>(data, width));
                // Point CONFIG_ADDRESS somewhere random on slot 0-1, enabled or not.
                out(0, 4, random() & 0x80000fff);
            }
        }
    }
    EXPECT_TRUE(control.requests.empty());
    EXPECT_EQ(config_read(0, 0x00), 0x29c08086u);
    // Unaligned and oversized accesses inside CONFIG_DATA.
    out(0, 4, address(1, 0));
    EXPECT_EQ(in(5, 2), 0x421au);
    EXPECT_EQ(in(6, 2), 0x1042u);
    EXPECT_EQ(in(7, 1), 0x10u);
}

TEST(PciConfigSpaceTest, OutOfRangeBytesReadOnesAndAreNotWritten) {
    PciConfigSpace config(PciIds{0x1234, 0x5678, 0});
    uint8_t data[4] = {};
    config.read(254, data);
    EXPECT_EQ(data[2], 0xff);
    EXPECT_EQ(data[3], 0xff);
    config.write(254, data);
    config.read(0xffffffff, data);
    EXPECT_EQ(data[0], 0xff);
    EXPECT_THROW(config.set_bytes(255, data), std::invalid_argument);
    EXPECT_THROW(config.set_interrupt_pin(5), std::invalid_argument);
}

}  // namespace
}  // namespace nvmevm
