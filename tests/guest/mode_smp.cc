// `smp`: starts every vCPU the MADT lists (INIT-SIPI-SIPI from ring 3 through the local
// APIC), has each print "cpu N up" (lines serialized by a ring-3 spin lock), then has all of
// them add to one counter at once with `lock xadd` and checks the sum. Any vCPU that does not
// come up, or a wrong sum, fails the mode (exit status 3).
#include "acpi.h"
#include "interrupts.h"
#include "io.h"
#include "modes.h"
#include "serial.h"
#include "smp.h"

namespace guest {
namespace {

constexpr uint64_t kAdds = 200'000;

volatile uint64_t g_sum = 0;
Barrier* g_barrier = nullptr;
volatile uint64_t g_barrier_failures = 0;

void say_up(unsigned cpu) {
    PrintGuard guard;
    put_line_start("cpu ");
    put_dec(cpu);
    put_str(" up (APIC ID ");
    put_dec(cpu_apic_id(cpu));
    put_str(", running on vCPU ");
    put_dec(this_cpu());
    put_str(")\n");
}

void say_up_on_ap(void* arg) {
    say_up(static_cast<unsigned>(reinterpret_cast<uintptr_t>(arg)));
}

void add_many(void*) {
    if (!g_barrier->arrive_and_wait()) {
        __atomic_fetch_add(&g_barrier_failures, 1, __ATOMIC_SEQ_CST);
        return;
    }
    for (uint64_t i = 0; i < kAdds; ++i) {
        __atomic_fetch_add(&g_sum, 1, __ATOMIC_SEQ_CST);
    }
}

}  // namespace

void mode_smp(const Context& context) {
    CpuCount madt = count_madt_cpus(context.start_info->rsdp_paddr);
    unsigned want = madt.ok ? madt.cpus : 1;
    if (want > kMaxCpus) {
        want = kMaxCpus;
    }
    const char* error = nullptr;
    uint64_t start = rdtsc();
    unsigned running = start_cpus(context, want, &error);
    uint64_t cycles = rdtsc() - start;
    bool ok = true;

    say_up(0);
    for (unsigned cpu = 1; cpu < running; ++cpu) {
        ok = run_on_cpu(cpu, say_up_on_ap, reinterpret_cast<void*>(uintptr_t{cpu})) && ok;
    }
    for (unsigned cpu = 1; cpu < running; ++cpu) {
        ok = wait_cpu(cpu) && ok;
    }

    Barrier barrier(running);
    g_barrier = &barrier;
    g_sum = 0;
    for (unsigned cpu = 1; cpu < running; ++cpu) {
        ok = run_on_cpu(cpu, add_many, nullptr) && ok;
    }
    add_many(nullptr);
    for (unsigned cpu = 1; cpu < running; ++cpu) {
        ok = wait_cpu(cpu) && ok;
    }
    uint64_t expected = kAdds * running;

    PrintGuard guard;
    put_line_start("smp: ");
    put_dec(running);
    put_str(" of ");
    put_dec(want);
    put_str(" vCPU(s) up in ");
    put_dec(cycles);
    put_str(" cycles; interrupts ");
    put_str(interrupts_work() ? "work" : "do not arrive (APs spin when idle)");
    put_str("; lock xadd sum ");
    put_dec(g_sum);
    put_str(g_sum == expected ? " ok\n" : " WRONG\n");
    if (running < want || !ok || g_sum != expected || g_barrier_failures != 0) {
        put_line_start("smp: FAIL ");
        put_str(running < want            ? (error != nullptr ? error : "not all vCPUs came up")
                : !ok                     ? "an AP did not run or finish its function"
                : g_barrier_failures != 0 ? "the vCPUs did not meet at the barrier"
                                          : "lost increments");
        put_char('\n');
        report_mode_failure();
    }
}

}  // namespace guest
