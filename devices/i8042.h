// The i8042 keyboard controller, reduced to what a Linux guest touches: its probe (status,
// self test, command byte, port test) must answer without timeouts, and `reboot=k` (command
// 0xFE, "pulse the reset line") must end the VM. A keyboard that acknowledges its commands sits
// on the first port; there is no second (AUX, mouse) port.
//
// Registered as two one-port devices, data_port() at ports::kI8042Data (0x60) and
// command_port() at ports::kI8042Command (0x64), so that ports 0x61-0x63 (the PC speaker/NMI
// status port 0x61 in particular) stay free for others.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <span>

#include "devices/io_bus.h"
#include "devices/irq.h"
#include "devices/vm_control.h"

namespace nvmevm {

class I8042 final : public std::enable_shared_from_this<I8042> {
  public:
    // `control` and `keyboard_irq` (IRQ 1; may be null: no interrupts) must outlive the device.
    [[nodiscard]] static std::shared_ptr<I8042> create(VmControl& control,
                                                       IrqLine* keyboard_irq = nullptr);

    // Each keeps the controller alive. Length 1 each.
    [[nodiscard]] std::shared_ptr<BusDevice> data_port();
    [[nodiscard]] std::shared_ptr<BusDevice> command_port();

    // The register interface, for the ports and for tests.
    uint8_t read_data();
    uint8_t read_status();
    void write_data(uint8_t value);
    void write_command(uint8_t value);

    I8042(VmControl& control, IrqLine* keyboard_irq);  // use create()

  private:
    class Port final : public BusDevice {
      public:
        Port(I8042& owner, bool command) : owner_(owner), command_(command) {}
        void read(uint64_t offset, std::span<uint8_t> data) override;
        void write(uint64_t offset, std::span<const uint8_t> data) override;

      private:
        I8042& owner_;
        bool command_;
    };

    void push_output(uint8_t value);
    void keyboard_command(uint8_t value);
    void request_reset(const char* why);
    void update_irq();

    VmControl& control_;
    IrqLine* keyboard_irq_;
    Port data_port_{*this, false};
    Port command_port_{*this, true};

    std::mutex mutex_;
    std::deque<uint8_t> output_;    // bytes waiting for the guest at port 0x60
    uint8_t last_output_ = 0;       // what port 0x60 reads when the buffer is empty
    uint8_t command_byte_ = 0x45;   // keyboard interrupt, system flag, scan code translation
    uint8_t output_port_ = 0x03;    // bit 0: reset line not asserted; bit 1: A20 enabled
    uint8_t pending_command_ = 0;   // controller command waiting for its data byte
    uint8_t pending_keyboard_ = 0;  // keyboard command waiting for its parameter byte
    bool last_write_was_command_ = false;
    bool irq_level_ = false;
};

}  // namespace nvmevm
