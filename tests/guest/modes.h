// The guest's modes: one command-line word each (main.cc dispatches). A mode either
// returns, and the next word runs, or ends the VM.
#pragma once

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

}  // namespace guest
