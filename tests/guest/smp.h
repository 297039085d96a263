// Secondary vCPUs (APs) for ring-3 code: start-up through INIT-SIPI-SIPI, a per-vCPU mailbox
// to run a function on one, and the little synchronization the tests need. No locks need
// more than `xchg`/`lock xadd` on 8 bytes (ring 3 runs natively; cmpxchg16b is never used).
//
// Start-up (one AP at a time, so the mailbox in cpu_tables.S serves all): ring 3 fills the
// AP's TSS (its own ring-0 stack, vCPU 0's I/O bitmap), its TSS descriptor in the GDT and its
// iretq frame, copies the trampoline (ap_entry.S) to AP_TRAMPOLINE, and sends INIT, then a
// SIPI (a second one if the AP has not come up within about 0.1 s). The AP runs 16 ring-0
// instructions and enters ap_main(index) in ring 3, which enables its local APIC and reports
// up. An AP that does not come up in time ends the start-up (later ones are not tried).
//
// Idle APs wait in ap_main for work: they spin briefly, then halt through the wait gate
// (interrupts.h) when interrupts work; run_on_cpu wakes them with an IPI on their event
// vector.
#pragma once

#include <stdint.h>

#include "modes.h"

namespace guest {

// A test-and-set lock on `xchg`, spinning with `pause` in ring 3.
class SpinLock {
  public:
    void lock();
    void unlock();

  private:
    volatile uint32_t word_ = 0;
};

// Serializes whole lines of serial output between vCPUs.
class PrintGuard {
  public:
    PrintGuard();
    ~PrintGuard();
    PrintGuard(const PrintGuard&) = delete;
    PrintGuard& operator=(const PrintGuard&) = delete;
};

// Starts vCPUs until `want` run (vCPU 0 included; at most MAX_CPUS and what the MADT lists).
// Only the first call starts anything; every call returns how many vCPUs run. *error (may be
// null) says why fewer than wanted came up.
unsigned start_cpus(const Context& context, unsigned want, const char** error = nullptr);
unsigned cpus_running();
// The calling vCPU's index (0 = the boot vCPU), from its ring-3 stack.
unsigned this_cpu();
uint32_t cpu_apic_id(unsigned cpu);

// Runs fn(arg) on vCPU cpu (1 .. cpus_running()-1). False if that vCPU is not running or still
// busy with the previous function.
bool run_on_cpu(unsigned cpu, void (*fn)(void*), void* arg);
// Waits until vCPU cpu has finished its function: false after timeout_cycles (TSC).
bool wait_cpu(unsigned cpu, uint64_t timeout_cycles = 60'000'000'000);

// A reusable barrier for `count` vCPUs on `lock xadd`: false if the others did not arrive
// within timeout_cycles (then it is unusable).
class Barrier {
  public:
    explicit Barrier(unsigned count) : count_(count) {}
    bool arrive_and_wait(uint64_t timeout_cycles = 20'000'000'000);

  private:
    unsigned count_;
    volatile uint64_t arrived_ = 0;
};

}  // namespace guest
