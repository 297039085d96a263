#include "vmm/x86_entry.h"

#include <array>
#include <stdexcept>

#include "boot/layout.h"

namespace nvmevm {
namespace {

// GDT selectors. The Linux boot protocol requires __BOOT_CS = 0x10 and __BOOT_DS = 0x18
// (Documentation/x86/boot.rst, "64-bit boot protocol"); PVH only asks for flat segments.
constexpr uint16_t kCode32Selector = 0x08;
constexpr uint16_t kCode64Selector = 0x10;
constexpr uint16_t kDataSelector = 0x18;
constexpr std::array<uint64_t, 4> kGdt = {
    0,                      // null
    0x00cf'9b00'0000'ffff,  // 0x08: 32-bit code, base 0, limit 4 GiB
    0x00af'9b00'0000'ffff,  // 0x10: 64-bit code
    0x00cf'9300'0000'ffff,  // 0x18: data, base 0, limit 4 GiB
};

constexpr uint64_t kPagePresent = 1u << 0;
constexpr uint64_t kPageWritable = 1u << 1;
constexpr uint64_t kPageHuge = 1u << 7;
constexpr uint64_t kIdentityMappedGiB = 4;

constexpr uint64_t kCr0Pe = 1u << 0, kCr0Mp = 1u << 1, kCr0Et = 1u << 4, kCr0Ne = 1u << 5,
                   kCr0Wp = 1u << 16, kCr0Am = 1u << 18, kCr0Pg = 1u << 31;
constexpr uint64_t kCr4Pae = 1u << 5;
constexpr uint64_t kEferLme = 1u << 8, kEferLma = 1u << 10;

void must_write(bool ok) {
    if (!ok) throw std::runtime_error("guest RAM too small for the boot tables");
}

kvm_segment flat_segment(uint16_t selector, uint8_t type, bool long_mode) {
    kvm_segment s{};
    s.base = 0;
    s.limit = 0xffff'ffff;
    s.selector = selector;
    s.type = type;
    s.present = 1;
    s.dpl = 0;
    s.s = 1;
    s.l = long_mode ? 1 : 0;
    s.db = long_mode ? 0 : 1;
    s.g = 1;
    return s;
}

}  // namespace

void write_entry_tables(const GuestMemory& memory) {
    must_write(memory.write_obj(GuestAddress{layout::kGdt}, kGdt));
    must_write(memory.write_obj(GuestAddress{layout::kPml4},
                                layout::kPdpt | kPagePresent | kPageWritable));
    for (uint64_t gib = 0; gib < kIdentityMappedGiB; ++gib) {
        const uint64_t pd = layout::kPd + gib * 0x1000;
        must_write(memory.write_obj(GuestAddress{layout::kPdpt + gib * 8},
                                    pd | kPagePresent | kPageWritable));
        std::array<uint64_t, 512> entries;
        for (uint64_t i = 0; i < entries.size(); ++i)
            entries[i] = ((gib << 30) + (i << 21)) | kPagePresent | kPageWritable | kPageHuge;
        must_write(memory.write_obj(GuestAddress{pd}, entries));
    }
}

kvm_sregs entry_sregs(const kvm_sregs& base, EntryState::Mode mode) {
    kvm_sregs s = base;
    const bool long_mode = mode == EntryState::Mode::long_mode_64;
    s.cs = flat_segment(long_mode ? kCode64Selector : kCode32Selector, 0xb, long_mode);
    s.ds = s.es = s.fs = s.gs = s.ss = flat_segment(kDataSelector, 0x3, false);
    s.gdt.base = layout::kGdt;
    s.gdt.limit = static_cast<uint16_t>(sizeof(kGdt) - 1);
    s.idt.base = 0;
    s.idt.limit = 0;
    if (long_mode) {
        s.cr0 = kCr0Pe | kCr0Mp | kCr0Et | kCr0Ne | kCr0Wp | kCr0Am | kCr0Pg;
        s.cr3 = layout::kPml4;
        s.cr4 = kCr4Pae;
        s.efer = kEferLme | kEferLma;
    } else {
        // PVH: "paging disabled, protected mode enabled"
        // (xen/include/public/arch-x86/hvm/start_info.h).
        s.cr0 = kCr0Pe | kCr0Et;
        s.cr3 = 0;
        s.cr4 = 0;
        s.efer = 0;
    }
    return s;
}

kvm_regs entry_regs(const EntryState& entry) {
    kvm_regs r{};
    r.rflags = 0x2;  // bit 1 is reserved and always set; interrupts off
    r.rip = entry.rip;
    r.rsi = entry.rsi;
    r.rbx = entry.rbx;
    r.rsp = entry.rsp;
    return r;
}

}  // namespace nvmevm
