// Prebuilt descriptor tables, so that entry.S only has to load them: the GDT with its TSS
// descriptor, the TSS, the IDT pointer, and the frame that iretq pops to enter ring 3.
// The TSS base is split across descriptor fields by linker.ld (tss_base_*), since the
// assembler cannot shift a relocatable address. What only secondary vCPUs (APs) and interrupts
// use is filled in from ring 3 at run time (smp.cc, interrupts.cc): the AP TSS descriptors,
// the AP TSSs and the IDT gates. Every page is user-writable, so ring 3 can.

#include "layout.h"

    .section .data.cpu_tables, "aw"

    .balign 16
    .globl gdt
gdt:
    .quad 0                       // 0x00 null
    .quad 0x00af9b000000ffff      // 0x08 ring-0 code: 64-bit (L=1), present, accessed
    .quad 0x00cf93000000ffff      // 0x10 ring-0 data
    .quad 0x00cff3000000ffff      // 0x18 ring-3 data (DPL 3)
    .quad 0x00affb000000ffff      // 0x20 ring-3 code: 64-bit, DPL 3
    // 0x28: 64-bit TSS descriptor (16 bytes)
    .word tss_end - tss - 1       // limit 15:0
    .word tss_base_15_0
    .byte tss_base_23_16
    .byte 0x89                    // present, DPL 0, type 9: available 64-bit TSS
    .byte 0x00                    // limit 19:16 = 0, byte granularity
    .byte tss_base_31_24
    .long tss_base_63_32
    .long 0
    // 0x38 + 16 * (i - 1): vCPU i's TSS descriptor, i = 1 .. MAX_CPUS-1 (smp.cc fills them).
    .fill 2 * (MAX_CPUS - 1), 8, 0
    .globl gdt_end
gdt_end:
    .if gdt_end - gdt != GDT_ENTRIES * 8
    .error "the GDT is not GDT_ENTRIES entries long (ap_entry.S uses GDT_ENTRIES)"
    .endif

    // lgdt operand. Loaded from 32-bit code, which reads only the low 4 bytes of the base.
    .balign 8
    .globl gdt_pointer
gdt_pointer:
    .word gdt_end - gdt - 1
    .quad gdt

    // lidt operand: the 256-entry IDT below. Its gates start not present (any exception
    // then ends in a triple fault, as `crash` wants); interrupts.cc fills the few it uses.
    .balign 8
    .globl idt_pointer
idt_pointer:
    .word IDT_ENTRIES * 16 - 1
    .quad idt

    // A zero-limit IDT: isr.S loads it to turn a stray exception into a triple fault.
    .balign 8
    .globl zero_idt_pointer
zero_idt_pointer:
    .word 0
    .quad 0

    // The AP start-up mailbox (smp.cc writes it before each AP's SIPI; ap_entry.S loads it):
    // the AP's TSS selector and the address of its iretq frame.
    .balign 8
    .globl ap_boot_rsp
ap_boot_rsp:
    .quad 0
    .globl ap_boot_tss_selector
ap_boot_tss_selector:
    .word 0

    // ltr operand (a memory operand saves loading a register at ring 0).
    .globl tss_selector
tss_selector:
    .word GDT_TSS

    // The 64-bit TSS: rsp0 is the stack a ring-3 -> ring-0 transition switches to.
    // Ring 3 gets every I/O port twice over: RFLAGS.IOPL is 3 in iret_frame, and the I/O
    // permission bitmap below allows all 65536 ports. The bitmap is the one that matters on
    // this project's kvm_pvm: its emulated iretq drops IOPL to 0 on the way to ring 3
    // (measured: KVM_GET_REGS shows IOPL 0 in ring 3, and the first `in` faulted), while
    // in/out from ring 3 are emulated with the bitmap check (8 KiB of zeros, then the 0xff
    // byte the CPU requires after the bitmap).
    // The TSSs of vCPUs 1 .. MAX_CPUS-1, TSS_STRIDE apart, right below vCPU 0's: each one's
    // I/O map base points at io_bitmap below (smp.cc fills them), so all vCPUs share it.
    .balign 16
    .globl ap_tss
ap_tss:
    .fill (MAX_CPUS - 1) * TSS_STRIDE, 1, 0

    .globl tss
tss:
    .long 0                       // reserved
    .quad kernel_stack_top        // rsp0
    .quad 0, 0                    // rsp1, rsp2
    .quad 0                       // reserved
    .quad 0, 0, 0, 0, 0, 0, 0     // ist1..ist7
    .quad 0                       // reserved
    .word 0                       // reserved
    .word io_bitmap - tss         // I/O map base
    .globl io_bitmap
io_bitmap:
    .fill 65536 / 8, 1, 0         // bit clear: port allowed
    .byte 0xff
    .globl tss_end
tss_end:

    // The IDT: 256 16-byte gates, none present until interrupts.cc fills some.
    .balign 16
    .globl idt
idt:
    .fill IDT_ENTRIES * 16, 1, 0

    // What iretq pops in entry.S (used as the ring-0 stack for that one instruction).
    .balign 8
    .globl iret_frame
iret_frame:
    .quad user_entry              // RIP
    .quad GDT_USER_CODE | 3       // CS, RPL 3
    .quad RFLAGS_USER             // RFLAGS: IOPL 3, IF 0
    .quad user_stack_top          // RSP
    .quad GDT_USER_DATA | 3       // SS, RPL 3

    // Stacks: not part of .bss, so that user_entry's .bss clearing never touches them.
    .section .stacks, "aw", @nobits
    .balign 4096
kernel_stack:
    .skip 4096
    .globl kernel_stack_top
kernel_stack_top:
    .globl user_stack
user_stack:
    .skip 65536
    .globl user_stack_top
user_stack_top:
    // vCPUs 1 .. MAX_CPUS-1: a ring-0 stack each (their TSS rsp0: interrupts and the wait
    // gates) and a ring-3 stack each.
    .balign 4096
    .globl ap_kernel_stacks
ap_kernel_stacks:
    .skip (MAX_CPUS - 1) * AP_KERNEL_STACK_SIZE
    .globl ap_user_stacks
ap_user_stacks:
    .skip (MAX_CPUS - 1) * AP_USER_STACK_SIZE

    .section .note.GNU-stack, "", @progbits
