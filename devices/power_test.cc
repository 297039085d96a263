// The devices that end the VM: reset control (0xCF9), ACPI sleep/reset, guest control.
#include <gtest/gtest.h>

#include "devices/acpi_pm.h"
#include "devices/guest_control.h"
#include "devices/platform_ports.h"
#include "devices/reset_control.h"
#include "devices/test_fakes.h"

namespace nvmevm {
namespace {

using testing::FakeVmControl;

void out8(BusDevice& device, uint64_t offset, uint8_t value) {
    device.write(offset, std::span<const uint8_t>(&value, 1));
}

TEST(ResetControlTest, RstCpuResets) {
    FakeVmControl control;
    ResetControl reset(control);
    out8(reset, 0, 0x02);  // SYS_RST alone: Linux's first write
    EXPECT_TRUE(control.requests.empty());
    uint8_t value = 0;
    reset.read(0, std::span<uint8_t>(&value, 1));
    EXPECT_EQ(value, 0x02);
    out8(reset, 0, 0x06);
    ASSERT_EQ(control.requests.size(), 1u);
    EXPECT_EQ(control.requests[0].end, VmEnd::reset);
}

TEST(AcpiPmTest, SleepTypeS5PowersOff) {
    FakeVmControl control;
    AcpiPm pm(control);
    const auto s5 = static_cast<uint8_t>(ports::kAcpiSleepTypeS5 << 2);
    out8(pm, 0, s5);               // no SLP_EN: nothing
    out8(pm, 0, 0x20 | (3 << 2));  // S3 with SLP_EN: not supported
    EXPECT_TRUE(control.requests.empty());
    out8(pm, 0, static_cast<uint8_t>(0x20 | s5));
    ASSERT_EQ(control.requests.size(), 1u);
    EXPECT_EQ(control.requests[0].end, VmEnd::powered_off);
}

TEST(AcpiPmTest, ResetRegister) {
    FakeVmControl control;
    AcpiPm pm(control);
    out8(pm, 2, 0x0e);
    EXPECT_TRUE(control.requests.empty());
    out8(pm, 2, ports::kAcpiResetValue);
    ASSERT_EQ(control.requests.size(), 1u);
    EXPECT_EQ(control.requests[0].end, VmEnd::reset);
}

TEST(AcpiPmTest, SleepStatusReadsZeroAndOddAccessesAreSafe) {
    FakeVmControl control;
    AcpiPm pm(control);
    uint8_t value = 0xff;
    pm.read(1, std::span<uint8_t>(&value, 1));
    EXPECT_EQ(value, 0);
    uint8_t wide[8] = {};
    for (uint64_t offset = 0; offset < 8; ++offset) {
        pm.read(offset, wide);
        pm.write(offset + 3, wide);
    }
    EXPECT_TRUE(control.requests.empty());
}

TEST(GuestControlTest, StatusWriteEndsTheVmWithTheLowByte) {
    FakeVmControl control;
    GuestControl port(control, std::chrono::steady_clock::now());
    out8(port, 0, 42);
    const uint8_t wide[4] = {0x07, 0x01, 0x00, 0x00};  // outl 0x107
    port.write(0, wide);
    ASSERT_EQ(control.requests.size(), 2u);
    EXPECT_EQ(control.requests[0].end, VmEnd::guest_status);
    EXPECT_EQ(control.requests[0].guest_status, 42);
    EXPECT_EQ(control.requests[1].guest_status, 7);
}

TEST(GuestControlTest, BootMarkKeepsTheFirst) {
    FakeVmControl control;
    const auto start = std::chrono::steady_clock::now() - std::chrono::milliseconds(5);
    GuestControl port(control, start);
    EXPECT_FALSE(port.first_boot_mark().has_value());
    const uint8_t one[4] = {1, 0, 0, 0};
    port.write(4, one);
    out8(port, 4, 2);
    const auto mark = port.first_boot_mark();
    ASSERT_TRUE(mark.has_value());
    EXPECT_EQ(mark->value, 1u);
    EXPECT_GE(mark->elapsed, std::chrono::milliseconds(5));
    EXPECT_TRUE(control.requests.empty());
    uint8_t value = 0xff;
    port.read(4, std::span<uint8_t>(&value, 1));
    EXPECT_EQ(value, 0);
}

TEST(GuestControlTest, OtherOffsetsAndWidthsAreIgnored) {
    FakeVmControl control;
    GuestControl port(control, std::chrono::steady_clock::now());
    uint8_t wide[8] = {};
    port.write(0, wide);  // 8 bytes: not a port I/O width
    for (uint64_t offset : {1u, 2u, 3u, 5u, 6u, 7u}) out8(port, offset, 1);
    EXPECT_TRUE(control.requests.empty());
    EXPECT_FALSE(port.first_boot_mark().has_value());
}

}  // namespace
}  // namespace nvmevm
