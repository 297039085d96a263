// Ring-0 interrupt handlers and the two gates ring 3 calls. Each ring-0 instruction is
// emulated one at a time on this project's KVM (~600 ns each), so every path is a few
// straight-line instructions that clobber no register (RFLAGS comes back with iretq):
//
//   cpu_event_N (vector 0x30 + N): 3 instructions: count, EOI, iretq
//   timer_stub (0x3f):             2: EOI, iretq
//   spurious_stub (0xff):          1: iretq (a spurious interrupt takes no EOI)
//   wait_gate (int $0x80):         5 when it halts (cmp, jne, sti, hlt, iretq), 3 when not
//   window_gate (int $0x81):       4: sti, nop, cli, iretq
//
// Ring 3 runs with IF=0 (RFLAGS_USER), so interrupts are taken only inside the gates, where
// `sti` opens them. The gates are interrupt gates (IF cleared on entry): the check in
// wait_gate runs with interrupts off, and `sti; hlt` enables them only for the halt (`sti`
// holds off interrupts until the instruction after it has run), so an interrupt that arrives
// after ring 3 read the count is either already counted (the check sees it) or pending (it
// ends the halt at once). No race, no lost wake-up.

#include "layout.h"

#define LAPIC_EOI 0xfee000b0

    .section .text.isr, "ax"
    .code64

// vCPU N's event vector: counts into irq_counts[N].events (only vCPU N gets this vector: MSI-X
// entries and IPIs are addressed to it), ends the interrupt, returns. The EOI value is
// whatever EAX holds: an xAPIC ignores it, and a 64-bit absolute store needs no register.
    .irp cpu, 0, 1, 2, 3, 4, 5, 6, 7
    .globl cpu_event_\cpu
cpu_event_\cpu:
    incq irq_counts + IRQ_COUNTER_STRIDE * \cpu(%rip)
    movabsl %eax, LAPIC_EOI
    iretq
    .endr

    .globl timer_stub
timer_stub:
    movabsl %eax, LAPIC_EOI
    iretq

    .globl spurious_stub
spurious_stub:
    iretq

// int $0x80 from ring 3: RDI = &irq_counts[this vCPU], RSI = the count ring 3 read before it
// last looked for work. Halts only if no interrupt has been counted since.
    .globl wait_gate
wait_gate:
    cmp %rsi, (%rdi)
    jne 1f
    sti
    hlt
1:  iretq

// int $0x81 from ring 3: lets pending interrupts in without halting (a probe of whether
// interrupts arrive at all, used before anything relies on halting).
    .globl window_gate
window_gate:
    sti
    nop
    cli
    iretq

    .section .note.GNU-stack, "", @progbits
