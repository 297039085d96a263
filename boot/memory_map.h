// The guest's physical memory map as firmware would report it (E820 for a bzImage, the
// hvm_start_info memmap for PVH; both use the ACPI address range types). One function so
// that both boot paths tell the guest the same thing.
#pragma once

#include <cstdint>
#include <vector>

#include "foundation/guest_memory.h"

namespace nvmevm {

// ACPI 6.4 §15.1 "Address Range Types" (the E820 type numbers).
enum class MemoryType : uint32_t { ram = 1, reserved = 2, acpi_reclaimable = 3, acpi_nvs = 4 };

struct MemoryMapEntry {
    uint64_t addr;
    uint64_t size;
    MemoryType type;
    bool operator==(const MemoryMapEntry&) const = default;
};

// Sorted by address, non-overlapping:
//   RAM       [0, EBDA)                   conventional memory below the EBDA
//   reserved  [EBDA, 0xA0000)             where a PC's BIOS keeps its extended data area
//   reserved  [0xE0000, 1 MiB)            BIOS read-only area: nvmevm's ACPI tables live here
//   RAM       [1 MiB, end of low RAM)     and every further GuestMemory region (above 4 GiB)
// [0xA0000, 0xE0000) is left out: the VGA hole and option ROMs, not RAM on a PC.
// Each entry is clipped to the RAM GuestMemory really has.
[[nodiscard]] std::vector<MemoryMapEntry> build_memory_map(const GuestMemory& memory);

// The end of the RAM region that starts at guest address 0 (the highest address a 32-bit
// boot structure or initrd may reach).
[[nodiscard]] uint64_t low_ram_end(const GuestMemory& memory);

}  // namespace nvmevm
