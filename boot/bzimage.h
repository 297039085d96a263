// Linux bzImage loading per the x86 boot protocol (Documentation/arch/x86/boot.rst), entered
// through the 64-bit entry point ("64-bit Boot Protocol"): nvmevm runs no real-mode setup
// code; it copies the protected-mode kernel to 1 MiB and builds boot_params itself.
#pragma once

#include <cstdint>
#include <span>

#include "boot/boot_params.h"
#include "boot/kernel_image.h"
#include "foundation/guest_memory.h"

namespace nvmevm {

// What nvmevm learns from a bzImage's header, every field checked against the file.
struct BzImage {
    linux_boot::SetupHeader header;           // the image's header, zero-extended if shorter
    uint64_t header_end;                      // 0x202 + byte at 0x201, capped to the zero page
    std::span<const uint8_t> protected_mode;  // the part after the setup sectors
    uint64_t load_addr;                       // where protected_mode is copied (1 MiB)
    uint64_t runtime_start;                   // where the kernel decompresses itself to
    uint64_t load_end;                        // end of [runtime_start, +init_size) and the image
    uint64_t initrd_addr_max;
};

// True when `image` carries the "HdrS" setup-header magic (it may still be unusable).
[[nodiscard]] bool has_bzimage_magic(std::span<const uint8_t> image);

// Checks the header and computes the placement. Throws BootError.
[[nodiscard]] BzImage parse_bzimage(std::span<const uint8_t> image);

// Loads kernel, initrd, command line and boot_params (at layout::kZeroPage).
[[nodiscard]] EntryState load_bzimage(const GuestMemory& memory, const BootInputs& inputs);

}  // namespace nvmevm
