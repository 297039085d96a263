// MADT (ACPI 6.4 §5.2.12): one enabled local APIC per vCPU, the I/O APIC, the ISA timer
// override and the LINT1 NMI wiring that a PC's firmware reports.
#include <cstring>

#include "boot/acpi_structs.h"
#include "boot/acpi_tables.h"

namespace nvmevm {
namespace {

constexpr uint8_t kMadtRevision = 5;  // ACPI 6.x
constexpr uint8_t kAllProcessors = 0xff;
constexpr uint8_t kIsaBus = 0;
constexpr uint8_t kPitIrq = 0;
constexpr uint32_t kPitGsi = 2;  // the PIT is wired to I/O APIC pin 2, as on every PC
constexpr uint8_t kNmiLint = 1;

template <typename T>
void append(std::vector<uint8_t>& out, const T& value) {
    const auto* p = reinterpret_cast<const uint8_t*>(&value);
    out.insert(out.end(), p, p + sizeof(T));
}

}  // namespace

std::vector<uint8_t> build_madt(const AcpiPlatform& platform) {
    std::vector<uint8_t> out(sizeof(acpi::Madt));
    for (uint32_t i = 0; i < platform.vcpus; ++i) {
        const auto id = static_cast<uint8_t>(i);
        append(out, acpi::MadtLocalApic{acpi::kMadtTypeLocalApic, sizeof(acpi::MadtLocalApic), id,
                                        id, acpi::kMadtLocalApicEnabled});
    }
    append(out, acpi::MadtIoApic{
                    acpi::kMadtTypeIoApic, sizeof(acpi::MadtIoApic), platform.ioapic_id, 0,
                    static_cast<uint32_t>(platform.ioapic_address), platform.ioapic_gsi_base});
    append(out, acpi::MadtInterruptOverride{
                    acpi::kMadtTypeInterruptOverride, sizeof(acpi::MadtInterruptOverride), kIsaBus,
                    kPitIrq, kPitGsi, acpi::kIntiActiveHigh | acpi::kIntiEdgeTriggered});
    append(out, acpi::MadtLocalApicNmi{acpi::kMadtTypeLocalApicNmi, sizeof(acpi::MadtLocalApicNmi),
                                       kAllProcessors,
                                       acpi::kIntiActiveHigh | acpi::kIntiEdgeTriggered, kNmiLint});

    acpi::Madt madt{};
    acpi::fill_header(madt.header, "APIC", static_cast<uint32_t>(out.size()), kMadtRevision);
    madt.local_apic_address = static_cast<uint32_t>(platform.lapic_address);
    madt.flags = platform.pcat_compat ? acpi::kMadtPcatCompat : 0;
    std::memcpy(out.data(), &madt, sizeof(madt));
    acpi::set_checksum(out);
    return out;
}

}  // namespace nvmevm
