#include "bench_options.h"

#include "bench_stats.h"
#include "interrupts.h"
#include "io.h"

namespace guest {
namespace {

struct RwName {
    const char* name;
    BenchRw rw;
};

constexpr RwName kRwNames[] = {
    {"randread", BenchRw::kRandRead}, {"randwrite", BenchRw::kRandWrite}, {"read", BenchRw::kRead},
    {"write", BenchRw::kWrite},       {"randrw", BenchRw::kRandRw},
};

// Applies one word to *options: 0 not a bench word, 1 applied, -1 bad value.
int apply_word(const Word& word, BenchOptions* options) {
    Word value;
    uint64_t number = 0;
    if (word.has_prefix("rw=", &value)) {
        for (const RwName& entry : kRwNames) {
            if (value.is(entry.name)) {
                options->rw = entry.rw;
                return 1;
            }
        }
        return -1;
    }
    if (word.has_prefix("mode=", &value)) {
        if (value.is("poll") || value.is("irq")) {
            options->irq = value.is("irq");
            return 1;
        }
        return -1;
    }
    if (word.has_prefix("bs=", &value)) {
        if (!parse_decimal(value, kBenchMaxBs, &number) || number < kBenchMinBs ||
            number % kBenchMinBs != 0) {
            return -1;
        }
        options->bs = static_cast<uint32_t>(number);
        return 1;
    }
    if (word.has_prefix("qd=", &value)) {
        if (!parse_decimal(value, kBenchMaxQd, &number) || number == 0) {
            return -1;
        }
        options->qd = static_cast<uint32_t>(number);
        return 1;
    }
    if (word.has_prefix("ops=", &value)) {
        if (!parse_decimal(value, kBenchMaxOps, &number) || number == 0) {
            return -1;
        }
        options->ops = number;
        options->ops_given = true;
        return 1;
    }
    if (word.has_prefix("runtime_ms=", &value)) {
        if (!parse_decimal(value, kBenchMaxRuntimeMs, &number) || number == 0) {
            return -1;
        }
        options->runtime_ms = number;
        return 1;
    }
    if (word.has_prefix("jobs=", &value)) {
        if (!parse_decimal(value, kBenchMaxJobs, &number) || number == 0) {
            return -1;
        }
        options->jobs = static_cast<unsigned>(number);
        return 1;
    }
    if (word.has_prefix("devices=", &value)) {
        if (!parse_decimal(value, kBenchMaxDevices, &number) || number == 0) {
            return -1;
        }
        options->devices = static_cast<unsigned>(number);
        return 1;
    }
    if (word.has_prefix("misalign=", &value)) {
        if (!parse_decimal(value, kBenchMaxMisalign, &number)) {
            return -1;
        }
        options->misalign = static_cast<unsigned>(number);
        return 1;
    }
    if (word.has_prefix("tsc_khz=", &value)) {
        if (!parse_decimal(value, kBenchMaxTscKhz, &number) || number == 0) {
            return -1;
        }
        options->tsc_khz = number;
        return 1;
    }
    return 0;
}

struct CpuidResult {
    uint32_t eax, ebx, ecx, edx;
};

CpuidResult cpuid(uint32_t leaf) {
    CpuidResult r;
    asm volatile("cpuid" : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx) : "a"(leaf), "c"(0));
    return r;
}

// Local APIC timer registers (xAPIC MMIO, reachable from ring 3).
constexpr uint64_t kLapicTimerInitial = kLapicBase + 0x380;
constexpr uint64_t kLapicTimerCurrent = kLapicBase + 0x390;
constexpr uint64_t kLapicTimerDivide = kLapicBase + 0x3e0;
constexpr uint64_t kApicBusHz = 1'000'000'000;  // KVM's and QEMU's APIC bus clock

// The divisor the divide configuration register selects (SDM 11.5.4).
uint64_t lapic_divisor(uint32_t config) {
    uint32_t code = (config & 3) | ((config >> 1) & 4);
    return code == 7 ? 1 : uint64_t{2} << code;
}

// TSC ticks against the running periodic local APIC timer (interrupts.cc's watchdog), for
// about 20 ms of timer counts. 0 if the timer does not run.
uint64_t lapic_calibrated_khz() {
    uint32_t initial = mmio_read32(kLapicTimerInitial);
    uint64_t divisor = lapic_divisor(mmio_read32(kLapicTimerDivide));
    if (initial == 0) {
        return 0;
    }
    const uint64_t want_counts = kApicBusHz / divisor / 50;  // 20 ms
    uint64_t counts = 0;
    uint32_t previous = mmio_read32(kLapicTimerCurrent);
    uint64_t tsc_start = rdtsc();
    uint64_t tsc_end = tsc_start;
    for (unsigned spins = 0; counts < want_counts; ++spins) {
        if (spins > 10'000'000) {
            return 0;  // the count does not move
        }
        uint32_t now = mmio_read32(kLapicTimerCurrent);
        tsc_end = rdtsc();
        // A periodic timer counts down to 0 and reloads `initial`. Samples come far more
        // often than one period, so a rise means exactly one reload.
        counts += now <= previous ? previous - now : previous + (initial - now);
        previous = now;
    }
    uint64_t counts_hz = kApicBusHz / divisor;
    return mul_div(tsc_end - tsc_start, counts_hz / 1000, counts);
}

}  // namespace

int bench_word_check(const Word& word) {
    BenchOptions scratch;
    return apply_word(word, &scratch);
}

BenchOptions bench_options_from(const char* cmdline) {
    BenchOptions options;
    bool mode_given = false;
    bool irq_word = false;
    Words words(cmdline);
    Word word;
    while (words.next(&word)) {
        Word value;
        if (word.has_prefix("mode=", &value)) {
            mode_given = true;
        } else if (word.is("irq")) {
            irq_word = true;
        }
        apply_word(word, &options);
    }
    if (!mode_given) {
        options.irq = irq_word;
    }
    return options;
}

const char* bench_rw_name(BenchRw rw) {
    for (const RwName& entry : kRwNames) {
        if (entry.rw == rw) {
            return entry.name;
        }
    }
    return "?";
}

TscRate bench_tsc_rate(const BenchOptions& options) {
    if (options.tsc_khz != 0) {
        return TscRate{options.tsc_khz, "tsc_khz="};
    }
    CpuidResult hv = cpuid(0x40000000);
    if (hv.eax >= 0x40000010 && hv.eax < 0x40010000) {
        CpuidResult timing = cpuid(0x40000010);
        if (timing.eax != 0) {
            return TscRate{timing.eax, "cpuid 0x40000010"};
        }
    }
    uint32_t max_leaf = cpuid(0).eax;
    if (max_leaf >= 0x15) {
        CpuidResult tsc = cpuid(0x15);  // TSC/crystal = ebx/eax, crystal Hz in ecx
        if (tsc.eax != 0 && tsc.ebx != 0 && tsc.ecx != 0) {
            return TscRate{mul_div(tsc.ecx, tsc.ebx, uint64_t{tsc.eax} * 1000), "cpuid 0x15"};
        }
    }
    if (max_leaf >= 0x16) {
        CpuidResult base = cpuid(0x16);
        if ((base.eax & 0xffff) != 0) {
            return TscRate{uint64_t{base.eax & 0xffff} * 1000, "cpuid 0x16"};
        }
    }
    if (interrupts_init()) {
        if (uint64_t khz = lapic_calibrated_khz(); khz != 0) {
            return TscRate{khz, "local APIC timer, 1 GHz bus assumed"};
        }
    }
    return TscRate{};
}

}  // namespace guest
