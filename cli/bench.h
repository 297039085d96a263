// `nvmevm bench`: boots the benchmark guest (the test guest, built into nvmevm) against a
// drive, lets it run a fio-like workload, and reports the guest's figures with nvmevm's own
// (docs/benchmarks.md).
#pragma once

#include <cstdint>
#include <functional>
#include <ostream>
#include <span>

#include "cli/bench_options.h"
#include "devices/vm_outcome.h"
#include "vmm/machine.h"
#include "vmm/vm_config.h"

namespace nvmevm {

class ProgressClock;

// What `bench` needs from the process; main() passes the real ones, tests fakes.
struct BenchEnvironment {
    std::span<const uint8_t> guest;  // the built-in test guest; empty: none built in
    std::function<VmOutcome(const VmConfig&, MachineCounters&)> run_machine;
    std::function<uint64_t()> tsc_khz;        // empty: probe_tsc_khz()
    ProgressClock* progress_clock = nullptr;  // null: the steady clock (outlives run_bench)
};

// Runs the benchmark; prints the summary (or JSON) on `out`, progress and errors on `err`.
// Returns the exit code: 0 when the guest reported its figures, 2 for a bad configuration,
// else what the VM's end maps to (1 when the guest ended with a failure status).
[[nodiscard]] int run_bench(const BenchOptions& options, std::ostream& out, std::ostream& err,
                            const BenchEnvironment& environment);

}  // namespace nvmevm
