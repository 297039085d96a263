#include "boot/acpi_tables.h"

#include <cstring>
#include <string>

#include "boot/acpi_structs.h"
#include "boot/bytes.h"
#include "boot/format.h"
#include "boot/kernel_image.h"
#include "boot/layout.h"

namespace nvmevm {
namespace acpi {

namespace {
constexpr char kOemId[6] = {'N', 'V', 'M', 'E', 'V', 'M'};
constexpr char kOemTableId[8] = {'N', 'V', 'M', 'E', 'V', 'M', ' ', ' '};
constexpr char kCreatorId[4] = {'N', 'V', 'M', 'V'};
constexpr uint32_t kOemRevision = 1;
constexpr uint32_t kCreatorRevision = 1;
}  // namespace

uint8_t sum(std::span<const uint8_t> bytes) {
    uint8_t total = 0;
    for (uint8_t b : bytes) total = static_cast<uint8_t>(total + b);
    return total;
}

void fill_header(TableHeader& header, const char (&signature)[5], uint32_t length,
                 uint8_t revision) {
    std::memcpy(header.signature, signature, 4);
    header.length = length;
    header.revision = revision;
    header.checksum = 0;
    std::memcpy(header.oem_id, kOemId, sizeof(kOemId));
    std::memcpy(header.oem_table_id, kOemTableId, sizeof(kOemTableId));
    header.oem_revision = kOemRevision;
    std::memcpy(header.creator_id, kCreatorId, sizeof(kCreatorId));
    header.creator_revision = kCreatorRevision;
}

void set_checksum(std::span<uint8_t> table) {
    constexpr size_t at = offsetof(TableHeader, checksum);
    table[at] = 0;
    table[at] = static_cast<uint8_t>(-sum(table));
}

}  // namespace acpi

namespace {

// Hands out 16-byte aligned space in the ACPI area and writes tables there.
class AcpiArea {
  public:
    explicit AcpiArea(const GuestMemory& memory) : memory_(memory) {}

    uint64_t put(std::span<const uint8_t> table) {
        const uint64_t addr = next_;
        const uint64_t end = addr + table.size();
        if (end > layout::kHighMemory) throw BootError("ACPI tables overflow their area");
        if (!memory_.write(GuestAddress{addr}, table)) {
            throw BootError("guest RAM does not cover the ACPI area at " + hex(addr));
        }
        next_ = bytes::align_up(end, 16).value_or(UINT64_MAX);
        return addr;
    }

  private:
    const GuestMemory& memory_;
    uint64_t next_ = layout::kAcpiTables;
};

// RSDT (§5.2.7, 32-bit entries) or XSDT (§5.2.8, 64-bit entries) listing `tables`.
template <typename Entry>
std::vector<uint8_t> root_table(const char (&signature)[5], std::span<const uint64_t> tables) {
    std::vector<uint8_t> out(sizeof(acpi::TableHeader) + tables.size() * sizeof(Entry));
    acpi::TableHeader header{};
    acpi::fill_header(header, signature, static_cast<uint32_t>(out.size()), 1);
    std::memcpy(out.data(), &header, sizeof(header));
    for (size_t i = 0; i < tables.size(); ++i) {
        const Entry entry = static_cast<Entry>(tables[i]);
        std::memcpy(out.data() + sizeof(header) + i * sizeof(Entry), &entry, sizeof(Entry));
    }
    acpi::set_checksum(out);
    return out;
}

}  // namespace

uint64_t write_acpi_tables(const GuestMemory& memory, const AcpiPlatform& platform) {
    if (platform.vcpus == 0 || platform.vcpus > kAcpiMaxVcpus) {
        throw BootError("ACPI tables describe 1 to " + std::to_string(kAcpiMaxVcpus) +
                        " vCPUs, not " + std::to_string(platform.vcpus));
    }
    AcpiArea area(memory);
    // The RSDP goes first, at the 16-byte aligned start of the BIOS area, so that a guest
    // that scans for "RSD PTR " (§5.2.5.1) finds it too.
    const uint64_t rsdp_addr = area.put(std::vector<uint8_t>(sizeof(acpi::Rsdp)));

    const uint64_t dsdt = area.put(build_dsdt(platform));
    const uint64_t fadt = area.put(build_fadt(platform, dsdt));
    const uint64_t madt = area.put(build_madt(platform));
    const uint64_t tables[] = {fadt, madt};
    const uint64_t rsdt = area.put(root_table<uint32_t>("RSDT", tables));
    const uint64_t xsdt = area.put(root_table<uint64_t>("XSDT", tables));

    acpi::Rsdp rsdp{};
    std::memcpy(rsdp.signature, "RSD PTR ", 8);
    std::memcpy(rsdp.oem_id, "NVMEVM", 6);
    rsdp.revision = 2;
    rsdp.rsdt_address = static_cast<uint32_t>(rsdt);
    rsdp.length = sizeof(rsdp);
    rsdp.xsdt_address = xsdt;
    const auto raw = [&] {
        return std::span(reinterpret_cast<const uint8_t*>(&rsdp), sizeof(rsdp));
    };
    rsdp.checksum = static_cast<uint8_t>(-acpi::sum(raw().first(acpi::kRsdpV1Length)));
    rsdp.extended_checksum = static_cast<uint8_t>(-acpi::sum(raw()));
    if (!memory.write_obj(GuestAddress{rsdp_addr}, rsdp)) {
        throw BootError("guest RAM does not cover the RSDP at " + hex(rsdp_addr));
    }
    return rsdp_addr;
}

}  // namespace nvmevm
