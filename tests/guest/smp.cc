#include "smp.h"

#include "acpi.h"
#include "interrupts.h"
#include "io.h"
#include "layout.h"
#include "start_info.h"

// ap_entry.S, cpu_tables.S.
extern "C" {
extern const uint8_t ap_trampoline_start[];
extern const uint8_t ap_trampoline_end[];
void ap_user_entry();
extern uint8_t gdt[];
extern uint8_t ap_tss[];
extern uint8_t io_bitmap[];
extern uint8_t tss_end[];
extern uint8_t ap_kernel_stacks[];
extern uint8_t ap_user_stacks[];
extern volatile uint64_t ap_boot_rsp;
extern volatile uint16_t ap_boot_tss_selector;
[[noreturn]] void ap_main(uint32_t cpu);
}

namespace guest {
namespace {

constexpr uint64_t kTrampolinePage = AP_TRAMPOLINE;
constexpr uint64_t kPageSize = 4096;
constexpr uint32_t kRamType = 1;
// TSC cycles (a few GHz here): after INIT, before the SIPI; for the AP after the first SIPI;
// after the second.
constexpr uint64_t kInitDelay = 2'000'000;
constexpr uint64_t kFirstSipiWait = 200'000'000;
constexpr uint64_t kSecondSipiWait = 4'000'000'000;
// How long an idle AP spins for new work before it halts.
constexpr uint64_t kIdleSpin = 2'000'000;

struct IretFrame {
    uint64_t rip, cs, rflags, rsp, ss;
};

struct alignas(64) CpuSlot {
    volatile uint64_t requested = 0;  // the boot vCPU bumps it after setting fn and arg
    volatile uint64_t finished = 0;   // the AP copies `requested` here when fn returned
    void (*volatile fn)(void*) = nullptr;
    void* volatile arg = nullptr;
    volatile uint32_t up = 0;
    uint32_t apic_id = 0;
};

CpuSlot g_slots[MAX_CPUS];
IretFrame g_frames[MAX_CPUS];
SpinLock g_print_lock;
bool g_started = false;
bool g_boot_id_known = false;
bool g_can_start = false;
CpuCount g_madt;
unsigned g_next = 0;  // next g_madt.apic_ids entry to try
unsigned g_running = 1;
const char* g_error = nullptr;

void delay(uint64_t cycles) {
    uint64_t start = rdtsc();
    while (rdtsc() - start < cycles) {
        cpu_relax();
    }
}

void store16(uint8_t* p, uint16_t v) {
    __builtin_memcpy(p, &v, sizeof v);
}
void store32(uint8_t* p, uint32_t v) {
    __builtin_memcpy(p, &v, sizeof v);
}
void store64(uint8_t* p, uint64_t v) {
    __builtin_memcpy(p, &v, sizeof v);
}

uint64_t address(const void* p) {
    return reinterpret_cast<uintptr_t>(p);
}

// The trampoline page must be RAM by the memory map (when there is one) and the code must fit.
const char* trampoline_problem(const HvmStartInfo& info) {
    if (ap_trampoline_end - ap_trampoline_start > static_cast<long>(kPageSize)) {
        return "AP trampoline larger than a page";
    }
    uint32_t count = 0;
    const HvmMemmapEntry* map = start_info_memmap(info, &count);
    if (map == nullptr) {
        return nullptr;
    }
    for (uint32_t i = 0; i < count; ++i) {
        if (map[i].type == kRamType && map[i].addr <= kTrampolinePage &&
            map[i].addr + map[i].size >= kTrampolinePage + kPageSize) {
            return nullptr;
        }
    }
    return "AP trampoline page (0x70000) is not RAM in the memory map";
}

// TSS, TSS descriptor, stacks and iretq frame of AP `cpu`, and the mailbox pointing at them.
void prepare_ap(unsigned cpu) {
    uint8_t* tss = ap_tss + (cpu - 1) * TSS_STRIDE;
    for (unsigned i = 0; i < TSS_STRIDE; ++i) {
        tss[i] = 0;
    }
    store64(tss + 4, address(ap_kernel_stacks) + uint64_t{cpu} * AP_KERNEL_STACK_SIZE);  // rsp0
    store16(tss + 0x66, static_cast<uint16_t>(io_bitmap - tss));  // I/O map base
    uint64_t base = address(tss);
    auto limit = static_cast<uint64_t>(tss_end - tss - 1);
    uint8_t* descriptor = gdt + GDT_AP_TSS + 16 * (cpu - 1);
    store64(descriptor, (limit & 0xffff) | (base & 0xffffff) << 16 | uint64_t{0x89} << 40 |
                            ((limit >> 16) & 0xf) << 48 | ((base >> 24) & 0xff) << 56);
    store32(descriptor + 8, static_cast<uint32_t>(base >> 32));
    store32(descriptor + 12, 0);

    uint64_t stack_top = address(ap_user_stacks) + uint64_t{cpu} * AP_USER_STACK_SIZE - 16;
    store64(reinterpret_cast<uint8_t*>(stack_top), cpu);  // ap_user_entry reads it
    g_frames[cpu] = IretFrame{address(reinterpret_cast<const void*>(ap_user_entry)),
                              GDT_USER_CODE | 3, RFLAGS_USER, stack_top, GDT_USER_DATA | 3};
    ap_boot_tss_selector = static_cast<uint16_t>(GDT_AP_TSS + 16 * (cpu - 1));
    ap_boot_rsp = address(&g_frames[cpu]);
    asm volatile("mfence" : : : "memory");
}

bool wait_up(unsigned cpu, uint64_t cycles) {
    uint64_t start = rdtsc();
    while (__atomic_load_n(&g_slots[cpu].up, __ATOMIC_ACQUIRE) == 0) {
        if (rdtsc() - start > cycles) {
            return false;
        }
        cpu_relax();
    }
    return true;
}

bool boot_ap(unsigned cpu, uint32_t apic_id) {
    g_slots[cpu].apic_id = apic_id;
    prepare_ap(cpu);
    send_init(apic_id);
    delay(kInitDelay);
    send_sipi(apic_id, AP_SIPI_VECTOR);
    if (wait_up(cpu, kFirstSipiWait)) {
        return true;
    }
    send_sipi(apic_id, AP_SIPI_VECTOR);
    return wait_up(cpu, kSecondSipiWait);
}

}  // namespace

void SpinLock::lock() {
    while (__atomic_exchange_n(&word_, 1u, __ATOMIC_ACQUIRE) != 0) {
        while (word_ != 0) {
            cpu_relax();
        }
    }
}

void SpinLock::unlock() {
    __atomic_store_n(&word_, 0u, __ATOMIC_RELEASE);
}

PrintGuard::PrintGuard() {
    g_print_lock.lock();
}

PrintGuard::~PrintGuard() {
    g_print_lock.unlock();
}

unsigned start_cpus(const Context& context, unsigned want, const char** error) {
    if (!g_started) {
        g_started = true;
        interrupts_init();
        g_slots[0].apic_id = lapic_id();
        g_slots[0].up = 1;
        g_madt = count_madt_cpus(context.start_info->rsdp_paddr);
        if (!g_madt.ok) {
            g_error = g_madt.error;
        } else if (const char* problem = trampoline_problem(*context.start_info)) {
            g_error = problem;
        } else {
            auto* page = reinterpret_cast<uint8_t*>(static_cast<uintptr_t>(kTrampolinePage));
            for (const uint8_t* p = ap_trampoline_start; p != ap_trampoline_end; ++p) {
                page[p - ap_trampoline_start] = *p;
            }
            g_can_start = true;
        }
    }
    // Continues through the MADT's list where the last call stopped.
    while (g_can_start && g_running < want && g_running < MAX_CPUS && g_next < g_madt.listed) {
        uint32_t id = g_madt.apic_ids[g_next++];
        if (id == g_slots[0].apic_id) {
            continue;
        }
        if (id > 0xff) {
            g_error = "an APIC ID above 255 (xAPIC only)";
            g_can_start = false;
        } else if (!boot_ap(g_running, id)) {
            g_error = "an AP did not come up after INIT-SIPI-SIPI";
            g_can_start = false;  // it might still come up later and read the mailbox
        } else {
            ++g_running;
        }
    }
    if (error != nullptr) {
        *error = g_running >= want    ? nullptr
                 : g_error != nullptr ? g_error
                                      : "the MADT lists no more vCPUs";
    }
    return g_running;
}

unsigned cpus_running() {
    return g_running;
}

unsigned this_cpu() {
    uint64_t sp;
    asm("mov %%rsp, %0" : "=r"(sp));
    uint64_t base = address(ap_user_stacks);
    if (sp > base && sp <= base + uint64_t{MAX_CPUS - 1} * AP_USER_STACK_SIZE) {
        return static_cast<unsigned>((sp - base - 1) / AP_USER_STACK_SIZE) + 1;
    }
    return 0;
}

uint32_t cpu_apic_id(unsigned cpu) {
    if (cpu == 0 && !g_started && !g_boot_id_known) {
        g_slots[0].apic_id = lapic_id();
        g_boot_id_known = true;
    }
    return cpu < MAX_CPUS ? g_slots[cpu].apic_id : 0;
}

bool run_on_cpu(unsigned cpu, void (*fn)(void*), void* arg) {
    if (cpu == 0 || cpu >= g_running) {
        return false;
    }
    CpuSlot& slot = g_slots[cpu];
    if (slot.requested != __atomic_load_n(&slot.finished, __ATOMIC_ACQUIRE)) {
        return false;
    }
    slot.fn = fn;
    slot.arg = arg;
    __atomic_store_n(&slot.requested, slot.requested + 1, __ATOMIC_SEQ_CST);
    if (interrupts_work()) {
        send_ipi(slot.apic_id, cpu_event_vector(cpu));
    }
    return true;
}

bool wait_cpu(unsigned cpu, uint64_t timeout_cycles) {
    if (cpu == 0 || cpu >= g_running) {
        return false;
    }
    CpuSlot& slot = g_slots[cpu];
    uint64_t start = rdtsc();
    while (__atomic_load_n(&slot.finished, __ATOMIC_ACQUIRE) != slot.requested) {
        if (rdtsc() - start > timeout_cycles) {
            return false;
        }
        cpu_relax();
    }
    return true;
}

bool Barrier::arrive_and_wait(uint64_t timeout_cycles) {
    uint64_t ticket = __atomic_fetch_add(&arrived_, 1, __ATOMIC_SEQ_CST);
    uint64_t target = (ticket / count_ + 1) * count_;
    uint64_t start = rdtsc();
    while (__atomic_load_n(&arrived_, __ATOMIC_ACQUIRE) < target) {
        if (rdtsc() - start > timeout_cycles) {
            return false;
        }
        cpu_relax();
    }
    return true;
}

}  // namespace guest

extern "C" [[noreturn]] void ap_main(uint32_t cpu) {
    using namespace guest;
    CpuSlot& slot = g_slots[cpu];
    lapic_init_this_cpu();
    __atomic_store_n(&slot.up, 1u, __ATOMIC_RELEASE);
    for (;;) {
        uint64_t seen = irq_events(cpu);
        uint64_t requested = __atomic_load_n(&slot.requested, __ATOMIC_ACQUIRE);
        if (requested != slot.finished) {
            slot.fn(slot.arg);
            __atomic_store_n(&slot.finished, requested, __ATOMIC_RELEASE);
            continue;
        }
        uint64_t start = rdtsc();
        while (slot.requested == requested && rdtsc() - start < kIdleSpin) {
            cpu_relax();
        }
        if (slot.requested == requested && interrupts_work()) {
            irq_wait(cpu, seen);
        }
    }
}
