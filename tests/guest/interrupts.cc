#include "interrupts.h"

#include "io.h"

// isr.S, cpu_tables.S.
extern "C" {
void cpu_event_0();
void cpu_event_1();
void cpu_event_2();
void cpu_event_3();
void cpu_event_4();
void cpu_event_5();
void cpu_event_6();
void cpu_event_7();
void timer_stub();
void spurious_stub();
void gp_entry();
void ring3_wait(volatile uint64_t* count, uint64_t seen);

struct IdtGate {
    uint16_t offset_low;
    uint16_t selector;
    uint8_t ist;
    uint8_t type;  // P, DPL, type 0xe (64-bit interrupt gate: IF cleared on entry)
    uint16_t offset_mid;
    uint32_t offset_high;
    uint32_t reserved;
};
static_assert(sizeof(IdtGate) == 16);
extern IdtGate idt[IDT_ENTRIES];

// One cache line per vCPU: `events` is what cpu_event_N increments (isr.S addresses it as
// irq_counts + IRQ_COUNTER_STRIDE * N), `waits` counts irq_wait calls.
struct alignas(IRQ_COUNTER_STRIDE) IrqCounter {
    volatile uint64_t events;
    uint64_t waits;
};
static_assert(sizeof(IrqCounter) == IRQ_COUNTER_STRIDE);
IrqCounter irq_counts[MAX_CPUS];
}

namespace guest {
namespace {

// Local APIC registers (Intel SDM vol. 3A, 11.4.1).
constexpr uint64_t kLapicId = kLapicBase + 0x20;
constexpr uint64_t kLapicTpr = kLapicBase + 0x80;
constexpr uint64_t kLapicIrr = kLapicBase + 0x200;
constexpr uint64_t kLapicSvr = kLapicBase + 0xf0;
constexpr uint64_t kLapicIcrLow = kLapicBase + 0x300;
constexpr uint64_t kLapicIcrHigh = kLapicBase + 0x310;
constexpr uint64_t kLapicLvtTimer = kLapicBase + 0x320;
constexpr uint64_t kLapicLvtLint0 = kLapicBase + 0x350;
constexpr uint64_t kLapicTimerInitial = kLapicBase + 0x380;
constexpr uint64_t kLapicTimerDivide = kLapicBase + 0x3e0;

constexpr uint32_t kSvrEnable = 0x100;
constexpr uint32_t kLvtMasked = 0x10000;
constexpr uint32_t kLvtTimerPeriodic = 0x20000;
constexpr uint32_t kTimerDivide16 = 0x3;
// The watchdog: 1,000,000 ticks of the APIC bus clock / 16. KVM's and QEMU's local APIC timers
// count at 1 GHz, so about 16 ms.
constexpr uint32_t kWatchdogCount = 1'000'000;
constexpr uint32_t kIcrDeliveryPending = 1u << 12;
constexpr uint32_t kIcrAssert = 1u << 14;
constexpr uint32_t kIcrInit = 5u << 8;
constexpr uint32_t kIcrStartup = 6u << 8;
constexpr uint8_t kGateInterrupt = 0x8e;  // present, DPL 0, 64-bit interrupt gate
constexpr unsigned kVectorGeneralProtection = 13;

// 8259 PIC data ports (interrupt mask registers).
constexpr uint16_t kPic1Data = 0x21;
constexpr uint16_t kPic2Data = 0xa1;

bool g_initialized = false;
bool g_work = false;

void set_gate(unsigned vector, void (*handler)()) {
    auto address = reinterpret_cast<uintptr_t>(handler);
    idt[vector] = IdtGate{static_cast<uint16_t>(address),
                          GDT_KERNEL_CODE,
                          0,
                          kGateInterrupt,
                          static_cast<uint16_t>(address >> 16),
                          static_cast<uint32_t>(address >> 32),
                          0};
}

void send_icr(uint32_t apic_id, uint32_t low) {
    // The previous IPI has been accepted once delivery status reads idle (bounded wait).
    for (unsigned i = 0; i < 100000 && (mmio_read32(kLapicIcrLow) & kIcrDeliveryPending) != 0;
         ++i) {
        cpu_relax();
    }
    mmio_write32(kLapicIcrHigh, (apic_id & 0xff) << 24);
    mmio_write32(kLapicIcrLow, low);  // this write sends it
}

}  // namespace

void lapic_init_this_cpu() {
    mmio_write32(kLapicTpr, 0);
    mmio_write32(kLapicSvr, kSvrEnable | VECTOR_SPURIOUS);
    mmio_write32(kLapicLvtLint0, kLvtMasked);  // no 8259 interrupts (ExtINT) ever
    mmio_write32(kLapicTimerDivide, kTimerDivide16);
    mmio_write32(kLapicLvtTimer, kLvtTimerPeriodic | VECTOR_TIMER);
    mmio_write32(kLapicTimerInitial, kWatchdogCount);
}

uint32_t lapic_id() {
    return mmio_read32(kLapicId) >> 24;
}

void send_ipi(uint32_t apic_id, uint8_t vector) {
    send_icr(apic_id, vector);
}

void send_init(uint32_t apic_id) {
    send_icr(apic_id, kIcrAssert | kIcrInit);
}

void send_sipi(uint32_t apic_id, uint8_t page) {
    send_icr(apic_id, kIcrAssert | kIcrStartup | page);
}

bool interrupts_init() {
    if (g_initialized) {
        return g_work;
    }
    g_initialized = true;
    void (*const events[MAX_CPUS])() = {cpu_event_0, cpu_event_1, cpu_event_2, cpu_event_3,
                                        cpu_event_4, cpu_event_5, cpu_event_6, cpu_event_7};
    for (unsigned i = 0; i < MAX_CPUS; ++i) {
        set_gate(cpu_event_vector(i), events[i]);
    }
    set_gate(VECTOR_TIMER, timer_stub);
    set_gate(VECTOR_SPURIOUS, spurious_stub);
    set_gate(kVectorGeneralProtection, gp_entry);
    asm volatile("" : : : "memory");
    outb(kPic1Data, 0xff);
    outb(kPic2Data, 0xff);
    lapic_init_this_cpu();

    // An IPI to itself. It must show in the IRR before anything halts for it: a platform
    // whose IPIs never arrive is found out without hanging. Then it must be taken inside the
    // wait gate (the watchdog may end a halt first: a few tries).
    uint64_t before = irq_events(0);
    uint8_t vector = cpu_event_vector(0);
    send_ipi(lapic_id(), vector);
    uint64_t irr = kLapicIrr + 0x10 * (vector / 32);
    uint32_t bit = 1u << (vector % 32);
    bool pending = false;
    for (unsigned i = 0; i < 1000 && !pending; ++i) {
        pending = (mmio_read32(irr) & bit) != 0 || irq_events(0) != before;
    }
    for (unsigned i = 0; i < 4 && pending && irq_events(0) == before; ++i) {
        irq_wait(0, before);
    }
    g_work = irq_events(0) != before;
    return g_work;
}

bool interrupts_work() {
    return g_initialized && g_work;
}

uint64_t irq_events(unsigned cpu) {
    return irq_counts[cpu].events;
}

void irq_wait(unsigned cpu, uint64_t seen) {
    ++irq_counts[cpu].waits;
    ring3_wait(&irq_counts[cpu].events, seen);
}

uint64_t irq_waits(unsigned cpu) {
    return irq_counts[cpu].waits;
}

}  // namespace guest
