// The PCI host bridge: configuration mechanism #1 (PCI Local Bus Specification 3.0,
// 3.2.2.3.2) on ports 0xCF8-0xCFF, bus 0 only, and the host bridge function itself at device
// 0 function 0 (Linux's pci_sanity_check accepts type 1 access only when bus 0 shows a host
// bridge or a display controller).
//
// Registered at ports::kPciConfigAddress, length kPortCount. The reset control register 0xCF9
// lies inside that range; the spec says non-dword accesses to CONFIG_ADDRESS "are executed as
// normal I/O transactions", so a one-byte access at 0xCF9 goes to the reset control device
// given to the constructor, and every other non-dword access to 0xCF8-0xCFB reads all ones and
// writes nothing (Linux's type 1 probe writes one byte to 0xCFB: it must not change
// CONFIG_ADDRESS).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>

#include "devices/io_bus.h"
#include "devices/pci_device.h"

namespace nvmevm {

class PciHost final : public BusDevice {
  public:
    static constexpr uint64_t kPortCount = 8;
    static constexpr unsigned kSlotCount = 32;
    static constexpr uint16_t kBridgeVendor = 0x8086;   // Intel
    static constexpr uint16_t kBridgeDevice = 0x29c0;   // 82G33/P35 DRAM controller, as QEMU's q35
    static constexpr uint32_t kBridgeClass = 0x060000;  // bridge, host bridge

    // `reset_control` receives one-byte accesses at 0xCF9 (offset 0); null: none.
    explicit PciHost(std::shared_ptr<BusDevice> reset_control);

    // Puts `device` at bus 0, `slot` (1-31; 0 is the host bridge), function 0. Throws
    // std::invalid_argument for a bad or taken slot. Call before the guest runs.
    void add_device(unsigned slot, std::shared_ptr<PciDevice> device);

    void read(uint64_t offset, std::span<uint8_t> data) override;
    void write(uint64_t offset, std::span<const uint8_t> data) override;

  private:
    // The function CONFIG_ADDRESS selects, or null when the enable bit is clear, the bus is
    // not 0, or nothing is there.
    [[nodiscard]] PciDevice* selected_locked(uint32_t& register_offset) const;

    std::shared_ptr<BusDevice> reset_control_;
    mutable std::mutex mutex_;
    uint32_t config_address_ = 0;
    std::array<std::shared_ptr<PciDevice>, kSlotCount> slots_{};
};

}  // namespace nvmevm
