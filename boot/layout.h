// Where nvmevm places boot data in guest physical memory. All below 1 MiB except the kernel
// and initrd, the classic PC layout Linux and PVH guests expect.
#pragma once

#include <cstdint>

namespace nvmevm::layout {

inline constexpr uint64_t kGdt = 0x500;         // boot GDT (bzImage 64-bit entry)
inline constexpr uint64_t kBootStack = 0x8000;  // top of a small stack for entry
inline constexpr uint64_t kPml4 = 0x9000;       // identity page tables for 64-bit entry
inline constexpr uint64_t kPdpt = 0xA000;
inline constexpr uint64_t kPd = 0xB000;           // 4 pages: 4 GiB of 2 MiB mappings
inline constexpr uint64_t kZeroPage = 0x10000;    // boot_params (Linux) / hvm_start_info (PVH)
inline constexpr uint64_t kPvhModules = 0x11000;  // hvm_modlist_entry array
inline constexpr uint64_t kPvhMemmap = 0x12000;   // hvm_memmap_table_entry array
inline constexpr uint64_t kCmdline = 0x20000;     // kernel command line (up to 64 KiB)
inline constexpr uint64_t kCmdlineMax = 0x10000;
inline constexpr uint64_t kMpTable = 0x9FC00;  // MP floating pointer + table (in the EBDA)
inline constexpr uint64_t kEbdaStart = 0x9FC00;
inline constexpr uint64_t kBiosStart = 0xA0000;    // VGA hole + BIOS area: not RAM in E820
inline constexpr uint64_t kAcpiTables = 0xE0000;   // RSDP and ACPI tables (BIOS read-only area)
inline constexpr uint64_t kHighMemory = 0x100000;  // 1 MiB: bzImage protected-mode kernel

}  // namespace nvmevm::layout
