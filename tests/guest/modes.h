// The guest's modes: one command-line word each (main.cc dispatches). A mode either
// returns, and the next word runs, or ends the VM.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "start_info.h"

namespace guest {

struct Context {
    const HvmStartInfo* start_info;
    uint64_t entry_tsc;  // TSC at the first ring-3 instruction
};

void mode_hello(const Context& context);
void mode_badio(const Context& context);
void mode_cpus(const Context& context);
void mode_info(const Context& context);
[[noreturn]] void mode_reset(const Context& context);
[[noreturn]] void mode_poweroff(const Context& context);
[[noreturn]] void mode_crash(const Context& context);
[[noreturn]] void mode_spin(const Context& context);
void mode_chatter(const Context& context);   // 2048 numbered lines, 150 KiB: more than a pipe holds
void mode_blk(const Context& context);       // mode_blk.cc: the virtio-blk suite
void mode_blkinfo(const Context& context);   // mode_blkinfo.cc: virtio-blk devices described
void mode_blkbench(const Context& context);  // mode_blkbench.cc: 4 KiB read latency, QD1/QD8
void mode_smp(const Context& context);       // mode_smp.cc: start every vCPU
void mode_bench(const Context& context);     // mode_bench.cc: the NVMEVM-BENCH microbenchmark
void mode_hostile(const Context& context);   // mode_hostile.cc: malformed input to virtio-blk

// Option words a mode reads from the command line itself (noevtidx, noindirect, nomq, irq,
// nosmp for the blk modes): main.cc accepts them and runs nothing for them.
bool is_option_word(const char* text, size_t length);
// The bench mode's key=value words (rw=, bs=, qd=, ...; mode_bench.cc): true if the word is
// one, *bad when its value is not acceptable.
bool is_bench_word(const char* text, size_t length, bool* bad);

// A mode whose checks failed calls this; the guest then exits with kStatusCheckFailed
// instead of the status= value.
inline constexpr uint8_t kStatusCheckFailed = 3;
void report_mode_failure();

}  // namespace guest
