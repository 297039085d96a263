// struct hvm_start_info, the PVH boot ABI's description of the VM (xen/arch-x86/hvm/
// start_info.h; layout restated here from the ABI), and the checked accessors for it.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace guest {

inline constexpr uint32_t kHvmStartMagic = 0x336ec578;

struct HvmStartInfo {
    uint32_t magic;
    uint32_t version;  // 0: fields up to rsdp_paddr; 1: adds the memory map
    uint32_t flags;
    uint32_t nr_modules;
    uint64_t modlist_paddr;
    uint64_t cmdline_paddr;
    uint64_t rsdp_paddr;
    uint64_t memmap_paddr;  // version >= 1
    uint32_t memmap_entries;
    uint32_t reserved;
};
static_assert(offsetof(HvmStartInfo, cmdline_paddr) == 24);
static_assert(offsetof(HvmStartInfo, memmap_paddr) == 40);
static_assert(sizeof(HvmStartInfo) == 56);

struct HvmMemmapEntry {
    uint64_t addr;
    uint64_t size;
    uint32_t type;  // 1 RAM, 2 reserved, 3 ACPI, ...
    uint32_t reserved;
};
static_assert(sizeof(HvmMemmapEntry) == 24);

// The start info at paddr, or nullptr if it is unmapped or its magic is wrong.
const HvmStartInfo* start_info_at(uint64_t paddr);

// The command line (NUL-terminated within kMaxCmdline bytes), or "" if there is none.
inline constexpr size_t kMaxCmdline = 64 * 1024;  // nvmevm allows 64 KiB (boot/layout.h)
const char* start_info_cmdline(const HvmStartInfo& info);

// The memory map, or nullptr (and *count = 0) for version 0 or a bad address.
const HvmMemmapEntry* start_info_memmap(const HvmStartInfo& info, uint32_t* count);

}  // namespace guest
