// Secondary vCPUs (APs): from the SIPI to ring 3.
//
// The trampoline (ap_trampoline_start .. ap_trampoline_end) is assembled here but runs at
// AP_TRAMPOLINE (0x70000, below 1 MiB, where a SIPI can point): smp.cc copies it there from
// ring 3 before the first SIPI. The AP starts in real mode at CS:IP = 0x7000:0000 with
// interrupts off, and goes straight to long mode with vCPU 0's prebuilt tables (no 32-bit
// stop: setting CR0.PE and CR0.PG together with EFER.LME is allowed). Like entry.S it is
// straight-line code that only loads prebuilt data, because every ring-0 instruction is
// emulated on this project's KVM (~600 ns each): 16 instructions from the SIPI to ring 3, no
// loops, none of cmpxchg16b, xsave/xrstor, int3.
//
// Which AP this is, its TSS and its stacks come from the mailbox (ap_boot_tss_selector,
// ap_boot_rsp in cpu_tables.S), which smp.cc fills for one AP at a time and does not touch
// again until that AP has reached ring 3.

#include "layout.h"

    .section .text.ap_trampoline, "ax"
    .code16
    .globl ap_trampoline_start
ap_trampoline_start:
    // 1: vCPU 0's GDT (a 32-bit base through the operand-size prefix). The pointer is part
    // of the copied page, addressed through CS (base AP_TRAMPOLINE).
    lgdtl %cs:(ap_gdt_pointer - ap_trampoline_start)
    // 2-3: the same identity-mapped page tables as vCPU 0.
    movl $pml4, %eax
    movl %eax, %cr3
    // 4-5: PAE.
    movl $CR4_PAE, %eax
    movl %eax, %cr4
    // 6-9: EFER.LME.
    movl $MSR_EFER, %ecx
    movl $EFER_LME, %eax
    xorl %edx, %edx
    wrmsr
    // 10-11: protection and paging on at once -> IA-32e (compatibility mode, 16-bit code).
    movl $CR0_LONG_MODE, %eax
    movl %eax, %cr0
    // 12: into 64-bit mode, in the image (a 32-bit offset through the operand-size prefix).
    ljmpl $GDT_KERNEL_CODE, $ap_entry64

    .balign 8
ap_gdt_pointer:
    .word GDT_ENTRIES * 8 - 1     // cpu_tables.S checks that this is its gdt_pointer limit
    .long gdt
    .globl ap_trampoline_end
ap_trampoline_end:

    .code64
ap_entry64:
    // 13: this AP's TSS (rsp0: its ring-0 stack; the shared I/O bitmap).
    ltr ap_boot_tss_selector(%rip)
    // 14: the shared IDT.
    lidt idt_pointer(%rip)
    // 15-16: pop the AP's frame: RIP=ap_user_entry, user CS, RFLAGS (IOPL 3, IF 0), RSP=its
    // ring-3 stack (holding its vCPU index), user SS.
    mov ap_boot_rsp(%rip), %rsp
    iretq

// Ring 3 from here on.
    .section .text.ap_user_entry, "ax"
    .globl ap_user_entry
ap_user_entry:
    mov (%rsp), %edi              // the vCPU index smp.cc left on the stack; RSP is 16-aligned
    call ap_main
    ud2                           // ap_main never returns

    .section .note.GNU-stack, "", @progbits
