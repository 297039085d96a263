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
#define GDT_TSS 0x28  // 16-byte 64-bit TSS descriptor (vCPU 0)
// 0x38, 0x48, ...: the TSS descriptors of vCPUs 1 .. MAX_CPUS-1 (filled by smp.cc at run time).
#define GDT_AP_TSS 0x38
#define GDT_ENTRIES (7 + 2 * (MAX_CPUS - 1))

// SMP (smp.h): vCPUs the guest can run, and the AP start-up page below 1 MiB. The SIPI
// vector is the page number: the AP starts in real mode at CS:IP = 0x7000:0000.
#define MAX_CPUS 8
#define AP_TRAMPOLINE 0x70000
#define AP_SIPI_VECTOR 0x70
// Per-AP TSSs (104 bytes used) lie TSS_STRIDE apart just below vCPU 0's TSS, and all of them
// point at vCPU 0's I/O permission bitmap (cpu_tables.S).
#define TSS_STRIDE 128
#define AP_KERNEL_STACK_SIZE 4096
#define AP_USER_STACK_SIZE 65536

// Interrupt vectors (interrupts.h): 0x30 + vCPU index is that vCPU's event vector (MSI-X and
// wake-up IPIs), 0x3f the local APIC timer (a watchdog that ends every halt eventually), 0xff
// spurious. Ring 3 enters ring 0 through #GP and #DE at known addresses (isr.S).
#define VECTOR_CPU_EVENT 0x30
#define VECTOR_TIMER 0x3f
#define VECTOR_SPURIOUS 0xff
#define IDT_ENTRIES 256
// interrupts.cc's per-vCPU counters (one cache line each), incremented by isr.S.
#define IRQ_COUNTER_STRIDE 64

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
// see cpu_tables.S). IF stays 0: ring 3 never takes an interrupt; interrupts are taken only
// inside the ring-0 wait gates (isr.S), which enable them around `hlt`.
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
