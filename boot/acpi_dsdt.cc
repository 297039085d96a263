// DSDT (ACPI 6.4 §5.2.11.1) in AML, equivalent to this ASL:
//
//   DefinitionBlock ("", "DSDT", 2, "NVMEVM", "NVMEVM  ", 1) {
//       Name (_S5, Package () { 5, 5, 0, 0 })      // SLP_TYP written to SLEEP_CONTROL_REG
//       Scope (\_SB) {
//           Device (PCI0) {                        // PCI root bridge, config via 0xcf8
//               Name (_HID, EisaId ("PNP0A03"))
//               Name (_ADR, 0)  Name (_UID, 0)  Name (_SEG, 0)  Name (_BBN, 0)
//               Name (_CRS, ResourceTemplate () {
//                   WordBusNumber (..., 0, 0, ...)
//                   IO (Decode16, 0x0cf8, 0x0cf8, 1, 8)
//                   WordIO (..., 0x0000, 0x0cf7, ...)  WordIO (..., 0x0d00, 0xffff, ...)
//                   DWordMemory (..., 0xc0000000, 0xfebfffff, ...)
//               })
//           }
//           Device (COM1) {                        // the 8250 UART
//               Name (_HID, EisaId ("PNP0501"))  Name (_UID, 0)
//               Name (_CRS, ResourceTemplate () { IO (Decode16, 0x3f8, 0x3f8, 8, 8)
//                                                 IRQNoFlags () { 4 } })
//           }
//       }
//   }
//
// No MCFG and no ECAM window: PCI configuration space is reached through ports 0xcf8-0xcff.
// No _PRT: the devices use MSI-X, not INTx.
#include <cstring>
#include <stdexcept>

#include "boot/acpi_structs.h"
#include "boot/acpi_tables.h"
#include "boot/aml.h"
#include "boot/kernel_image.h"

namespace nvmevm {
namespace {

constexpr uint8_t kDsdtRevision = 2;  // 2 and up: AML integers are 64 bits

aml::Bytes pci_root(const AcpiPlatform& platform) {
    if (platform.pci_mmio_start >= platform.pci_mmio_end ||
        platform.pci_mmio_end > (uint64_t{1} << 32)) {
        throw BootError("PCI MMIO window must be a non-empty range below 4 GiB");
    }
    const aml::Bytes resources[] = {
        aml::resource::word_bus_number(0, 0),
        aml::resource::io(ports::kPciConfigAddress, ports::kPciConfigAddress, 1, 8),
        aml::resource::word_io(0x0000, ports::kPciConfigAddress - 1),
        aml::resource::word_io(0x0d00, 0xffff),
        aml::resource::dword_memory(static_cast<uint32_t>(platform.pci_mmio_start),
                                    static_cast<uint32_t>(platform.pci_mmio_end - 1)),
    };
    const aml::Bytes terms[] = {
        aml::name("_HID", aml::eisa_id("PNP0A03")),
        aml::name("_ADR", aml::integer(0)),
        aml::name("_UID", aml::integer(0)),
        aml::name("_SEG", aml::integer(0)),
        aml::name("_BBN", aml::integer(0)),
        aml::name("_CRS", aml::resource_template(resources)),
    };
    return aml::device("PCI0", terms);
}

aml::Bytes com1() {
    const aml::Bytes resources[] = {
        aml::resource::io(ports::kCom1, ports::kCom1, 8, 8),
        aml::resource::irq_no_flags(static_cast<uint8_t>(ports::kCom1Irq)),
    };
    const aml::Bytes terms[] = {
        aml::name("_HID", aml::eisa_id("PNP0501")),
        aml::name("_UID", aml::integer(0)),
        aml::name("_CRS", aml::resource_template(resources)),
    };
    return aml::device("COM1", terms);
}

}  // namespace

std::vector<uint8_t> build_dsdt(const AcpiPlatform& platform) {
    // _S5 (§7.4.2): SLP_TYPa, SLP_TYPb, then two reserved values. In hardware-reduced mode
    // the OS writes SLP_TYPa << 2 | SLP_EN to SLEEP_CONTROL_REG.
    const aml::Bytes s5[] = {aml::integer(platform.s5_sleep_type),
                             aml::integer(platform.s5_sleep_type), aml::integer(0),
                             aml::integer(0)};
    std::vector<aml::Bytes> devices = {pci_root(platform)};
    if (platform.com1) devices.push_back(com1());

    aml::Bytes body = aml::name("_S5_", aml::package(s5));
    const aml::Bytes sb = aml::scope("\\_SB_", devices);
    body.insert(body.end(), sb.begin(), sb.end());

    std::vector<uint8_t> out(sizeof(acpi::TableHeader) + body.size());
    std::memcpy(out.data() + sizeof(acpi::TableHeader), body.data(), body.size());
    acpi::TableHeader header{};
    acpi::fill_header(header, "DSDT", static_cast<uint32_t>(out.size()), kDsdtRevision);
    std::memcpy(out.data(), &header, sizeof(header));
    acpi::set_checksum(out);
    return out;
}

}  // namespace nvmevm
