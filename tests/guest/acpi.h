// Reading the VMM's ACPI tables: RSDP -> XSDT (or RSDT) -> MADT, every checksum and length
// checked, every address through phys_ptr. Used by `cpus`, and by smp.cc for the APIC IDs.
#pragma once

#include <stdint.h>

namespace guest {

inline constexpr unsigned kMaxListedCpus = 8;

struct CpuCount {
    bool ok = false;
    uint32_t cpus = 0;              // enabled local APIC + local x2APIC entries
    const char* error = "unknown";  // why not, when !ok
    // The APIC IDs of the first kMaxListedCpus enabled entries, in table order.
    uint32_t apic_ids[kMaxListedCpus] = {};
    unsigned listed = 0;
};

CpuCount count_madt_cpus(uint64_t rsdp_paddr);

}  // namespace guest
