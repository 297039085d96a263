// The whole virtual machine: builds it from a checked VmConfig (KVM VM, guest RAM, devices,
// boot data, vCPU threads), runs it until the guest or a signal ends it, and says how it ended.
#pragma once

#include <cstdint>

#include "devices/vm_outcome.h"
#include "vmm/vm_config.h"

namespace nvmevm {

// What a run cost, in the figures the I/O path is judged by (docs/benchmarks.md); the same
// numbers as the `stats:` log line, for `nvmevm bench`.
struct MachineCounters {
    uint64_t kvm_run = 0;      // KVM_RUN returns, all vCPUs
    uint64_t interrupted = 0;  // of which EINTR: a signal or io_uring task work
    uint64_t port_io = 0;      // of which KVM_EXIT_IO
    uint64_t mmio = 0;         // of which KVM_EXIT_MMIO
    uint64_t blk_requests = 0;
    uint64_t blk_interrupts = 0;
    uint64_t blk_errors = 0;
    uint64_t blk_throttled = 0;  // times a drive's rate limit held a queue back
    uint64_t blk_rmw = 0;        // requests served through 512-byte emulation's bounce buffers
    uint64_t stall_kicks = 0;    // vCPUs kicked out of KVM_RUN over completions left waiting
};

[[nodiscard]] VmOutcome run_machine(const VmConfig& config);
// run_machine that also hands back the counters, filled once the VM has ended.
[[nodiscard]] VmOutcome run_machine_counted(const VmConfig& config, MachineCounters& counters);

}  // namespace nvmevm
