// The PVH boot ABI's start-of-day structures (Xen public header
// arch-x86/hvm/start_info.h, as Linux arch/x86/platform/pvh and QEMU implement it): the
// loader enters the kernel in 32-bit protected mode with EBX pointing at hvm_start_info.
#pragma once

#include <cstddef>
#include <cstdint>

namespace nvmevm::pvh {

inline constexpr uint32_t kStartInfoMagic = 0x336e'c578;  // XEN_HVM_START_MAGIC_VALUE
inline constexpr uint32_t kStartInfoVersion = 1;          // version 1 adds the memory map

// ELF note announcing the 32-bit entry point (Xen public header elfnote.h).
inline constexpr uint32_t kElfNotePhys32Entry = 18;  // XEN_ELFNOTE_PHYS32_ENTRY

#pragma pack(push, 1)

struct StartInfo {
    uint32_t magic;
    uint32_t version;
    uint32_t flags;
    uint32_t nr_modules;
    uint64_t modlist_paddr;
    uint64_t cmdline_paddr;
    uint64_t rsdp_paddr;
    uint64_t memmap_paddr;  // version 1
    uint32_t memmap_entries;
    uint32_t reserved;
};
static_assert(sizeof(StartInfo) == 56);
static_assert(offsetof(StartInfo, modlist_paddr) == 16);
static_assert(offsetof(StartInfo, rsdp_paddr) == 32);
static_assert(offsetof(StartInfo, memmap_paddr) == 40);
static_assert(offsetof(StartInfo, memmap_entries) == 48);

struct ModlistEntry {
    uint64_t paddr;
    uint64_t size;
    uint64_t cmdline_paddr;
    uint64_t reserved;
};
static_assert(sizeof(ModlistEntry) == 32);

// Types are the E820 / ACPI address range types (XEN_HVM_MEMMAP_TYPE_RAM = 1, ...).
struct MemmapEntry {
    uint64_t addr;
    uint64_t size;
    uint32_t type;
    uint32_t reserved;
};
static_assert(sizeof(MemmapEntry) == 24);

#pragma pack(pop)

}  // namespace nvmevm::pvh
