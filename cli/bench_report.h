// `nvmevm bench`'s output: a fio-like summary for people, or one JSON object for a CI job,
// from the guest's figures and nvmevm's own (CPU time, KVM_RUN returns).
#pragma once

#include <cstdint>
#include <string>

#include "cli/bench_options.h"
#include "cli/bench_result.h"
#include "vmm/machine.h"

namespace nvmevm {

struct BenchHostFigures {
    std::string target;  // what was benchmarked: "null 64 MiB", a path, a config
    uint32_t vcpus = 0;
    uint64_t memory_mib = 0;
    uint64_t tsc_khz = 0;
    std::string guest_cmdline;
    uint64_t cpu_ns = 0;   // the whole nvmevm process, all threads, start to end
    uint64_t wall_ns = 0;  // the VM, from building it to its end
    MachineCounters counters;
};

[[nodiscard]] std::string format_bench_summary(const BenchResult& guest,
                                               const BenchHostFigures& host);
[[nodiscard]] std::string format_bench_json(const BenchResult& guest, const BenchHostFigures& host);

}  // namespace nvmevm
