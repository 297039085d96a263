// Number formatting for BootError messages (GCC 12 has no <format>).
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

namespace nvmevm {

// "0x1000000"
[[nodiscard]] inline std::string hex(uint64_t value) {
    char buffer[24];
    std::snprintf(buffer, sizeof(buffer), "0x%llx", static_cast<unsigned long long>(value));
    return buffer;
}

}  // namespace nvmevm
