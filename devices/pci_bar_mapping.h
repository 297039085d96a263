// Where a PCI BAR is decoded on a bus (the MMIO bus for a memory BAR), following the guest's
// writes to the BAR and to the command register (PciConfigSpace's BAR callback).
//
// A guest may program a BAR onto a range another device already decodes. Configuration space
// keeps what the guest wrote (the BAR is a plain register: Linux sizes a BAR by writing all
// ones and reading it back, and moves a 64-bit BAR with two dword writes whose intermediate
// address may well overlap something; refusing the write would break both), but the BAR is
// then decoded nowhere: its device is left off the bus until the guest moves the BAR to a free
// range (or toggles decoding), and the device that was there first keeps its range. Real PCI
// gives overlapping BARs no defined meaning (both devices claim the cycle); QEMU resolves the
// overlap by region priority and Cloud Hypervisor refuses the bus move but keeps the register,
// as here. What this never does is touch a range it did not map itself: unmapping removes only
// this device's own entry.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "devices/io_bus.h"
#include "foundation/log.h"

namespace nvmevm {

class PciBarMapping {
  public:
    // `device` is what the bus dispatches to, `length` the BAR's size; `name` for log lines.
    PciBarMapping(IoBus& bus, std::shared_ptr<BusDevice> device, uint64_t length, std::string name);
    PciBarMapping(const PciBarMapping&) = delete;
    PciBarMapping& operator=(const PciBarMapping&) = delete;

    // The BAR now decodes at `address` (nullopt: decoding off). Takes this device's own range off
    // the bus, then puts it at `address` if nothing else is there. Returns where the device is
    // on the bus now (nullopt: nowhere). Called under the host bridge's lock.
    std::optional<uint64_t> move_to(std::optional<uint64_t> address);
    // Takes the device off the bus (teardown).
    void unmap();
    // Where the device is on the bus now.
    [[nodiscard]] std::optional<uint64_t> mapped() const { return mapped_; }

  private:
    IoBus& bus_;
    std::shared_ptr<BusDevice> device_;
    uint64_t length_;
    std::string name_;
    std::optional<uint64_t> mapped_;
    RateLimiter log_limit_;  // the guest decides how often a BAR overlaps
};

}  // namespace nvmevm
