// Figures nvmevm reports about itself when a VM ends (docs/benchmarks.md): time since the
// process started, and peak memory use with guest RAM taken out.
#pragma once

#include <chrono>
#include <cstdint>
#include <span>

namespace nvmevm {

// When the process started, as close as userspace can tell: taken during static
// initialisation, before main().
[[nodiscard]] std::chrono::steady_clock::time_point process_start_time();
[[nodiscard]] double ms_since_start(std::chrono::steady_clock::time_point when);

// Peak resident set size of the process (getrusage's ru_maxrss), in KiB; 0 if unknown.
[[nodiscard]] uint64_t peak_rss_kib();
// How much of `range` is resident, in KiB (mincore).
[[nodiscard]] uint64_t resident_kib(std::span<uint8_t> range);

}  // namespace nvmevm
