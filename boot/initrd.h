// Where the initrd goes: as high in low RAM as the kernel allows, above the kernel's own
// working area. Both boot paths use it (boot.rst, "initrd_addr_max" and "init_size").
#pragma once

#include <cstdint>
#include <span>

#include "foundation/guest_memory.h"

namespace nvmevm {

struct InitrdPlacement {
    uint64_t addr;
    uint64_t size;
};

// The highest page-aligned address at which `size` bytes end at or below min(end of low
// RAM, addr_max + 1, 4 GiB) and start at or above `kernel_end`. Throws BootError saying how
// much room there was when the initrd does not fit.
[[nodiscard]] InitrdPlacement place_initrd(const GuestMemory& memory, uint64_t size,
                                           uint64_t kernel_end, uint64_t addr_max);

// Places and copies the initrd; {0, 0} and nothing written when `initrd` is empty.
[[nodiscard]] InitrdPlacement load_initrd(const GuestMemory& memory,
                                          std::span<const uint8_t> initrd, uint64_t kernel_end,
                                          uint64_t addr_max);

}  // namespace nvmevm
