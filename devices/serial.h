// A 16550A UART (COM1): what Linux's serial8250 driver needs to probe it as a 16550A, print the
// console through it with interrupts, and (later) read input from it.
//
// Output is instantaneous: a byte written to THR goes to the OutputSink at once, so THR and the
// transmitter are always empty (LSR.THRE and LSR.TEMT always set) and the THRE interrupt is
// re-armed by every write. Modem control outputs drive nothing; the modem inputs read as a
// connected line (DCD, DSR, CTS) unless MCR loopback is on.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <span>

#include "devices/io_bus.h"
#include "devices/irq.h"
#include "devices/output_sink.h"

namespace nvmevm {

class Serial16550 final : public BusDevice {
  public:
    static constexpr uint64_t kPortCount = 8;  // registered at ports::kCom1, length 8
    static constexpr size_t kFifoSize = 16;    // 16550A receive FIFO depth

    // `irq` must outlive the device.
    Serial16550(std::shared_ptr<OutputSink> sink, IrqLine& irq);

    void read(uint64_t offset, std::span<uint8_t> data) override;
    void write(uint64_t offset, std::span<const uint8_t> data) override;

    // Delivers bytes as if they arrived on the serial line. Accepts as many as the receive FIFO
    // holds (16 with FIFOs enabled, 1 without, as on the chip) and returns that count; the
    // caller keeps the rest and offers them again later.
    size_t queue_input(std::span<const uint8_t> bytes);

    // Flushes the output sink (the VMM calls it when the VM ends).
    void flush_output();

  private:
    uint8_t read_register(uint64_t reg);
    void write_register(uint64_t reg, uint8_t value);
    [[nodiscard]] uint8_t interrupt_id() const;  // IIR bits 3:0
    [[nodiscard]] uint8_t modem_inputs() const;  // MSR bits 7:4
    [[nodiscard]] size_t rx_capacity() const;
    void transmit(uint8_t byte);
    void set_mcr(uint8_t value);
    void update_irq();

    std::shared_ptr<OutputSink> sink_;
    IrqLine& irq_;

    std::mutex mutex_;
    std::deque<uint8_t> rx_;
    uint8_t ier_ = 0;
    uint8_t lcr_ = 0;
    uint8_t mcr_ = 0;
    uint8_t scr_ = 0;
    uint8_t dll_ = 0x0c;  // 9600 baud from the 1.8432 MHz clock, the usual firmware default
    uint8_t dlm_ = 0;
    bool fifo_enabled_ = false;
    bool thre_pending_ = false;  // THRE interrupt latched until IIR read or THR write
    bool overrun_ = false;       // LSR.OE, cleared by reading LSR
    uint8_t msr_delta_ = 0;      // MSR bits 3:0, cleared by reading MSR
    bool irq_level_ = false;
};

}  // namespace nvmevm
