// The `bench` mode's command-line words (README.md, "bench") and the TSC rate it reports
// times with.
#pragma once

#include <stdint.h>

#include "cmdline.h"

namespace guest {

enum class BenchRw : uint8_t { kRandRead, kRandWrite, kRead, kWrite, kRandRw };

inline constexpr uint32_t kBenchMinBs = 512;
inline constexpr uint32_t kBenchMaxBs = 1u << 20;
inline constexpr uint32_t kBenchMaxQd = 1024;
inline constexpr uint64_t kBenchMaxOps = uint64_t{1} << 40;
inline constexpr uint64_t kBenchMaxRuntimeMs = 3'600'000;
inline constexpr uint64_t kBenchMaxJobs = 1024;
inline constexpr uint64_t kBenchMaxTscKhz = 100'000'000;
// devices=: as many as the guest drives (kMaxBlkDevices, mode_blk_common.h).
inline constexpr uint64_t kBenchMaxDevices = 8;
// misalign=: sectors added to every request's offset, to put it off a 4 KiB grid.
inline constexpr uint64_t kBenchMaxMisalign = 7;

struct BenchOptions {
    BenchRw rw = BenchRw::kRandRead;
    uint32_t bs = 4096;
    uint32_t qd = 1;
    uint64_t ops = 10000;
    bool ops_given = false;
    uint64_t runtime_ms = 0;  // 0: run for `ops`
    bool irq = false;         // mode=irq (or the `irq` word without mode=)
    unsigned jobs = 0;        // 0: one per vCPU
    unsigned devices = 1;     // virtio-blk devices driven at once; job j on device j % devices
    unsigned misalign = 0;    // sectors added to every request's sector (0 to 7)
    uint64_t tsc_khz = 0;     // 0: not given
};

// For main.cc's command-line check: 0 when the word is no bench option, 1 when it is one
// with a good value, -1 when it is one with a bad value.
int bench_word_check(const Word& word);

// The options on the command line (already checked; the last of each word wins).
BenchOptions bench_options_from(const char* cmdline);

const char* bench_rw_name(BenchRw rw);

// The TSC rate in kHz and where it came from: tsc_khz= on the command line, CPUID 0x40000010
// (the hypervisor's TSC leaf), CPUID 0x15 (crystal ratio), CPUID 0x16 (base MHz), or the
// local APIC timer (assumes KVM's and QEMU's 1 GHz APIC bus). 0 and "unknown" if none.
struct TscRate {
    uint64_t khz = 0;
    const char* source = "unknown";
};
TscRate bench_tsc_rate(const BenchOptions& options);

}  // namespace guest
