// What the benchmark guest reports: one console line "NVMEVM-BENCH {json}" (the contract with
// the test guest's `bench` mode, docs/benchmarks.md), found in the captured console and parsed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace nvmevm {

inline constexpr std::string_view kBenchLineTag = "NVMEVM-BENCH ";

struct BenchLatency {
    double p50 = 0, p99 = 0, p999 = 0, max = 0;  // nanoseconds
};

// One device's figures when the guest drove several (devices=N), over that device's jobs.
struct BenchDeviceResult {
    uint64_t ops = 0;
    double iops = 0;
    double mbps = 0;
    BenchLatency lat_ns;
};

// The most devices a result may list: what the guest can drive, with room to spare; a longer
// list is refused as malformed.
inline constexpr size_t kMaxBenchResultDevices = 64;

struct BenchResult {
    std::string rw, mode;
    uint64_t bs = 0, qd = 0, jobs = 0;
    uint64_t misalign = 0;  // sectors added to every offset (absent: 0)
    uint64_t ops = 0;       // completed requests, all jobs
    uint64_t elapsed_ns = 0;
    double iops = 0;
    double mbps = 0;  // 10^6 bytes per second, as fio's MB/s
    BenchLatency lat_ns;
    uint64_t kicks = 0, interrupts = 0, errors = 0;
    std::vector<BenchDeviceResult> devices;  // per device, in device order; empty for one
    std::string json;                        // the guest's object as it printed it
};

// Finds the NVMEVM-BENCH line in `console` (anywhere in a line, so that a prefix the guest
// puts before it does not matter) and parses its object. On failure returns nullopt and says
// why in `error`. Fields the result cannot do without: ops, elapsed_ns, iops, lat_ns.p50/p99/
// p999/max. Unknown fields are ignored (the guest may add some). "devices", if there, must
// be an array of at most kMaxBenchResultDevices objects, each with the numbers ops, iops,
// mbps and lat_ns.p50/p99/p999/max.
[[nodiscard]] std::optional<BenchResult> parse_bench_output(std::string_view console,
                                                            std::string& error);

}  // namespace nvmevm
