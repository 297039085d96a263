#include "devices/vm_outcome.h"

namespace nvmevm {

int exit_code_for(const VmOutcome& outcome) {
    switch (outcome.end) {
        case VmEnd::powered_off:
            return exit_code::powered_off;
        case VmEnd::reset:
            return exit_code::reset;
        case VmEnd::guest_status:
            return guest_status_shares_its_code(outcome)
                       ? exit_code::guest_status_high
                       : exit_code::guest_status_base + outcome.guest_status;
        case VmEnd::guest_crashed:
            return exit_code::guest_crashed;
        case VmEnd::vmm_error:
            return exit_code::vmm_error;
        case VmEnd::stopped:
            return exit_code::stopped;
    }
    return exit_code::vmm_error;
}

bool guest_status_shares_its_code(const VmOutcome& outcome) {
    return outcome.end == VmEnd::guest_status &&
           outcome.guest_status > exit_code::guest_status_exact_max;
}

const char* describe(VmEnd end) {
    switch (end) {
        case VmEnd::powered_off:
            return "guest powered off";
        case VmEnd::reset:
            return "guest reset";
        case VmEnd::guest_status:
            return "guest exited with a status";
        case VmEnd::guest_crashed:
            return "guest crashed";
        case VmEnd::vmm_error:
            return "nvmevm error";
        case VmEnd::stopped:
            return "stopped by signal";
    }
    return "?";
}

}  // namespace nvmevm
