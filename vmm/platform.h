// The PC platform around the vCPUs: the port I/O and MMIO buses with nvmevm's devices on them
// (UART, i8042, PCI host bridge, ACPI power management, guest control port), the console
// output, the interrupt lines, and the ACPI tables that describe it all to the guest.
#pragma once

#include <memory>
#include <optional>

#include "devices/guest_control.h"
#include "devices/io_bus.h"
#include "devices/irq.h"
#include "devices/output_sink.h"
#include "devices/pci_host.h"
#include "devices/vm_control.h"
#include "foundation/guest_memory.h"
#include "vmm/kvm.h"
#include "vmm/vm_config.h"

namespace nvmevm {

// An interrupt controller input pin driven with KVM_IRQ_LINE.
class KvmIrqLine final : public IrqLine {
  public:
    KvmIrqLine(const KvmVm& vm, uint32_t pin) : vm_(vm), pin_(pin) {}
    void set_level(bool asserted) override { vm_.set_irq_line(pin_, asserted); }

  private:
    const KvmVm& vm_;
    uint32_t pin_;
};

class Platform {
  public:
    // Throws std::system_error when the console output cannot be opened.
    Platform(const VmConfig& config, const GuestMemory& memory, const KvmVm& vm,
             VmControl& control);

    [[nodiscard]] IoBus& pio() { return pio_; }
    [[nodiscard]] IoBus& mmio() { return mmio_; }
    [[nodiscard]] PciHost& pci() { return *pci_; }
    [[nodiscard]] uint64_t acpi_rsdp() const { return acpi_rsdp_; }
    [[nodiscard]] std::optional<BootMark> first_boot_mark() const {
        return guest_control_->first_boot_mark();
    }
    void flush_console() { console_->flush(); }

  private:
    IoBus pio_{"port I/O"};
    IoBus mmio_{"MMIO"};
    std::shared_ptr<OutputSink> console_;
    KvmIrqLine com1_irq_;
    KvmIrqLine keyboard_irq_;
    std::shared_ptr<PciHost> pci_;
    std::shared_ptr<GuestControl> guest_control_;
    uint64_t acpi_rsdp_ = 0;
};

}  // namespace nvmevm
