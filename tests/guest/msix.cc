#include "msix.h"

#include "interrupts.h"
#include "io.h"
#include "phys.h"

namespace guest {
namespace {

// The MSI-X capability: message control at +2, table offset/BIR at +4 (6.8.2.3-4).
constexpr uint8_t kMessageControl = 2;
constexpr uint8_t kTableOffset = 4;
constexpr uint16_t kControlEnable = 0x8000;
constexpr uint16_t kControlFunctionMask = 0x4000;
constexpr uint16_t kControlTableSizeMask = 0x07ff;
constexpr uint32_t kBirMask = 0x7;
constexpr uint32_t kEntryBytes = 16;
// Entry fields: message address low, high, data, vector control (bit 0: masked).
constexpr uint32_t kEntryAddressLow = 0;
constexpr uint32_t kEntryAddressHigh = 4;
constexpr uint32_t kEntryData = 8;
constexpr uint32_t kEntryControl = 12;
constexpr uint32_t kEntryMasked = 1;

}  // namespace

bool Msix::attach(const PciFunction& function, const char** error) {
    *this = Msix{};
    where_ = function.where;
    uint8_t caps[48];
    unsigned count = pci_capabilities(function.where, caps, 48);
    for (unsigned i = 0; i < count && cap_ == 0; ++i) {
        if (pci_read8(function.where, caps[i]) == kPciCapMsix) {
            cap_ = caps[i];
        }
    }
    if (cap_ == 0) {
        *error = "no MSI-X capability";
        return false;
    }
    uint16_t control = pci_read16(where_, static_cast<uint8_t>(cap_ + kMessageControl));
    table_size_ = (control & kControlTableSizeMask) + 1u;
    uint32_t table = pci_read32(where_, static_cast<uint8_t>(cap_ + kTableOffset));
    unsigned bir = table & kBirMask;
    if (bir >= kPciBars || !function.bars[bir].present || function.bars[bir].io ||
        function.bars[bir].address == 0) {
        *error = "MSI-X table BAR is not an assigned memory BAR";
        return false;
    }
    uint64_t address = function.bars[bir].address + (table & ~kBirMask);
    if (phys_ptr(address, uint64_t{table_size_} * kEntryBytes) == nullptr) {
        *error = "MSI-X table not below 4 GiB";
        return false;
    }
    table_ = address;
    return true;
}

void Msix::mask_entry(unsigned i) {
    if (i < table_size_) {
        uint64_t entry = table_ + uint64_t{i} * kEntryBytes;
        mmio_write32(entry + kEntryControl, mmio_read32(entry + kEntryControl) | kEntryMasked);
    }
}

void Msix::set_entry(unsigned i, uint32_t apic_id, uint8_t vector) {
    if (i >= table_size_) {
        return;
    }
    uint64_t entry = table_ + uint64_t{i} * kEntryBytes;
    uint32_t control = mmio_read32(entry + kEntryControl);
    mmio_write32(entry + kEntryControl, control | kEntryMasked);
    mmio_write32(entry + kEntryAddressLow, msi_address(apic_id));
    mmio_write32(entry + kEntryAddressHigh, 0);
    mmio_write32(entry + kEntryData, msi_data(vector));
    mmio_write32(entry + kEntryControl, control & ~kEntryMasked);
}

void Msix::enable(bool on) {
    uint8_t offset = static_cast<uint8_t>(cap_ + kMessageControl);
    uint16_t control = pci_read16(where_, offset);
    control = static_cast<uint16_t>(control & ~(kControlEnable | kControlFunctionMask));
    if (on) {
        control = static_cast<uint16_t>(control | kControlEnable);
    }
    pci_write16(where_, offset, control);
}

}  // namespace guest
