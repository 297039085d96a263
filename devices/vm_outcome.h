// How a VM ended, and the process exit code each outcome maps to (docs/exit-codes.md).
// A serverless host or a CI job reads the exit code alone to tell these apart.
#pragma once

#include <cstdint>
#include <string>

namespace nvmevm {

enum class VmEnd {
    powered_off,    // ACPI S5 from the guest (Linux `poweroff`)
    reset,          // guest reset: i8042 pulse, ACPI reset register, port 0xCF9 (Linux `reboot`)
    guest_status,   // the guest wrote a status to the exit port
    guest_crashed,  // triple fault (shutdown exit), KVM internal error, failed VM entry
    vmm_error,      // nvmevm itself failed at run time
    stopped,        // SIGTERM or SIGINT: stopped gracefully
};

struct VmOutcome {
    VmEnd end = VmEnd::vmm_error;
    uint8_t guest_status = 0;  // valid when end == guest_status
    std::string detail;        // human-readable reason, for the log
};

// The exit-code contract. Fixed codes sit below 16; a guest-chosen status s becomes 16 + s, so
// no guest status can be mistaken for one of nvmevm's own outcomes.
namespace exit_code {
inline constexpr int powered_off = 0;
inline constexpr int vmm_error = 1;
inline constexpr int usage = 2;  // bad command line or configuration; no VM was started
inline constexpr int reset = 3;
inline constexpr int guest_crashed = 4;
inline constexpr int stopped = 5;
inline constexpr int guest_status_base = 16;
inline constexpr int guest_status_max = 255 - guest_status_base;  // 239
}  // namespace exit_code

[[nodiscard]] int exit_code_for(const VmOutcome& outcome);
[[nodiscard]] const char* describe(VmEnd end);

}  // namespace nvmevm
