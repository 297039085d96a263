// The Linux x86 boot protocol's data structures: the setup header inside a bzImage and the
// boot_params "zero page" a boot loader hands to the kernel. Field names and offsets follow
// Documentation/arch/x86/boot.rst ("The Real-Mode Kernel Header") and zero-page.rst; every
// offset the loader relies on is pinned by a static_assert below.
#pragma once

#include <cstddef>
#include <cstdint>

namespace nvmevm::linux_boot {

inline constexpr uint32_t kHeaderMagic = 0x5372'6448;   // "HdrS" at 0x202
inline constexpr uint16_t kBootFlag = 0xAA55;           // at 0x1fe
inline constexpr uint64_t kSetupHeaderOffset = 0x1f1;   // setup header inside image and zero page
inline constexpr uint64_t kHeaderLengthOffset = 0x201;  // end of header = 0x202 + this byte
inline constexpr uint64_t kSectorSize = 512;
inline constexpr uint8_t kDefaultSetupSects = 4;  // "If this field is 0, the real value is 4."

// Protocol 2.12 added xloadflags and with it XLF_KERNEL_64, the 64-bit entry point at
// load address + 0x200 that nvmevm jumps to; 2.14 added acpi_rsdp_addr.
inline constexpr uint16_t kMinProtocol = 0x020c;
inline constexpr uint16_t kAcpiRsdpProtocol = 0x020e;
inline constexpr uint64_t kEntry64Offset = 0x200;

// loadflags
inline constexpr uint8_t kLoadedHigh = 1u << 0;  // protected-mode code is loaded at 0x100000
inline constexpr uint8_t kCanUseHeap = 1u << 7;  // heap_end_ptr is valid
// xloadflags
inline constexpr uint16_t kXlfKernel64 = 1u << 0;  // has the 64-bit entry point
inline constexpr uint16_t kXlfCanBeLoadedAbove4G = 1u << 1;

inline constexpr uint8_t kLoaderTypeUndefined = 0xff;  // "no assigned ID"
// heap_end_ptr: offset from the start of setup, minus 0x200, of the end of the setup heap;
// 0xfe00 is the customary value for a loader that leaves the whole 64 KiB segment to it.
inline constexpr uint16_t kHeapEndPtr = 0xfe00;
// initrd_addr_max for kernels that leave it 0 (protocols before 2.03).
inline constexpr uint32_t kDefaultInitrdAddrMax = 0x37ff'ffff;

#pragma pack(push, 1)

struct SetupHeader {
    uint8_t setup_sects;
    uint16_t root_flags;
    uint32_t syssize;
    uint16_t ram_size;
    uint16_t vid_mode;
    uint16_t root_dev;
    uint16_t boot_flag;
    uint16_t jump;
    uint32_t header;
    uint16_t version;
    uint32_t realmode_swtch;
    uint16_t start_sys_seg;
    uint16_t kernel_version;
    uint8_t type_of_loader;
    uint8_t loadflags;
    uint16_t setup_move_size;
    uint32_t code32_start;
    uint32_t ramdisk_image;
    uint32_t ramdisk_size;
    uint32_t bootsect_kludge;
    uint16_t heap_end_ptr;
    uint8_t ext_loader_ver;
    uint8_t ext_loader_type;
    uint32_t cmd_line_ptr;
    uint32_t initrd_addr_max;
    uint32_t kernel_alignment;
    uint8_t relocatable_kernel;
    uint8_t min_alignment;
    uint16_t xloadflags;
    uint32_t cmdline_size;
    uint32_t hardware_subarch;
    uint64_t hardware_subarch_data;
    uint32_t payload_offset;
    uint32_t payload_length;
    uint64_t setup_data;
    uint64_t pref_address;
    uint32_t init_size;
    uint32_t handover_offset;
    uint32_t kernel_info_offset;
};

// Offsets in the setup header are given in boot.rst relative to the start of the image
// (or zero page); this checks ours against that table.
#define NVMEVM_HDR_AT(field, offset) \
    static_assert(kSetupHeaderOffset + offsetof(SetupHeader, field) == (offset))
NVMEVM_HDR_AT(setup_sects, 0x1f1);
NVMEVM_HDR_AT(syssize, 0x1f4);
NVMEVM_HDR_AT(boot_flag, 0x1fe);
NVMEVM_HDR_AT(header, 0x202);
NVMEVM_HDR_AT(version, 0x206);
NVMEVM_HDR_AT(type_of_loader, 0x210);
NVMEVM_HDR_AT(loadflags, 0x211);
NVMEVM_HDR_AT(code32_start, 0x214);
NVMEVM_HDR_AT(ramdisk_image, 0x218);
NVMEVM_HDR_AT(ramdisk_size, 0x21c);
NVMEVM_HDR_AT(heap_end_ptr, 0x224);
NVMEVM_HDR_AT(cmd_line_ptr, 0x228);
NVMEVM_HDR_AT(initrd_addr_max, 0x22c);
NVMEVM_HDR_AT(kernel_alignment, 0x230);
NVMEVM_HDR_AT(relocatable_kernel, 0x234);
NVMEVM_HDR_AT(xloadflags, 0x236);
NVMEVM_HDR_AT(cmdline_size, 0x238);
NVMEVM_HDR_AT(pref_address, 0x258);
NVMEVM_HDR_AT(init_size, 0x260);
NVMEVM_HDR_AT(kernel_info_offset, 0x268);
#undef NVMEVM_HDR_AT
static_assert(sizeof(SetupHeader) == 0x26c - kSetupHeaderOffset);

// One entry of the E820 table in boot_params (zero-page.rst: struct boot_e820_entry).
struct E820Entry {
    uint64_t addr;
    uint64_t size;
    uint32_t type;
};
static_assert(sizeof(E820Entry) == 20);

inline constexpr size_t kE820MaxEntries = 128;  // E820_MAX_ENTRIES_ZEROPAGE

// The zero page. Only the fields a boot loader fills are named; the rest is padding that
// stays zero (zero-page.rst lists them).
struct BootParams {
    uint8_t screen_info[0x40];
    uint8_t apm_bios_info[0x14];
    uint8_t pad2[4];
    uint64_t tboot_addr;
    uint8_t ist_info[0x10];
    uint64_t acpi_rsdp_addr;
    uint8_t pad3[8];
    uint8_t hd0_info[0x10];
    uint8_t hd1_info[0x10];
    uint8_t sys_desc_table[0x10];
    uint8_t olpc_ofw_header[0x10];
    uint32_t ext_ramdisk_image;
    uint32_t ext_ramdisk_size;
    uint32_t ext_cmd_line_ptr;
    uint8_t pad4[0x70];
    uint32_t cc_blob_address;
    uint8_t edid_info[0x80];
    uint8_t efi_info[0x20];
    uint32_t alt_mem_k;
    uint32_t scratch;
    uint8_t e820_entries;
    uint8_t eddbuf_entries;
    uint8_t edd_mbr_sig_buf_entries;
    uint8_t kbd_status;
    uint8_t secure_boot;
    uint8_t pad5[2];
    // If the loader copied a whole page of garbage, the kernel notices this is non-zero and
    // clears fields it cannot trust; nvmevm starts from a zeroed page so it stays 0.
    uint8_t sentinel;
    uint8_t pad6[1];
    SetupHeader hdr;
    uint8_t pad7[0x290 - 0x1f1 - sizeof(SetupHeader)];
    uint32_t edd_mbr_sig_buffer[16];
    E820Entry e820_table[kE820MaxEntries];
    uint8_t pad8[0x30];
    uint8_t eddbuf[0x1ec];
    uint8_t pad9[0x114];
};

#pragma pack(pop)

static_assert(sizeof(BootParams) == 4096);
static_assert(offsetof(BootParams, acpi_rsdp_addr) == 0x070);
static_assert(offsetof(BootParams, ext_ramdisk_image) == 0x0c0);
static_assert(offsetof(BootParams, ext_ramdisk_size) == 0x0c4);
static_assert(offsetof(BootParams, ext_cmd_line_ptr) == 0x0c8);
static_assert(offsetof(BootParams, cc_blob_address) == 0x13c);
static_assert(offsetof(BootParams, e820_entries) == 0x1e8);
static_assert(offsetof(BootParams, sentinel) == 0x1ef);
static_assert(offsetof(BootParams, hdr) == kSetupHeaderOffset);
static_assert(offsetof(BootParams, e820_table) == 0x2d0);
static_assert(offsetof(BootParams, eddbuf) == 0xd00);

// The most of the image's header the zero page can hold: up to edd_mbr_sig_buffer.
inline constexpr uint64_t kSetupHeaderMaxEnd = offsetof(BootParams, edd_mbr_sig_buffer);

}  // namespace nvmevm::linux_boot
