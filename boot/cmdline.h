// The kernel command line in guest memory: a NUL-terminated string at layout::kCmdline.
#pragma once

#include <cstdint>
#include <string_view>

#include "foundation/guest_memory.h"

namespace nvmevm {

// Writes `cmdline` and its terminating NUL at layout::kCmdline and returns that address.
// Throws BootError when it is longer than `max_length` bytes (without the NUL; the kernel's
// cmdline_size) or than the area reserved for it, or contains a NUL.
uint64_t write_cmdline(const GuestMemory& memory, std::string_view cmdline, uint64_t max_length);

}  // namespace nvmevm
