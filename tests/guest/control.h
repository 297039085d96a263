// Ending the VM: nvmevm's guest control port, the i8042 reset line, ACPI S5, and a triple
// fault. Each function that should end the VM falls back, if the VM is still running
// afterwards, to a message on serial, QEMU's isa-debug-exit port (for run-under-qemu.sh)
// and finally a triple fault, so a broken VMM gives a crash rather than a hang.
#pragma once

#include <stdint.h>

namespace guest {

// Largest status the guest control port takes: a byte (nvmevm exits with 16 + status up to
// status 106, with 123 for any larger one; docs/exit-codes.md).
inline constexpr uint32_t kMaxExitStatus = 255;

[[noreturn]] void exit_vm(uint8_t status);  // port 0x610: nvmevm exits with 16 + status (<= 106)
[[noreturn]] void reset_vm();               // i8042 command 0xFE: nvmevm exits "reset" (3)
[[noreturn]] void poweroff_vm();            // ACPI S5 via port 0x600: nvmevm exits 0
[[noreturn]] void crash_vm();               // triple fault: nvmevm exits "guest crashed" (4)

}  // namespace guest
