// `nvmevm bench` (docs/benchmarks.md): its options, their checks, and the command-line words
// they become for the benchmark guest (the test guest's `bench` mode).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "storage/io_rate_limiter.h"

namespace CLI {
class App;
}

namespace nvmevm {

struct BenchOptions {
    // The drive under test: exactly one of these three.
    std::filesystem::path drive;         // --drive PATH (file or block device)
    std::optional<uint64_t> null_mib;    // --null SIZE_MIB: the null engine, no backing
    std::filesystem::path config;        // --config FILE: that file's drives and machine
    std::filesystem::path guest;         // --guest FILE: boot this guest ELF instead of the
                                         // built-in one (to try a guest being developed)
    std::string rw = "randread";         // randread|randwrite|read|write|randrw
    uint32_t bs = 4096;                  // bytes per request
    uint32_t misalign = 0;               // --misalign SECTORS: added to every request's sector
    uint32_t qd = 1;                     // requests in flight per job
    uint32_t jobs = 0;                   // 0: one per vCPU
    uint32_t devices = 1;                // --devices N: the first N drives at once (--config)
    std::optional<uint32_t> vcpus;       // default: the config's, else 1
    std::optional<uint64_t> memory_mib;  // default: the config's, else enough for the buffers
    uint64_t runtime_ms = 0;             // --runtime SECONDS; neither this nor ops: 5 s
    uint64_t ops = 0;                    // --ops N (all jobs together)
    std::string mode = "poll";           // poll|irq: how the guest waits for completions
    bool json = false;                   // one JSON object on stdout instead of the summary
    bool seccomp = true;                 // --no-seccomp
    bool progress = true;                // --no-progress
    // I/O limits on the command-line drive (docs/rate-limits.md): token buckets that refill
    // every limit_refill_ms, sized for the rate.
    std::optional<uint64_t> iops_limit;       // --iops-limit N: operations per second
    std::optional<uint64_t> bw_limit;         // --bw-limit RATE: bytes per second
    std::optional<uint64_t> limit_refill_ms;  // --limit-refill-ms MS (default 10)
    uint64_t iops_burst = 0;                  // --iops-burst N: one-time burst of operations
    uint64_t bw_burst = 0;                    // --bw-burst BYTES: one-time burst of bytes
};

inline constexpr uint64_t kDefaultBenchRuntimeMs = 5000;
inline constexpr uint32_t kMinBenchBlockSize = 512;
inline constexpr uint32_t kMaxBenchBlockSize = 1u << 20;
inline constexpr uint32_t kMaxBenchQueueDepth = 1024;
// The virtio-blk devices the guest drives at once (its kMaxBlkDevices).
inline constexpr uint32_t kMaxBenchDevices = 8;
// --misalign: up to 7 sectors of 512 bytes, every offset within a 4 KiB block.
inline constexpr uint32_t kMaxBenchMisalign = 7;

// "4096", "4k", "4K", "64KiB", "1m", "1M" (binary multiples); nullopt unless the result is a
// multiple of 512 from 512 to 1 MiB.
[[nodiscard]] std::optional<uint32_t> parse_block_size(std::string_view text);

// "50MB", "50MB/s", "200M" (decimal: 200,000,000), "64KiB" (binary), "1000" (bytes); nullopt
// for anything else or for 0.
[[nodiscard]] std::optional<uint64_t> parse_byte_rate(std::string_view text);

// The token bucket that lets `per_second` tokens through per second, refilled every
// `refill_ms` (its size rounded to whole tokens, at least one, and the refill time fitted to
// keep the rate).
[[nodiscard]] TokenBucketConfig bucket_for_rate(uint64_t per_second, uint64_t refill_ms,
                                                uint64_t burst);
// The limits the options ask for (none without --iops-limit / --bw-limit).
[[nodiscard]] IoRateLimits bench_rate_limits(const BenchOptions& options);

inline constexpr uint64_t kDefaultLimitRefillMs = 10;

// Adds the `bench` options to `app` (the subcommand), writing into `options`.
void add_bench_options(CLI::App& app, BenchOptions& options);

// The checks that involve several options and the machine (its vCPUs, its drives); returns
// what is wrong, or an empty string. Fills in the defaults that depend on other options (jobs).
[[nodiscard]] std::string finish_bench_options(BenchOptions& options, uint32_t vcpus,
                                               size_t drives);

// The guest's command line: "bench rw=randread bs=4096 qd=32 runtime_ms=5000 mode=poll jobs=1
// tsc_khz=2400000", with "misalign=N" after bs= only for N > 0 and "devices=N" after jobs= only
// for N > 1 (older guests know no such words).
[[nodiscard]] std::string bench_guest_words(const BenchOptions& options, uint64_t tsc_khz);

}  // namespace nvmevm
