// The one way guest code turns a physical address from the VMM (start info, command line,
// ACPI tables) into a pointer: page_tables.S identity-maps the low 4 GiB, and anything
// outside it, or wrapping around, or at address 0, yields nullptr.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace guest {

inline constexpr uint64_t kIdentityMapped = uint64_t{4} << 30;

template <typename T = uint8_t>
const T* phys_ptr(uint64_t paddr, uint64_t length = sizeof(T)) {
    if (paddr == 0 || length > kIdentityMapped || paddr > kIdentityMapped - length) {
        return nullptr;
    }
    return reinterpret_cast<const T*>(static_cast<uintptr_t>(paddr));
}

}  // namespace guest
