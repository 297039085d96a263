// Interrupts for ring-3 code: the IDT gates, the local APIC (xAPIC at 0xFEE00000, reached
// from ring 3 through the identity map), per-vCPU event counters, and waiting by halting.
//
// Design (isr.S): ring 3 always runs with IF=0. vCPU i's events (its MSI-X completions and
// wake-up IPIs) use vector VECTOR_CPU_EVENT + i, whose 3-instruction handler counts them in
// irq_counts[i]. To wait, ring 3 reads its count, looks for work, and if there is none calls
// irq_wait with the count it read: the ring-0 gate halts only if the count is unchanged, with
// interrupts enabled for the halt alone. A periodic local APIC timer (about 16 ms) ends any
// halt eventually, so a device that never interrupts costs time, never a hang.
#pragma once

#include <stdint.h>

#include "layout.h"

namespace guest {

inline constexpr unsigned kMaxCpus = MAX_CPUS;
inline constexpr uint64_t kLapicBase = 0xfee00000;

// Fills the IDT gates (once; later calls do nothing), masks the 8259 PICs, sets up vCPU 0's
// local APIC and checks, without halting, that an interrupt sent to itself arrives.
// Returns whether interrupts work (the result is remembered).
bool interrupts_init();
bool interrupts_work();

// Enables this vCPU's local APIC (spurious vector, LINT0 masked, the watchdog timer).
void lapic_init_this_cpu();
uint32_t lapic_id();  // this vCPU's local APIC ID

// Sends vector to the vCPU with local APIC ID apic_id (fixed delivery, physical destination),
// and the INIT and start-up IPIs of AP start-up.
void send_ipi(uint32_t apic_id, uint8_t vector);
void send_init(uint32_t apic_id);
void send_sipi(uint32_t apic_id, uint8_t page);

// MSI address and data for an edge-triggered fixed interrupt to apic_id (physical mode).
inline uint32_t msi_address(uint32_t apic_id) {
    return static_cast<uint32_t>(kLapicBase | (apic_id & 0xff) << 12);
}
inline uint32_t msi_data(uint8_t vector) {
    return vector;
}
inline uint8_t cpu_event_vector(unsigned cpu) {
    return static_cast<uint8_t>(VECTOR_CPU_EVENT + cpu);
}

// vCPU cpu's event count (interrupts on its event vector).
uint64_t irq_events(unsigned cpu);
// Halts vCPU cpu (the caller's own) until an interrupt, unless its event count differs from
// `seen` already. Returns at the latest at the next watchdog tick.
void irq_wait(unsigned cpu, uint64_t seen);
// Halts taken through irq_wait on vCPU cpu (calls, whether the gate halted or not).
uint64_t irq_waits(unsigned cpu);

}  // namespace guest
