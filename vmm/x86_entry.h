// The x86 CPU state a guest kernel is entered with, as the boot protocols require:
// 64-bit long mode with identity-mapped low memory (Linux x86 64-bit boot protocol), or flat
// 32-bit protected mode with paging off (PVH). Also the per-vCPU architectural defaults
// (MSRs, FPU, local APIC LINT pins) that firmware would otherwise leave behind.
#pragma once

#include <linux/kvm.h>

#include "boot/kernel_image.h"
#include "foundation/guest_memory.h"

namespace nvmevm {

// Writes the boot GDT and the identity page tables (4 GiB, 2 MiB pages) into guest memory.
void write_entry_tables(const GuestMemory& memory);

// Special registers for the entry mode; `base` is what KVM_GET_SREGS returned.
[[nodiscard]] kvm_sregs entry_sregs(const kvm_sregs& base, EntryState::Mode mode);
[[nodiscard]] kvm_regs entry_regs(const EntryState& entry);

}  // namespace nvmevm
