// Prebuilt descriptor tables, so that entry.S only has to load them: the GDT with its TSS
// descriptor, the TSS, the IDT pointer, and the frame that iretq pops to enter ring 3.
// The TSS base is split across descriptor fields by linker.ld (tss_base_*), since the
// assembler cannot shift a relocatable address.

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
gdt_end:

    // lgdt operand. Loaded from 32-bit code, which reads only the low 4 bytes of the base.
    .balign 8
    .globl gdt_pointer
gdt_pointer:
    .word gdt_end - gdt - 1
    .quad gdt

    // lidt operand: limit 0, no table. A later guest that takes interrupts (MSI-X) points
    // this at a 256-entry IDT of 16-byte gates whose handlers run on tss.rsp0.
    .balign 8
    .globl idt_pointer
idt_pointer:
    .word 0
    .quad 0

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
    .balign 16
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
io_bitmap:
    .fill 65536 / 8, 1, 0         // bit clear: port allowed
    .byte 0xff
tss_end:

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
user_stack:
    .skip 65536
    .globl user_stack_top
user_stack_top:

    .section .note.GNU-stack, "", @progbits
