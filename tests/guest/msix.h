// MSI-X (PCI Local Bus Specification 3.0, 6.8.2), driver side, from ring 3: the capability,
// the table in a memory BAR below 4 GiB, entries aimed at a local APIC (interrupts.h), and
// the enable bit. Entries are rewritten only while masked.
#pragma once

#include <stdint.h>

#include "pci.h"

namespace guest {

class Msix {
  public:
    // Finds the capability and locates the table; false with *error when there is none or the
    // table is not in a usable memory BAR. Touches only configuration reads.
    bool attach(const PciFunction& function, const char** error);

    unsigned table_size() const { return table_size_; }
    // Entry i: masked, aimed at apic_id with vector (fixed, edge), unmasked.
    void set_entry(unsigned i, uint32_t apic_id, uint8_t vector);
    void mask_entry(unsigned i);
    // Message control: MSI-X enable (function mask clear), or disabled.
    void enable(bool on);

  private:
    PciAddress where_;
    uint8_t cap_ = 0;
    unsigned table_size_ = 0;
    uint64_t table_ = 0;  // address of entry 0
};

}  // namespace guest
