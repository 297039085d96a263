#include "devices/i8042.h"

#include <gtest/gtest.h>

#include "devices/test_fakes.h"

namespace nvmevm {
namespace {

using testing::FakeIrqLine;
using testing::FakeVmControl;

class I8042Test : public ::testing::Test {
  protected:
    uint8_t in(BusDevice& port) {
        uint8_t value = 0;
        port.read(0, std::span<uint8_t>(&value, 1));
        return value;
    }
    void out(BusDevice& port, uint8_t value) { port.write(0, std::span<const uint8_t>(&value, 1)); }

    FakeVmControl control;
    FakeIrqLine irq;
    std::shared_ptr<I8042> kbc = I8042::create(control, &irq);
    std::shared_ptr<BusDevice> data = kbc->data_port();
    std::shared_ptr<BusDevice> command = kbc->command_port();
};

TEST_F(I8042Test, IdleStatusHasNoDataAndAnEmptyInputBuffer) {
    const uint8_t status = in(*command);
    EXPECT_EQ(status & 0x01, 0);  // output buffer empty
    EXPECT_EQ(status & 0x02, 0);  // input buffer empty: writes never wait
}

TEST_F(I8042Test, ResetPulseStopsTheVm) {
    out(*command, 0xfe);
    ASSERT_EQ(control.requests.size(), 1u);
    EXPECT_EQ(control.requests[0].end, VmEnd::reset);
}

TEST_F(I8042Test, OutputPortWriteWithResetLowStopsTheVm) {
    out(*command, 0xd1);
    out(*data, 0x03);
    EXPECT_TRUE(control.requests.empty());
    out(*command, 0xd1);
    out(*data, 0x02);
    ASSERT_EQ(control.requests.size(), 1u);
    EXPECT_EQ(control.requests[0].end, VmEnd::reset);
}

TEST_F(I8042Test, PulsesWithoutTheResetBitDoNothing) {
    out(*command, 0xff);
    out(*command, 0xfd);
    EXPECT_TRUE(control.requests.empty());
}

TEST_F(I8042Test, SelfTestAnswers55) {
    out(*command, 0xaa);
    EXPECT_EQ(in(*command) & 0x01, 0x01);
    EXPECT_EQ(in(*data), 0x55);
    EXPECT_EQ(in(*command) & 0x01, 0);
    out(*command, 0xab);
    EXPECT_EQ(in(*data), 0x00);
}

TEST_F(I8042Test, CommandByteReadWrite) {
    out(*command, 0x20);
    EXPECT_EQ(in(*data), 0x45);
    out(*command, 0x60);
    out(*data, 0x44);
    out(*command, 0xae);
    out(*command, 0x20);
    EXPECT_EQ(in(*data), 0x44);
    out(*command, 0xad);
    out(*command, 0x20);
    EXPECT_EQ(in(*data), 0x54);
}

TEST_F(I8042Test, KeyboardAcknowledgesAndRaisesIrq1) {
    out(*data, 0xff);  // keyboard reset
    EXPECT_TRUE(irq.level);
    EXPECT_EQ(in(*data), 0xfa);
    EXPECT_EQ(in(*data), 0xaa);
    EXPECT_FALSE(irq.level);
    out(*data, 0xf2);
    EXPECT_EQ(in(*data), 0xfa);
    EXPECT_EQ(in(*data), 0xab);
    EXPECT_EQ(in(*data), 0x83);
    out(*data, 0xed);  // LEDs, then their parameter
    EXPECT_EQ(in(*data), 0xfa);
    out(*data, 0x07);
    EXPECT_EQ(in(*data), 0xfa);
    EXPECT_EQ(in(*command) & 0x01, 0);
}

TEST_F(I8042Test, OutputBufferIsBounded) {
    for (int i = 0; i < 1000; ++i) out(*command, 0xaa);
    int bytes = 0;
    while (in(*command) & 0x01) {
        in(*data);
        ++bytes;
    }
    EXPECT_LE(bytes, 16);
}

TEST_F(I8042Test, WideAccessesAreIgnored) {
    uint8_t buffer[4] = {0xfe, 0xfe, 0xfe, 0xfe};
    command->write(0, std::span<const uint8_t>(buffer, 4));
    command->read(0, std::span<uint8_t>(buffer, 2));
    EXPECT_TRUE(control.requests.empty());
    EXPECT_EQ(buffer[0], 0xff);
}

}  // namespace
}  // namespace nvmevm
