#include "devices/acpi_pm.h"

#include "devices/platform_ports.h"

namespace nvmevm {
namespace {

constexpr uint64_t kSleepControl = ports::kAcpiSleepControl - ports::kAcpiSleepControl;
constexpr uint64_t kSleepStatus = ports::kAcpiSleepStatus - ports::kAcpiSleepControl;
constexpr uint64_t kReset = ports::kAcpiReset - ports::kAcpiSleepControl;
static_assert(kSleepControl == 0 && kSleepStatus == 1 && kReset == 2);

// ACPI 6.5, 4.8.3.7 "Sleep Control and Status Registers": SLP_EN is bit 5, SLP_TYP bits 4:2.
constexpr uint8_t kSleepEnable = 0x20;
constexpr unsigned kSleepTypeShift = 2;
constexpr uint8_t kSleepTypeMask = 0x07;

}  // namespace

void AcpiPm::read(uint64_t, std::span<uint8_t> data) {
    // Sleep control and reset are write-only; sleep status reads 0 (WAK_STS clear: the guest
    // never wakes from a sleep state here).
    for (auto& byte : data) byte = 0;
}

void AcpiPm::write(uint64_t offset, std::span<const uint8_t> data) {
    // Byte registers; a wider access writes consecutive registers.
    for (size_t i = 0; i < data.size(); ++i) {
        if (offset + i < kPortCount) write_register(offset + i, data[i]);
    }
}

void AcpiPm::write_register(uint64_t reg, uint8_t value) {
    switch (reg) {
        case kSleepControl: {
            if (!(value & kSleepEnable)) return;
            const unsigned type = (value >> kSleepTypeShift) & kSleepTypeMask;
            if (type == ports::kAcpiSleepTypeS5) {
                control_.request_stop(VmOutcome{VmEnd::powered_off, 0, "ACPI S5 (soft off)"});
            } else {
                // Only _S5 is declared in the DSDT; a guest asking for another state gets none.
                logf_limited(log_limit_, LogLevel::warn, "ACPI sleep type %u not supported", type);
            }
            return;
        }
        case kSleepStatus:
            return;  // write-1-to-clear status bits: nothing is ever set
        case kReset:
            // ACPI 6.5, 4.8.3.6: the reset happens when RESET_VALUE is written to the register.
            if (value == ports::kAcpiResetValue) {
                control_.request_stop(VmOutcome{VmEnd::reset, 0, "ACPI reset register"});
            }
            return;
        default:
            return;
    }
}

}  // namespace nvmevm
