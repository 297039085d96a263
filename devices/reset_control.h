// The reset control register at port 0xCF9 (RST_CNT in Intel's ICH/PCH datasheets), used by
// Linux's `reboot=pci` and by its fallback chain. A 1-byte register; the PCI host bridge owns
// ports 0xCF8-0xCFF and forwards a one-byte access at 0xCF9 here (devices/pci_host.h).
#pragma once

#include <cstdint>
#include <mutex>
#include <span>

#include "devices/io_bus.h"
#include "devices/vm_control.h"

namespace nvmevm {

class ResetControl final : public BusDevice {
  public:
    // `control` must outlive the device.
    explicit ResetControl(VmControl& control) : control_(control) {}

    void read(uint64_t offset, std::span<uint8_t> data) override;
    void write(uint64_t offset, std::span<const uint8_t> data) override;

  private:
    VmControl& control_;
    std::mutex mutex_;
    uint8_t value_ = 0;
};

}  // namespace nvmevm
