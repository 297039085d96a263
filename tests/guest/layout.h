// Constants shared by the test guest's assembly and C++ code: segment selectors, the
// control-register values of the 32-bit -> 64-bit switch, and the ports the entry code uses
// before any C++ runs. Included from .S files (__ASSEMBLER__) and from C++.
#pragma once

// GDT selectors (cpu_tables.S). The order kernel code, kernel data, user data, user code
// matches what SYSCALL/SYSRET expect (STAR[47:32] = 0x08, STAR[63:48] = 0x10), should a
// later guest want them.
#define GDT_KERNEL_CODE 0x08
#define GDT_KERNEL_DATA 0x10
#define GDT_USER_DATA 0x18
#define GDT_USER_CODE 0x20
#define GDT_TSS 0x28  // 16-byte 64-bit TSS descriptor
#define GDT_ENTRIES 7

// Control registers and EFER for the switch to long mode (entry.S).
#define CR0_PE 0x00000001
#define CR0_MP 0x00000002
#define CR0_ET 0x00000010
#define CR0_NE 0x00000020
#define CR0_WP 0x00010000
#define CR0_PG 0x80000000
#define CR0_LONG_MODE (CR0_PG | CR0_WP | CR0_NE | CR0_ET | CR0_MP | CR0_PE)
#define CR4_PAE 0x00000020
#define MSR_EFER 0xc0000080
#define EFER_LME 0x00000100

// RFLAGS for ring 3: bit 1 (always 1) and IOPL=3 so ring 3 may use in/out on any port
// (kvm_pvm drops IOPL on the way to ring 3; the TSS I/O bitmap opens the ports there,
// see cpu_tables.S). IF stays 0: the guest takes no interrupts yet.
#define RFLAGS_USER 0x3002

// Page-table entry bits (page_tables.S).
#define PTE_PRESENT 0x001
#define PTE_WRITE 0x002
#define PTE_USER 0x004
#define PTE_PWT 0x008
#define PTE_PCD 0x010
#define PTE_LARGE 0x080

// nvmevm's guest control block (devices/platform_ports.h): the entry code writes the boot
// mark before anything else. checks.cc asserts these equal the VMM's numbers.
#define PORT_GUEST_EXIT 0x610
#define PORT_GUEST_BOOT_MARK 0x614
