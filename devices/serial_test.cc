#include "devices/serial.h"

#include <gtest/gtest.h>

#include <memory>

#include "devices/test_fakes.h"

namespace nvmevm {
namespace {

using testing::FakeIrqLine;
using testing::FakeSink;

// Register offsets and bits as Linux's include/uapi/linux/serial_reg.h names them.
constexpr uint64_t RX = 0, TX = 0, DLL = 0, IER = 1, DLM = 1, IIR = 2, FCR = 2, LCR = 3, MCR = 4,
                   LSR = 5, MSR = 6, SCR = 7;

class SerialTest : public ::testing::Test {
  protected:
    uint8_t in(uint64_t reg) {
        uint8_t value = 0;
        uart.read(reg, std::span<uint8_t>(&value, 1));
        return value;
    }
    void out(uint64_t reg, uint8_t value) { uart.write(reg, std::span<const uint8_t>(&value, 1)); }

    std::shared_ptr<FakeSink> sink = std::make_shared<FakeSink>();
    FakeIrqLine irq;
    Serial16550 uart{sink, irq};
};

TEST_F(SerialTest, ThrBytesGoToTheSink) {
    for (char c : std::string("hi\n")) out(TX, static_cast<uint8_t>(c));
    EXPECT_EQ(sink->text(), "hi\n");
    uart.flush_output();
    EXPECT_EQ(sink->flushes, 1);
}

TEST_F(SerialTest, LsrShowsTransmitterEmptyAndDataReady) {
    EXPECT_EQ(in(LSR), 0x60);
    const uint8_t byte = 'x';
    EXPECT_EQ(uart.queue_input(std::span<const uint8_t>(&byte, 1)), 1u);
    EXPECT_EQ(in(LSR), 0x61);
    EXPECT_EQ(in(RX), 'x');
    EXPECT_EQ(in(LSR), 0x60);
}

TEST_F(SerialTest, DivisorLatchOverlaysDataAndIer) {
    out(IER, 0x05);
    out(LCR, 0x83);  // DLAB, 8 data bits
    out(DLL, 0x01);
    out(DLM, 0x02);
    EXPECT_EQ(in(DLL), 0x01);
    EXPECT_EQ(in(DLM), 0x02);
    EXPECT_TRUE(sink->data.empty());
    out(LCR, 0x03);
    EXPECT_EQ(in(LCR), 0x03);
    EXPECT_EQ(in(IER), 0x05);
    out(TX, 'a');
    EXPECT_EQ(sink->text(), "a");
    out(LCR, 0x83);
    EXPECT_EQ(in(DLL), 0x01);
}

TEST_F(SerialTest, ScratchRegisterHoldsAnyValue) {
    for (unsigned v : {0x00u, 0x55u, 0xaau, 0xffu}) {
        out(SCR, static_cast<uint8_t>(v));
        EXPECT_EQ(in(SCR), v);
    }
}

TEST_F(SerialTest, IerKeepsOnlyItsFourBits) {
    out(IER, 0xff);
    EXPECT_EQ(in(IER), 0x0f);
}

TEST_F(SerialTest, LoopbackMapsModemOutputsToInputs) {
    EXPECT_EQ(in(MSR)&0xf0, 0xb0);  // DCD, DSR, CTS: a connected line
    out(MCR, 0x10 | 0x0a);          // loop, RTS, OUT2: what serial8250 autoconfig writes
    EXPECT_EQ(in(MSR)&0xf0, 0x90);  // CTS, DCD
    out(MCR, 0x10 | 0x05);          // loop, DTR, OUT1
    const uint8_t msr = in(MSR);
    EXPECT_EQ(msr & 0xf0, 0x60);  // DSR, RI
    EXPECT_EQ(msr & 0x0f, 0x0b);  // DCTS, DDSR, DDCD changed; RI rose (no TERI)
    out(MCR, 0x10);
    EXPECT_EQ(in(MSR), 0x06);  // DDSR, and TERI for RI's trailing edge
    EXPECT_EQ(in(MSR), 0x00);  // deltas clear on read
}

TEST_F(SerialTest, LoopbackReceivesTransmittedBytes) {
    out(MCR, 0x10);
    out(TX, 'q');
    EXPECT_TRUE(sink->data.empty());
    EXPECT_EQ(in(LSR)&0x01, 0x01);
    EXPECT_EQ(in(RX), 'q');
    out(TX, 'a');
    out(TX, 'b');  // no FIFO: one byte of room, the second overruns
    EXPECT_EQ(in(LSR), 0x63);
    EXPECT_EQ(in(LSR), 0x61);  // OE clears on read
}

TEST_F(SerialTest, ThreInterruptRaisedByIerClearedByIirRead) {
    EXPECT_EQ(in(IIR), 0x01);
    out(IER, 0x02);
    EXPECT_TRUE(irq.level);
    EXPECT_EQ(in(IIR), 0x02);
    EXPECT_FALSE(irq.level);
    EXPECT_EQ(in(IIR), 0x01);
}

TEST_F(SerialTest, EveryThrWriteGivesAFreshEdge) {
    out(IER, 0x02);
    irq.history.clear();
    out(TX, 'a');
    EXPECT_EQ(irq.history, (std::vector<bool>{false, true}));
    EXPECT_TRUE(irq.level);
    EXPECT_EQ(in(IIR), 0x02);
    EXPECT_FALSE(irq.level);
    out(TX, 'b');
    EXPECT_TRUE(irq.level);
    out(IER, 0x00);  // disabling the source lowers the line
    EXPECT_FALSE(irq.level);
}

TEST_F(SerialTest, ThreReassertsWhenReenabled) {
    // serial8250_do_startup's test for UARTs that do not reassert THRE (UART_BUG_THRE).
    out(IER, 0x02);
    const uint8_t iir1 = in(IIR);
    out(IER, 0x00);
    out(IER, 0x02);
    const uint8_t iir2 = in(IIR);
    out(IER, 0x00);
    EXPECT_EQ(iir1 & 0x01, 0);
    EXPECT_EQ(iir2 & 0x01, 0);
}

TEST_F(SerialTest, ReceivedDataInterruptHasPriorityOverThre) {
    out(IER, 0x03);
    const uint8_t bytes[] = {'1'};
    uart.queue_input(bytes);
    EXPECT_TRUE(irq.level);
    EXPECT_EQ(in(IIR), 0x04);
    EXPECT_EQ(in(RX), '1');
    EXPECT_EQ(in(IIR), 0x02);
    EXPECT_EQ(in(IIR), 0x01);
    EXPECT_FALSE(irq.level);
}

TEST_F(SerialTest, ModemStatusInterrupt) {
    out(IER, 0x08);
    out(MCR, 0x10 | 0x02);  // loop + RTS: CTS stays, DSR and DCD drop
    EXPECT_TRUE(irq.level);
    EXPECT_EQ(in(IIR), 0x00);
    EXPECT_EQ(in(MSR), 0x1a);  // CTS, DDCD, DDSR
    EXPECT_FALSE(irq.level);
}

TEST_F(SerialTest, FifoEnableShowsInIirAndSizesTheReceiveQueue) {
    const uint8_t bytes[20] = {};
    EXPECT_EQ(uart.queue_input(bytes), 1u);
    out(FCR, 0x01);  // enabling clears the FIFOs
    EXPECT_EQ(in(LSR)&0x01, 0);
    EXPECT_EQ(in(IIR), 0xc1);
    EXPECT_EQ(uart.queue_input(bytes), Serial16550::kFifoSize);
    out(FCR, 0x03);  // clear RX
    EXPECT_EQ(in(LSR)&0x01, 0);
    out(FCR, 0x00);
    EXPECT_EQ(in(IIR), 0x01);
}

// The probe in Linux's drivers/tty/serial/8250/8250_port.c (autoconfig and
// autoconfig_16550a), step by step: it must end with "16550A" and no variant.
TEST_F(SerialTest, LinuxAutoconfigDetects16550A) {
    // IER test: nothing there unless IER holds 0 and 0x0f.
    const uint8_t ier_save = in(IER);
    out(IER, 0);
    const uint8_t scratch2 = in(IER)&0x0f;
    out(IER, 0x0f);
    const uint8_t scratch3 = in(IER)&0x0f;
    out(IER, ier_save);
    ASSERT_EQ(scratch2, 0);
    ASSERT_EQ(scratch3, 0x0f);

    const uint8_t save_mcr = in(MCR);
    const uint8_t save_lcr = in(LCR);
    out(MCR, 0x10 | 0x0a);
    const uint8_t status1 = in(MSR)&0xf0;
    out(MCR, save_mcr);
    ASSERT_EQ(status1, 0x90);

    out(LCR, 0xbf);
    out(2, 0);  // EFR on later chips; FCR here
    out(LCR, 0);
    out(FCR, 0x01);
    ASSERT_EQ(in(IIR) >> 6, 3);  // 3: 16550A

    // autoconfig_16550a: no EFR with DLAB set (register 2 must not read 0 there) ...
    out(LCR, 0x80);
    EXPECT_NE(in(2), 0);
    out(LCR, 0xbf);
    EXPECT_NE(in(2), 0);
    // ... not a National SuperIO (register 2 with LCR 0xe0 must not follow MCR's loop bit) ...
    out(LCR, 0);
    const uint8_t mcr = in(MCR);
    out(LCR, 0xe0);
    uint8_t excr1 = in(2);
    if (!((excr1 ^ mcr) & 0x10)) {
        out(LCR, 0);
        out(MCR, mcr ^ 0x10);
        out(LCR, 0xe0);
        excr1 = in(2);
        out(LCR, 0);
        out(MCR, mcr);
        EXPECT_FALSE((excr1 ^ mcr) & 0x10);
    }
    // ... not a TI16750 (IIR bit 5, 64-byte FIFO, never set) ...
    out(LCR, 0);
    out(FCR, 0x21);
    EXPECT_EQ(in(IIR)&0xe0, 0xc0);
    out(FCR, 0x01);
    out(LCR, 0x80);
    out(FCR, 0x21);
    EXPECT_EQ(in(IIR)&0xe0, 0xc0);
    out(FCR, 0x01);
    out(LCR, 0);
    // ... and not an XScale (IER bit 6 stays 0).
    const uint8_t ier = in(IER);
    out(IER, static_cast<uint8_t>(ier | 0x40));
    EXPECT_EQ(in(IER)&0x40, 0);
    out(IER, ier);

    out(LCR, save_lcr);
    EXPECT_NE(in(LSR), 0xff);  // serial8250_do_startup bails out on LSR 0xff
}

TEST_F(SerialTest, OddAccessesDoNotCrash) {
    for (uint64_t offset = 0; offset < 16; ++offset) {
        for (size_t width : {1u, 2u, 4u, 8u}) {
            uint8_t buffer[8] = {};
            uart.read(offset, std::span<uint8_t>(buffer, width));
            uart.write(offset, std::span<const uint8_t>(buffer, width));
        }
    }
    uint8_t wide[2] = {};
    uart.read(Serial16550::kPortCount - 1, wide);  // SCR, then past the end
    EXPECT_EQ(wide[1], 0xff);
}

}  // namespace
}  // namespace nvmevm
