// Ring-0 interrupt handlers and the two ways ring 3 gets into ring 0. Each ring-0
// instruction is emulated one at a time on this project's KVM (~600 ns each), so every path
// is a few straight-line instructions that clobber no register (RFLAGS comes back with
// iretq):
//
//   cpu_event_N (vector 0x30 + N): 3 instructions: count, EOI, iretq
//   timer_stub (0x3f):             2: EOI, iretq
//   spurious_stub (0xff):          1: iretq (a spurious interrupt takes no EOI)
//   wait gate (#GP from the `hlt` in ring3_wait): 9 when it halts, 7 when it need not
//
// Why an exception: kvm_pvm does not deliver software interrupts (`int $n` from ring 3 is a
// triple fault there, and at ring 0 an emulation failure), but it delivers exceptions from
// ring 3 through the IDT like hardware. So ring 3 executes a privileged `hlt` at one known
// address to ask ring 0 to halt: a #GP, a fault (RIP points at the `hlt`) on hardware, QEMU
// and kvm_pvm alike, and the handler resumes ring 3 after it. A #GP from anywhere else is a
// bug: the handler loads a zero-limit IDT and faults, a triple fault as without a handler.
//
// Ring 3 runs with IF=0 (RFLAGS_USER), so interrupts are taken only inside these handlers,
// where `sti` opens them. Exceptions go through interrupt gates (IF cleared on entry): the
// count check in the wait gate runs with interrupts off, and `sti; hlt` enables them only
// for the halt (`sti` holds off interrupts until the instruction after it has run), so an
// interrupt that arrives after ring 3 read the count is either already counted (the check
// sees it) or pending (it ends the halt at once). No race, no lost wake-up.

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

// #GP. From ring3_wait's `hlt` (RDI = &irq_counts[this vCPU], RSI = the count ring 3 read
// before it last looked for work): halts only if no interrupt has been counted since.
    .globl gp_entry
gp_entry:
    cmpq $wait_hlt, 8(%rsp)       // RIP, above the error code
    jne crash
    cmp %rsi, (%rdi)
    jne 1f
    sti
    hlt
1:  movq $wait_hlt + 1, 8(%rsp)   // resume after the hlt
    add $8, %rsp                  // drop the error code
    iretq

// Any other #GP: a triple fault, as without handlers.
crash:
    lidt zero_idt_pointer(%rip)
    ud2

// Ring 3.
    .section .text.ring3_gates, "ax"
    // void ring3_wait(volatile uint64_t* count, uint64_t seen)
    .globl ring3_wait
ring3_wait:
wait_hlt:
    hlt                           // #GP -> gp_entry
    ret


    .section .note.GNU-stack, "", @progbits
