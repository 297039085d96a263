#include "vmm/platform.h"

#include "boot/acpi_tables.h"
#include "devices/acpi_pm.h"
#include "devices/i8042.h"
#include "devices/platform_ports.h"
#include "devices/reset_control.h"
#include "devices/serial.h"
#include "foundation/process_stats.h"

namespace nvmevm {
namespace {

constexpr uint32_t kKeyboardIrq = 1;

std::shared_ptr<OutputSink> make_console(const VmConfig& config) {
    switch (config.console) {
        case ConsoleKind::stdout_stream:
            return FdSink::stdout_sink();
        case ConsoleKind::file:
            return FdSink::open_file(config.console_file.string());
        case ConsoleKind::none:
            break;
    }
    return std::make_shared<NullSink>();
}

}  // namespace

Platform::Platform(const VmConfig& config, const GuestMemory& memory, const KvmVm& vm,
                   VmControl& control)
    : console_(make_console(config)),
      com1_irq_(vm, ports::kCom1Irq),
      keyboard_irq_(vm, kKeyboardIrq),
      pci_(std::make_shared<PciHost>(std::make_shared<ResetControl>(control))),
      guest_control_(std::make_shared<GuestControl>(control, process_start_time())) {
    pio_.add(ports::kCom1, Serial16550::kPortCount,
             std::make_shared<Serial16550>(console_, com1_irq_));
    auto i8042 = I8042::create(control, &keyboard_irq_);
    pio_.add(ports::kI8042Data, 1, i8042->data_port());
    pio_.add(ports::kI8042Command, 1, i8042->command_port());
    pio_.add(ports::kPciConfigAddress, PciHost::kPortCount, pci_);
    pio_.add(ports::kAcpiSleepControl, AcpiPm::kPortCount, std::make_shared<AcpiPm>(control));
    pio_.add(ports::kGuestControl, ports::kGuestControlLength, guest_control_);

    acpi_rsdp_ = write_acpi_tables(memory, AcpiPlatform::for_vcpus(config.vcpus));
}

}  // namespace nvmevm
