#include "devices/vm_outcome.h"

#include <algorithm>

namespace nvmevm {

int exit_code_for(const VmOutcome& outcome) {
    switch (outcome.end) {
        case VmEnd::powered_off:
            return exit_code::powered_off;
        case VmEnd::reset:
            return exit_code::reset;
        case VmEnd::guest_status:
            return exit_code::guest_status_base +
                   std::min<int>(outcome.guest_status, exit_code::guest_status_max);
        case VmEnd::guest_crashed:
            return exit_code::guest_crashed;
        case VmEnd::vmm_error:
            return exit_code::vmm_error;
        case VmEnd::stopped:
            return exit_code::stopped;
    }
    return exit_code::vmm_error;
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
