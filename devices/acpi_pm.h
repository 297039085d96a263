// The ACPI power management registers of a hardware-reduced ACPI platform (ACPI 6.5, 4.1 and
// 4.8.3.7): the FADT names a sleep control register, a sleep status register and a reset
// register, all one byte, at ports::kAcpiSleepControl (0x600) and the next two ports.
// Registered at 0x600, length kPortCount.
#pragma once

#include <cstdint>
#include <span>

#include "devices/io_bus.h"
#include "devices/vm_control.h"
#include "foundation/log.h"

namespace nvmevm {

class AcpiPm final : public BusDevice {
  public:
    static constexpr uint64_t kPortCount = 3;

    // `control` must outlive the device.
    explicit AcpiPm(VmControl& control) : control_(control) {}

    void read(uint64_t offset, std::span<uint8_t> data) override;
    void write(uint64_t offset, std::span<const uint8_t> data) override;

  private:
    void write_register(uint64_t reg, uint8_t value);

    VmControl& control_;  // stateless otherwise: nothing to guard
    RateLimiter log_limit_;
};

}  // namespace nvmevm
