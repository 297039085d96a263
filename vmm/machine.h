// The whole virtual machine: builds it from a checked VmConfig (KVM VM, guest RAM, devices,
// boot data, vCPU threads), runs it until the guest or a signal ends it, and says how it ended.
#pragma once

#include "vmm/vm_config.h"
#include "vmm/vm_outcome.h"

namespace nvmevm {

[[nodiscard]] VmOutcome run_machine(const VmConfig& config);

}  // namespace nvmevm
