// FADT (ACPI 6.4 §5.2.9): nvmevm is a hardware-reduced ACPI platform (§4.1): no PM1 event
// or control blocks, no PM timer, no GPEs, no SCI; sleep and reset go through the
// SLEEP_CONTROL_REG / SLEEP_STATUS_REG / RESET_REG ports of devices/platform_ports.h.
#include <cstring>

#include "boot/acpi_structs.h"
#include "boot/acpi_tables.h"

namespace nvmevm {
namespace {

constexpr uint8_t kFadtRevision = 6;  // ACPI 6.x layout, 276 bytes
constexpr uint8_t kFadtMinorVersion = 4;
// Hardware-reduced platforms have no SCI; 9 is where a PC has it, so a guest that looks
// finds an ordinary ISA IRQ rather than 0 (the timer).
constexpr uint16_t kSciInt = 9;

acpi::GenericAddress io_port(uint16_t port) {
    return {acpi::kSpaceSystemIo, 8, 0, acpi::kAccessByte, port};
}

}  // namespace

std::vector<uint8_t> build_fadt(const AcpiPlatform& platform, uint64_t dsdt_addr) {
    acpi::Fadt fadt{};
    acpi::fill_header(fadt.header, "FACP", sizeof(fadt), kFadtRevision);
    fadt.minor_version = kFadtMinorVersion;
    // Both DSDT fields hold the same address: a guest reading either finds the table.
    fadt.dsdt = static_cast<uint32_t>(dsdt_addr);
    fadt.x_dsdt = dsdt_addr;
    fadt.sci_int = kSciInt;
    fadt.flags = acpi::kFadtHwReducedAcpi | acpi::kFadtResetRegSup;
    // No VGA; MSI must stay allowed (virtio-pci uses MSI-X); CMOS RTC and i8042 per platform.
    fadt.iapc_boot_arch = acpi::kBootArchVgaNotPresent;
    if (!platform.cmos_rtc) fadt.iapc_boot_arch |= acpi::kBootArchCmosRtcNotPresent;
    if (platform.i8042) fadt.iapc_boot_arch |= acpi::kBootArch8042;
    fadt.reset_reg = io_port(platform.reset_port);
    fadt.reset_value = platform.reset_value;
    fadt.sleep_control_reg = io_port(platform.sleep_control_port);
    fadt.sleep_status_reg = io_port(platform.sleep_status_port);

    std::vector<uint8_t> out(sizeof(fadt));
    std::memcpy(out.data(), &fadt, sizeof(fadt));
    acpi::set_checksum(out);
    return out;
}

}  // namespace nvmevm
