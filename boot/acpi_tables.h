// The ACPI tables nvmevm gives its guests: RSDP, RSDT, XSDT, FADT (hardware-reduced ACPI),
// MADT and a DSDT with the PCI root bridge, COM1 and the _S5 sleep state. Firmware would
// build these on a PC; a guest kernel finds the RSDP through boot_params / hvm_start_info
// or by scanning 0xE0000-0xFFFFF (ACPI 6.4 §5.2.5.1), where nvmevm puts it.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "devices/platform_ports.h"
#include "foundation/guest_memory.h"

namespace nvmevm {

struct AcpiPlatform {
    uint32_t vcpus = 1;  // local APIC ids 0..vcpus-1 (KVM's default: the vCPU index)
    uint64_t lapic_address = 0xFEE0'0000;
    uint64_t ioapic_address = 0xFEC0'0000;
    uint8_t ioapic_id = 1;  // for_vcpus() sets it to vcpus, above every local APIC id
    uint32_t ioapic_gsi_base = 0;
    // The 32-bit PCI memory window, [start, end): BARs are placed here.
    uint64_t pci_mmio_start = kMmioHoleStart;
    uint64_t pci_mmio_end = 0xFEC0'0000;
    uint16_t sleep_control_port = ports::kAcpiSleepControl;
    uint16_t sleep_status_port = ports::kAcpiSleepStatus;
    uint16_t reset_port = ports::kAcpiReset;
    uint8_t reset_value = ports::kAcpiResetValue;
    uint8_t s5_sleep_type = ports::kAcpiSleepTypeS5;
    bool com1 = true;  // declare the 8250 at ports::kCom1 / kCom1Irq in the DSDT
    // MADT PCAT_COMPAT: "the system also has a PC-AT-compatible dual-8259 setup", true when
    // KVM's in-kernel irqchip (which includes the 8259 pair) is used. Linux masks the 8259s
    // either way, and in hardware-reduced mode it uses no legacy PIC at all.
    bool pcat_compat = true;
    // nvmevm emulates no CMOS RTC: the FADT says so, and Linux does not probe ports 0x70/71
    // for an RTC device (the boot clock comes from kvmclock).
    bool cmos_rtc = false;
    // FADT "8042 present": when false Linux's i8042 driver does not probe for a keyboard
    // controller (ports 0x60/0x64 then serve only the reset pulse).
    bool i8042 = false;

    [[nodiscard]] static AcpiPlatform for_vcpus(uint32_t vcpus) {
        AcpiPlatform p;
        p.vcpus = vcpus;
        p.ioapic_id = static_cast<uint8_t>(vcpus);
        return p;
    }
};

// The most vCPUs the MADT's xAPIC entries can describe here (ids 0..254, 255 is broadcast,
// and the I/O APIC takes the id after the last local APIC).
inline constexpr uint32_t kAcpiMaxVcpus = 254;

// Table builders, exposed for tests: each returns a complete table with its checksum set.
[[nodiscard]] std::vector<uint8_t> build_dsdt(const AcpiPlatform& platform);
[[nodiscard]] std::vector<uint8_t> build_fadt(const AcpiPlatform& platform, uint64_t dsdt_addr);
[[nodiscard]] std::vector<uint8_t> build_madt(const AcpiPlatform& platform);

// Writes all tables into [layout::kAcpiTables, layout::kHighMemory) and returns the guest
// address of the RSDP (16-byte aligned, at the start of that area). Throws BootError when
// the platform cannot be described or guest RAM does not cover the area.
uint64_t write_acpi_tables(const GuestMemory& memory, const AcpiPlatform& platform);

namespace acpi {
// The 8-bit sum of `bytes`; an ACPI table or RSDP part is valid when it is 0.
[[nodiscard]] uint8_t sum(std::span<const uint8_t> bytes);
// Fills a table header (signature, length, revision, nvmevm's OEM ids), checksum 0.
struct TableHeader;
void fill_header(TableHeader& header, const char (&signature)[5], uint32_t length,
                 uint8_t revision);
// Sets the checksum byte of the table in `table` (header at offset 0) so it sums to 0.
void set_checksum(std::span<uint8_t> table);
}  // namespace acpi

}  // namespace nvmevm
