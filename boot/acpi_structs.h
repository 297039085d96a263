// ACPI table layouts nvmevm writes (ACPI 6.4 §5.2), as packed structs with their offsets
// pinned. Only the fixed parts: variable-length tables append entries after these.
#pragma once

#include <cstddef>
#include <cstdint>

namespace nvmevm::acpi {

#pragma pack(push, 1)

// §5.2.5.3 Root System Description Pointer, revision 2.
struct Rsdp {
    char signature[8];  // "RSD PTR "
    uint8_t checksum;   // over the first 20 bytes (the ACPI 1.0 part)
    char oem_id[6];
    uint8_t revision;  // 2: XSDT present
    uint32_t rsdt_address;
    uint32_t length;
    uint64_t xsdt_address;
    uint8_t extended_checksum;  // over all 36 bytes
    uint8_t reserved[3];
};
static_assert(sizeof(Rsdp) == 36);
static_assert(offsetof(Rsdp, rsdt_address) == 16);
static_assert(offsetof(Rsdp, xsdt_address) == 24);
inline constexpr size_t kRsdpV1Length = 20;

// §5.2.6 System Description Table Header.
struct TableHeader {
    char signature[4];
    uint32_t length;
    uint8_t revision;
    uint8_t checksum;  // whole table sums to zero
    char oem_id[6];
    char oem_table_id[8];
    uint32_t oem_revision;
    char creator_id[4];
    uint32_t creator_revision;
};
static_assert(sizeof(TableHeader) == 36);

// §5.2.3.2 Generic Address Structure.
struct GenericAddress {
    uint8_t space_id;  // 0 memory, 1 system I/O
    uint8_t bit_width;
    uint8_t bit_offset;
    uint8_t access_size;  // 1 byte, 2 word, 3 dword, 4 qword
    uint64_t address;
};
static_assert(sizeof(GenericAddress) == 12);
inline constexpr uint8_t kSpaceSystemIo = 1;
inline constexpr uint8_t kAccessByte = 1;

// §5.2.9 Fixed ACPI Description Table, revision 6 (276 bytes).
struct Fadt {
    TableHeader header;
    uint32_t firmware_ctrl;
    uint32_t dsdt;
    uint8_t reserved0;
    uint8_t preferred_pm_profile;
    uint16_t sci_int;
    uint32_t smi_cmd;
    uint8_t acpi_enable;
    uint8_t acpi_disable;
    uint8_t s4bios_req;
    uint8_t pstate_cnt;
    uint32_t pm1a_evt_blk;
    uint32_t pm1b_evt_blk;
    uint32_t pm1a_cnt_blk;
    uint32_t pm1b_cnt_blk;
    uint32_t pm2_cnt_blk;
    uint32_t pm_tmr_blk;
    uint32_t gpe0_blk;
    uint32_t gpe1_blk;
    uint8_t pm1_evt_len;
    uint8_t pm1_cnt_len;
    uint8_t pm2_cnt_len;
    uint8_t pm_tmr_len;
    uint8_t gpe0_blk_len;
    uint8_t gpe1_blk_len;
    uint8_t gpe1_base;
    uint8_t cst_cnt;
    uint16_t p_lvl2_lat;
    uint16_t p_lvl3_lat;
    uint16_t flush_size;
    uint16_t flush_stride;
    uint8_t duty_offset;
    uint8_t duty_width;
    uint8_t day_alrm;
    uint8_t mon_alrm;
    uint8_t century;
    uint16_t iapc_boot_arch;
    uint8_t reserved1;
    uint32_t flags;
    GenericAddress reset_reg;
    uint8_t reset_value;
    uint16_t arm_boot_arch;
    uint8_t minor_version;
    uint64_t x_firmware_ctrl;
    uint64_t x_dsdt;
    GenericAddress x_pm1a_evt_blk;
    GenericAddress x_pm1b_evt_blk;
    GenericAddress x_pm1a_cnt_blk;
    GenericAddress x_pm1b_cnt_blk;
    GenericAddress x_pm2_cnt_blk;
    GenericAddress x_pm_tmr_blk;
    GenericAddress x_gpe0_blk;
    GenericAddress x_gpe1_blk;
    GenericAddress sleep_control_reg;
    GenericAddress sleep_status_reg;
    uint64_t hypervisor_vendor_identity;
};
static_assert(sizeof(Fadt) == 276);
static_assert(offsetof(Fadt, dsdt) == 40);
static_assert(offsetof(Fadt, iapc_boot_arch) == 109);
static_assert(offsetof(Fadt, flags) == 112);
static_assert(offsetof(Fadt, reset_reg) == 116);
static_assert(offsetof(Fadt, reset_value) == 128);
static_assert(offsetof(Fadt, minor_version) == 131);
static_assert(offsetof(Fadt, x_dsdt) == 140);
static_assert(offsetof(Fadt, sleep_control_reg) == 244);
static_assert(offsetof(Fadt, sleep_status_reg) == 256);
static_assert(offsetof(Fadt, hypervisor_vendor_identity) == 268);

// FADT flags (§5.2.9, Table 5.10).
inline constexpr uint32_t kFadtResetRegSup = 1u << 10;
inline constexpr uint32_t kFadtHwReducedAcpi = 1u << 20;
// IA-PC boot architecture flags (§5.2.9.3, Table 5.11).
inline constexpr uint16_t kBootArchLegacyDevices = 1u << 0;
inline constexpr uint16_t kBootArch8042 = 1u << 1;
inline constexpr uint16_t kBootArchVgaNotPresent = 1u << 2;
inline constexpr uint16_t kBootArchMsiNotSupported = 1u << 3;
inline constexpr uint16_t kBootArchCmosRtcNotPresent = 1u << 5;

// §5.2.12 Multiple APIC Description Table, fixed part.
struct Madt {
    TableHeader header;
    uint32_t local_apic_address;
    uint32_t flags;
};
static_assert(sizeof(Madt) == 44);
inline constexpr uint32_t kMadtPcatCompat = 1u << 0;

// §5.2.12.2 Processor Local APIC structure.
struct MadtLocalApic {
    uint8_t type;  // 0
    uint8_t length;
    uint8_t processor_uid;
    uint8_t apic_id;
    uint32_t flags;  // bit 0: enabled
};
static_assert(sizeof(MadtLocalApic) == 8);

// §5.2.12.3 I/O APIC structure.
struct MadtIoApic {
    uint8_t type;  // 1
    uint8_t length;
    uint8_t io_apic_id;
    uint8_t reserved;
    uint32_t address;
    uint32_t gsi_base;
};
static_assert(sizeof(MadtIoApic) == 12);

// §5.2.12.5 Interrupt Source Override structure.
struct MadtInterruptOverride {
    uint8_t type;  // 2
    uint8_t length;
    uint8_t bus;  // 0: ISA
    uint8_t source;
    uint32_t gsi;
    uint16_t flags;  // MPS INTI flags: polarity bits 1-0, trigger mode bits 3-2
};
static_assert(sizeof(MadtInterruptOverride) == 10);

// §5.2.12.7 Local APIC NMI structure.
struct MadtLocalApicNmi {
    uint8_t type;  // 4
    uint8_t length;
    uint8_t processor_uid;  // 0xff: all processors
    uint16_t flags;
    uint8_t lint;
};
static_assert(sizeof(MadtLocalApicNmi) == 6);

inline constexpr uint8_t kMadtTypeLocalApic = 0;
inline constexpr uint8_t kMadtTypeIoApic = 1;
inline constexpr uint8_t kMadtTypeInterruptOverride = 2;
inline constexpr uint8_t kMadtTypeLocalApicNmi = 4;
inline constexpr uint32_t kMadtLocalApicEnabled = 1u << 0;
// MPS INTI flags (§5.2.12.5, Table 5.26).
inline constexpr uint16_t kIntiActiveHigh = 0x1;
inline constexpr uint16_t kIntiEdgeTriggered = 0x1 << 2;

#pragma pack(pop)

}  // namespace nvmevm::acpi
