// vCPU0 starts here (PVH): 32-bit flat protected mode, paging off, interrupts off,
// EBX = physical address of struct hvm_start_info.
//
// Every instruction executed at ring 0 is emulated one at a time by this project's KVM
// (~600 ns each), so the path to ring 3 is straight-line code with nothing computed at
// run time: the GDT, TSS, IDT pointer, page tables and the iretq frame are all prebuilt
// data in the image (cpu_tables.S, page_tables.S). 18 ring-0 instructions in all,
// no loops; none of cmpxchg16b, xsave/xrstor, int3. EBX is left untouched throughout.

#include "layout.h"

    .section .text.entry32, "ax"
    .code32
    .globl pvh_entry
pvh_entry:
    // 1-2: the boot mark, first thing, so the VMM can time "start to first instruction".
    mov $PORT_GUEST_BOOT_MARK, %dx
    out %al, %dx
    // 3: our GDT (64-bit code/data for rings 0 and 3, the TSS).
    lgdt gdt_pointer
    // 4-5: prebuilt identity-mapped page tables.
    mov $pml4, %eax
    mov %eax, %cr3
    // 6-7: PAE is required for long mode.
    mov $CR4_PAE, %eax
    mov %eax, %cr4
    // 8-11: EFER.LME (EFER is set whole: EDX:EAX = 0:LME).
    mov $MSR_EFER, %ecx
    mov $EFER_LME, %eax
    xor %edx, %edx
    wrmsr
    // 12-13: paging on -> IA-32e (compatibility mode, still running this 32-bit code).
    mov $CR0_LONG_MODE, %eax
    mov %eax, %cr0
    // 14: into 64-bit mode.
    ljmp $GDT_KERNEL_CODE, $entry64

    .section .text.entry64, "ax"
    .code64
entry64:
    // 15: the TSS (rsp0 = kernel stack, for the interrupt handlers that later guests add).
    ltr tss_selector
    // 16: the IDT. For now a zero-limit IDT, so any exception or interrupt is a triple
    // fault (the `crash` mode relies on it). Interrupt support replaces idt_pointer.
    lidt idt_pointer
    // 17-18: pop the prebuilt frame: RIP=user_entry, CS=user code, RFLAGS=IOPL 3 / IF 0,
    // RSP=user stack, SS=user data.
    mov $iret_frame, %rsp
    iretq

// Ring 3 from here on: native speed.
    .section .text.user_entry, "ax"
    .globl user_entry
user_entry:
    rdtsc                         // cycles since reset, for `cycles=` at exit
    shl $32, %rdx
    or %rax, %rdx
    mov %rdx, %r12
    // Zero .bss (the loader should have done it; costs nothing here at ring 3).
    mov $__bss_start, %edi
    mov $__bss_end, %ecx
    sub %edi, %ecx
    xor %eax, %eax
    cld
    rep stosb
    // guest_main(start_info_paddr, entry_tsc); RSP is 16-byte aligned before the call.
    mov %ebx, %edi
    mov %r12, %rsi
    call guest_main
    ud2                           // guest_main never returns; if it did: triple fault

    .section .note.GNU-stack, "", @progbits
