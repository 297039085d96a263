// Prebuilt page tables: the low 4 GiB identity-mapped with 2 MiB pages, all of it
// user-accessible (the guest runs at ring 3) and writable. 0-3 GiB is write-back (RAM);
// 3-4 GiB, the PCI hole (device MMIO, IOAPIC, LAPIC), is uncached (PCD|PWT).
// Generated at assembly time: entry.S just loads CR3 with pml4.

#include "layout.h"

#define TABLE (PTE_PRESENT | PTE_WRITE | PTE_USER)
#define PAGE_WB (PTE_PRESENT | PTE_WRITE | PTE_USER | PTE_LARGE)
#define PAGE_UC (PAGE_WB | PTE_PCD | PTE_PWT)

    .section .data.page_tables, "aw"
    .balign 4096
    .globl pml4
pml4:
    .quad pdpt + TABLE
    .fill 511, 8, 0

pdpt:
    .quad pd + 0x0000 + TABLE     // 0-1 GiB
    .quad pd + 0x1000 + TABLE     // 1-2 GiB
    .quad pd + 0x2000 + TABLE     // 2-3 GiB
    .quad pd + 0x3000 + TABLE     // 3-4 GiB
    .fill 508, 8, 0

    // 4 page directories, 512 entries of 2 MiB each.
pd:
    .set page, 0
    .rept 3 * 512
    .quad page + PAGE_WB
    .set page, page + 0x200000
    .endr
    .rept 512
    .quad page + PAGE_UC
    .set page, page + 0x200000
    .endr

    .section .note.GNU-stack, "", @progbits
