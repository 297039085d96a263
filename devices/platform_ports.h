// The I/O ports and IRQs of nvmevm's platform devices (docs/platform.md). The ACPI tables
// (boot/acpi) and the test guest use the same numbers.
#pragma once

#include <cstdint>

namespace nvmevm::ports {

inline constexpr uint16_t kCom1 = 0x3f8;  // 8250 UART, 8 ports
inline constexpr uint32_t kCom1Irq = 4;
inline constexpr uint16_t kI8042Data = 0x60;
inline constexpr uint16_t kI8042Command = 0x64;       // write 0xFE: pulse reset line
inline constexpr uint16_t kResetControl = 0xcf9;      // PCI reset control register
inline constexpr uint16_t kPciConfigAddress = 0xcf8;  // 0xcf8-0xcff: PCI type 1 configuration
inline constexpr uint16_t kPciConfigData = 0xcfc;

// ACPI hardware-reduced registers named in the FADT.
inline constexpr uint16_t kAcpiSleepControl = 0x600;  // write (SLP_TYP << 2) | SLP_EN
inline constexpr uint16_t kAcpiSleepStatus = 0x601;
inline constexpr uint16_t kAcpiReset = 0x602;  // write kAcpiResetValue: reset
inline constexpr uint8_t kAcpiResetValue = 0x0f;
inline constexpr uint8_t kAcpiSleepTypeS5 = 5;  // _S5 package value

// nvmevm's guest control port: how a guest ends the VM with a status of its choosing.
inline constexpr uint16_t kGuestControl = 0x610;
inline constexpr uint16_t kGuestControlLength = 8;
// A 1-4 byte write at this offset ends the VM with the low byte as the guest's status.
inline constexpr uint16_t kGuestExitStatusOffset = 0;
// A 1-4 byte write at this offset logs a "boot mark" timestamp (docs/platform.md).
inline constexpr uint16_t kGuestBootMarkOffset = 4;

}  // namespace nvmevm::ports
