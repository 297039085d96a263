// Recognising and loading a guest kernel: a Linux bzImage (x86 64-bit boot protocol), or an
// ELF with a PVH entry note (Linux vmlinux, the test guest). Pure functions over bytes and
// GuestMemory, so they are unit-tested without KVM.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>

#include "foundation/guest_memory.h"

namespace nvmevm {

// A kernel or initrd that cannot be booted; message says why ("not a kernel: ...").
class BootError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

enum class KernelFormat { bzimage, pvh_elf };

// What probing a kernel image tells before anything is loaded: enough for `nvmevm check`
// to say whether the kernel and initrd fit in the configured memory.
struct KernelInfo {
    KernelFormat format;
    uint64_t load_end;         // first guest address above the loaded kernel image
    uint64_t initrd_addr_max;  // highest address the initrd's last byte may occupy
};

// Throws BootError when `image` is neither a usable bzImage nor a PVH ELF.
[[nodiscard]] KernelInfo probe_kernel(std::span<const uint8_t> image);

// Register state the vCPU 0 starts with, as the boot protocol demands.
struct EntryState {
    enum class Mode { long_mode_64, protected_32 } mode;
    uint64_t rip;
    uint64_t rsi;  // bzImage: boot_params
    uint64_t rbx;  // PVH: hvm_start_info
    uint64_t rsp;
};

struct BootInputs {
    std::span<const uint8_t> kernel;
    std::span<const uint8_t> initrd;  // may be empty
    std::string cmdline;
    uint64_t acpi_rsdp = 0;  // guest address of the RSDP, 0 if none
};

// Loads kernel, initrd, command line and the boot information structure (boot_params with
// E820, or hvm_start_info with a memory map) into guest memory. Throws BootError.
[[nodiscard]] EntryState load_kernel(const GuestMemory& memory, const BootInputs& inputs);

}  // namespace nvmevm
