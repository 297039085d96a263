// Reading the VMM's ACPI tables: RSDP -> XSDT (or RSDT) -> MADT, every checksum and length
// checked, every address through phys_ptr. Used by `cpus`; later SMP work starts here.
#pragma once

#include <stdint.h>

namespace guest {

struct CpuCount {
    bool ok = false;
    uint32_t cpus = 0;              // enabled local APIC + local x2APIC entries
    const char* error = "unknown";  // why not, when !ok
};

CpuCount count_madt_cpus(uint64_t rsdp_paddr);

}  // namespace guest
