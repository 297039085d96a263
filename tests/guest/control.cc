#include "control.h"

#include "devices/platform_ports.h"
#include "io.h"
#include "layout.h"
#include "serial.h"

namespace guest {
namespace {

namespace ports = nvmevm::ports;

static_assert(PORT_GUEST_EXIT == ports::kGuestControl + ports::kGuestExitStatusOffset);
static_assert(PORT_GUEST_BOOT_MARK == ports::kGuestControl + ports::kGuestBootMarkOffset);

// QEMU's isa-debug-exit device, as run-under-qemu.sh configures it (QEMU exits with
// 2 * value + 1). Only reached when nvmevm's own mechanism did not end the VM.
constexpr uint16_t kQemuDebugExit = 0xf4;
constexpr uint8_t kI8042Reset = 0xfe;
constexpr uint8_t kSleepEnable = 0x20;

[[noreturn]] void did_not_end(const char* what, uint8_t qemu_status) {
    put_line_start(what);
    put_str(" did not end the VM\n");
    outb(kQemuDebugExit, qemu_status);
    crash_vm();
}

}  // namespace

void exit_vm(uint8_t status) {
    outl(ports::kGuestControl + ports::kGuestExitStatusOffset, status);
    outb(kQemuDebugExit, status);  // QEMU: exit code 2 * status + 1
    did_not_end("exit through port 0x610", 0xff);
}

void reset_vm() {
    outb(ports::kI8042Command, kI8042Reset);
    did_not_end("i8042 reset", 0xff);
}

void poweroff_vm() {
    outb(ports::kAcpiSleepControl, (ports::kAcpiSleepTypeS5 << 2) | kSleepEnable);
    did_not_end("ACPI S5 power-off", 0xff);
}

void crash_vm() {
    // The IDT's #UD, #NP and #DF gates are not present (cpu_tables.S, interrupts.cc):
    // #UD -> #NP -> #DF -> triple fault.
    for (;;) {
        asm volatile("ud2");
    }
}

}  // namespace guest
