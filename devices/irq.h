// How a device raises an interrupt without knowing about KVM: legacy devices get an IrqLine
// (an IOAPIC/PIC input pin), which the VMM implements with KVM_IRQ_LINE.
#pragma once

namespace nvmevm {

class IrqLine {
  public:
    virtual ~IrqLine() = default;
    // Level-triggered semantics: the device holds the line while it wants service.
    virtual void set_level(bool asserted) = 0;
};

}  // namespace nvmevm
