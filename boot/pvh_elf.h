// Booting an ELF kernel through its PVH entry point (the Xen PVH boot ABI, as Linux's
// CONFIG_PVH and QEMU's -kernel implement it): PT_LOAD segments are copied to their physical
// addresses, and the kernel is entered in 32-bit protected mode at the address its
// XEN_ELFNOTE_PHYS32_ENTRY note names, with EBX pointing at an hvm_start_info.
#pragma once

#include <cstdint>
#include <span>

#include "boot/elf_image.h"
#include "boot/kernel_image.h"
#include "foundation/guest_memory.h"

namespace nvmevm {

struct PvhElf {
    ElfImage elf;
    uint64_t entry;     // from the PVH note, below 4 GiB, inside a PT_LOAD segment
    uint64_t load_end;  // highest p_paddr + p_memsz of the PT_LOAD segments
};

// Checks the ELF, its segments and its PVH note. Throws BootError; an ELF without the note
// is "not a kernel: ELF without a PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY)".
[[nodiscard]] PvhElf parse_pvh_elf(std::span<const uint8_t> image);

// Loads segments, initrd (as module 0), command line, memory map and hvm_start_info (at
// layout::kZeroPage, modules at kPvhModules, memory map at kPvhMemmap).
[[nodiscard]] EntryState load_pvh_elf(const GuestMemory& memory, const BootInputs& inputs);

// initrd_addr_max for PVH kernels: the start info's addresses are 64-bit, but nvmevm keeps
// the initrd in low RAM like for a bzImage.
inline constexpr uint64_t kPvhInitrdAddrMax = 0xffff'ffff;

}  // namespace nvmevm
