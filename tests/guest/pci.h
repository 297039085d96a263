// PCI configuration space through configuration mechanism #1 (ports 0xCF8/0xCFC; PCI Local
// Bus Specification 3.0, 3.2.2.3.2), bus 0, function 0 only: enough to find nvmevm's devices
// (and QEMU's, under run-under-qemu.sh). Ring 3: IOPL 3 and the TSS I/O bitmap allow the ports.
//
// The guest is not firmware: it expects the VMM (or SeaBIOS) to have assigned the BARs and
// only reads them. Nothing here sizes a BAR (that would need decoding off meanwhile).
#pragma once

#include <stdint.h>

namespace guest {

inline constexpr unsigned kPciSlots = 32;
inline constexpr unsigned kPciBars = 6;

// Configuration-space offsets and bits used here (type-0 header).
inline constexpr uint8_t kPciVendorId = 0x00;
inline constexpr uint8_t kPciDeviceId = 0x02;
inline constexpr uint8_t kPciCommand = 0x04;
inline constexpr uint8_t kPciStatus = 0x06;
inline constexpr uint8_t kPciRevision = 0x08;
inline constexpr uint8_t kPciHeaderType = 0x0e;
inline constexpr uint8_t kPciBar0 = 0x10;
inline constexpr uint8_t kPciSubsystemId = 0x2e;
inline constexpr uint8_t kPciCapabilityPointer = 0x34;
inline constexpr uint16_t kPciCommandMemory = 0x0002;
inline constexpr uint16_t kPciCommandBusMaster = 0x0004;
inline constexpr uint16_t kPciCommandIntxDisable = 0x0400;
inline constexpr uint16_t kPciStatusCapabilities = 0x0010;
inline constexpr uint8_t kPciCapVendorSpecific = 0x09;
inline constexpr uint8_t kPciCapMsix = 0x11;

// Function 0 of a slot on bus 0.
struct PciAddress {
    uint8_t slot = 0;
};

uint32_t pci_read32(PciAddress where, uint8_t offset);  // offset rounded down to a dword
uint16_t pci_read16(PciAddress where, uint8_t offset);  // offset rounded down to even
uint8_t pci_read8(PciAddress where, uint8_t offset);
void pci_write16(PciAddress where, uint8_t offset, uint16_t value);  // a 16-bit port write

struct PciBarInfo {
    bool present = false;  // a memory or I/O BAR (a 64-bit BAR's upper slot: false)
    bool io = false;
    bool is64 = false;
    bool prefetchable = false;
    uint64_t address = 0;  // as assigned; 0: unassigned
};

struct PciFunction {
    PciAddress where;
    uint16_t vendor = 0;
    uint16_t device = 0;
    uint8_t revision = 0;
    uint16_t subsystem = 0;
    PciBarInfo bars[kPciBars];
};

// Scans bus 0, slots 0-31, function 0, for vendor/device; fills up to max_found entries and
// returns how many matched (which may exceed max_found).
unsigned pci_find(uint16_t vendor, uint16_t device, PciFunction* found, unsigned max_found);

// Sets the given bits in the command register (read-modify-write of 16 bits).
void pci_enable(PciAddress where, uint16_t command_bits);

// The capability list (6.7): stores up to max offsets, in list order, and returns how many it
// stored. Stops when the list is absent, ends, points into the header, or runs longer than 48
// entries (256 bytes hold no more than 48 four-byte capabilities past 0x40: a loop).
unsigned pci_capabilities(PciAddress where, uint8_t* offsets, unsigned max);

// "00:SS" into buf (6 bytes with the NUL).
void pci_format(PciAddress where, char* buf);

}  // namespace guest
