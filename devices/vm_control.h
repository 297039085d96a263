// How a device asks for the VM to end, without knowing about KVM or vCPU threads. The VMM
// implements it: the first request wins, every vCPU is kicked out of KVM_RUN, and the outcome
// becomes the process exit code (devices/vm_outcome.h).
#pragma once

#include "devices/vm_outcome.h"

namespace nvmevm {

class VmControl {
  public:
    virtual ~VmControl() = default;
    // Called from a vCPU thread while it handles an exit; must not block on that vCPU.
    virtual void request_stop(VmOutcome outcome) = 0;
};

}  // namespace nvmevm
