#include "pci.h"

#include "io.h"

namespace guest {
namespace {

constexpr uint16_t kConfigAddress = 0xcf8;
constexpr uint16_t kConfigData = 0xcfc;
constexpr uint32_t kEnable = 0x80000000;
constexpr unsigned kMaxCapabilities = 48;

void select(PciAddress where, uint8_t offset) {
    // Bus 0, function 0: enable | slot << 11 | dword-aligned register.
    outl(kConfigAddress, kEnable | uint32_t{where.slot} << 11 | (offset & 0xfcu));
}

}  // namespace

uint32_t pci_read32(PciAddress where, uint8_t offset) {
    select(where, offset);
    return inl(kConfigData);
}

uint16_t pci_read16(PciAddress where, uint8_t offset) {
    return static_cast<uint16_t>(pci_read32(where, offset) >> ((offset & 2u) * 8));
}

uint8_t pci_read8(PciAddress where, uint8_t offset) {
    return static_cast<uint8_t>(pci_read32(where, offset) >> ((offset & 3u) * 8));
}

void pci_write16(PciAddress where, uint8_t offset, uint16_t value) {
    // A 16-bit write to the data port's matching half: a dword write would also write the
    // neighbouring register (for the command register: status, whose error bits clear on 1).
    select(where, offset);
    outw(static_cast<uint16_t>(kConfigData + (offset & 2u)), value);
}

unsigned pci_find(uint16_t vendor, uint16_t device, PciFunction* found, unsigned max_found) {
    unsigned count = 0;
    for (unsigned slot = 0; slot < kPciSlots; ++slot) {
        PciAddress where{static_cast<uint8_t>(slot)};
        uint32_t ids = pci_read32(where, kPciVendorId);
        if ((ids & 0xffff) != vendor || (ids >> 16) != device) {
            continue;  // also skips empty slots (all ones)
        }
        if (count < max_found) {
            PciFunction& f = found[count];
            f = PciFunction{};
            f.where = where;
            f.vendor = vendor;
            f.device = device;
            f.revision = pci_read8(where, kPciRevision);
            f.subsystem = pci_read16(where, kPciSubsystemId);
            for (unsigned i = 0; i < kPciBars; ++i) {
                auto offset = static_cast<uint8_t>(kPciBar0 + 4 * i);
                uint32_t low = pci_read32(where, offset);
                PciBarInfo& bar = f.bars[i];
                if ((low & 1u) != 0) {
                    bar.present = true;
                    bar.io = true;
                    bar.address = low & ~uint32_t{3};
                    continue;
                }
                uint32_t type = (low >> 1) & 3u;
                bar.prefetchable = (low & 8u) != 0;
                bar.address = low & ~uint32_t{0xf};
                if (type == 2 && i + 1 < kPciBars) {  // 64-bit: the next slot is the high half
                    bar.is64 = true;
                    bar.address |= uint64_t{pci_read32(where, static_cast<uint8_t>(offset + 4))}
                                   << 32;
                    bar.present = true;
                    ++i;
                    continue;
                }
                // A 32-bit BAR reading 0 may be unimplemented or unassigned; both are useless.
                bar.present = low != 0;
            }
        }
        ++count;
    }
    return count;
}

void pci_enable(PciAddress where, uint16_t command_bits) {
    uint16_t command = pci_read16(where, kPciCommand);
    pci_write16(where, kPciCommand, static_cast<uint16_t>(command | command_bits));
}

unsigned pci_capabilities(PciAddress where, uint8_t* offsets, unsigned max) {
    if ((pci_read16(where, kPciStatus) & kPciStatusCapabilities) == 0) {
        return 0;
    }
    unsigned stored = 0;
    // The low two bits of every pointer are reserved (6.7): mask them.
    auto offset = static_cast<uint8_t>(pci_read8(where, kPciCapabilityPointer) & 0xfc);
    for (unsigned steps = 0; offset >= 0x40 && steps < kMaxCapabilities && stored < max; ++steps) {
        offsets[stored++] = offset;
        offset = static_cast<uint8_t>(pci_read8(where, static_cast<uint8_t>(offset + 1)) & 0xfc);
    }
    return stored;
}

void pci_format(PciAddress where, char* buf) {
    buf[0] = '0';
    buf[1] = '0';
    buf[2] = ':';
    buf[3] = "0123456789abcdef"[where.slot >> 4];
    buf[4] = "0123456789abcdef"[where.slot & 0xf];
    buf[5] = '\0';
}

}  // namespace guest
