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

// The exit-code contract. Fixed codes sit below 16; a guest-chosen status s becomes 16 + s up
// to status 106 (code 122), and every status from 107 to 255 becomes 123, so that no guest
// status can be mistaken for one of nvmevm's own outcomes, nor for what others say about a
// command: 124 and 125 are timeout(1)'s "timed out" and its own failure (also docker run's
// failure), 126 and 127 the shell's "not executable" and "not found", 128 + n "killed by signal
// n". nvmevm never exits with a code above 123. The exact status is in the log line at exit.
namespace exit_code {
inline constexpr int powered_off = 0;
inline constexpr int vmm_error = 1;
inline constexpr int usage = 2;  // bad command line or configuration; no VM was started
inline constexpr int reset = 3;
inline constexpr int guest_crashed = 4;
inline constexpr int stopped = 5;
// 6 to 15: reserved for nvmevm's own outcomes.
inline constexpr int guest_status_base = 16;
inline constexpr int guest_status_exact_max = 106;  // the largest status with a code of its own
inline constexpr int guest_status_high = guest_status_base + guest_status_exact_max + 1;  // 123
}  // namespace exit_code

[[nodiscard]] int exit_code_for(const VmOutcome& outcome);
[[nodiscard]] const char* describe(VmEnd end);
// True when the exit code does not tell the guest's status exactly (status above
// exit_code::guest_status_exact_max): the log line at exit then says it at warn level.
[[nodiscard]] bool guest_status_shares_its_code(const VmOutcome& outcome);

}  // namespace nvmevm
