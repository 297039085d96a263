#include "devices/pci_host.h"

#include <stdexcept>

#include "devices/pci_config.h"

namespace nvmevm {
namespace {

constexpr uint64_t kAddressOffset = 0;       // CONFIG_ADDRESS, 0xCF8
constexpr uint64_t kResetControlOffset = 1;  // 0xCF9, byte accesses only
constexpr uint64_t kDataOffset = 4;          // CONFIG_DATA, 0xCFC-0xCFF

// CONFIG_ADDRESS fields (3.2.2.3.2, figure 3-2).
constexpr uint32_t kAddressEnable = 0x80000000;
constexpr unsigned kBusShift = 16;
constexpr unsigned kDeviceShift = 11;
constexpr unsigned kFunctionShift = 8;
constexpr uint32_t kRegisterMask = 0xfc;
// Bits 30:24 are reserved and bits 1:0 are "read-only and must return 0's when read".
constexpr uint32_t kAddressWritable = kAddressEnable | 0x00fffffc;

// Function 0 of device 0: the host bridge, a header with identification only.
class HostBridgeFunction final : public PciDevice {
  public:
    HostBridgeFunction()
        : config_(PciIds{PciHost::kBridgeVendor, PciHost::kBridgeDevice, PciHost::kBridgeClass}) {}
    void config_read(uint32_t offset, std::span<uint8_t> data) override {
        config_.read(offset, data);
    }
    void config_write(uint32_t offset, std::span<const uint8_t> data) override {
        config_.write(offset, data);
    }

  private:
    PciConfigSpace config_;
};

void fill_ones(std::span<uint8_t> data) {
    for (auto& byte : data) byte = 0xff;
}

bool valid_width(size_t size) {
    return size == 1 || size == 2 || size == 4;
}

}  // namespace

PciHost::PciHost(std::shared_ptr<BusDevice> reset_control)
    : reset_control_(std::move(reset_control)) {
    slots_[0] = std::make_shared<HostBridgeFunction>();
}

void PciHost::add_device(unsigned slot, std::shared_ptr<PciDevice> device) {
    if (slot == 0 || slot >= kSlotCount) throw std::invalid_argument("PCI slot must be 1-31");
    if (!device) throw std::invalid_argument("PCI device is null");
    std::lock_guard lock(mutex_);
    if (slots_[slot]) throw std::invalid_argument("PCI slot already taken");
    slots_[slot] = std::move(device);
}

PciDevice* PciHost::selected_locked(uint32_t& register_offset) const {
    const uint32_t address = config_address_;
    if (!(address & kAddressEnable)) return nullptr;
    const uint32_t bus = (address >> kBusShift) & 0xff;
    const uint32_t device = (address >> kDeviceShift) & 0x1f;
    const uint32_t function = (address >> kFunctionShift) & 0x7;
    // Bus 0 only; one function per slot (header type bit 7 clear, so guests scan no others).
    if (bus != 0 || function != 0) return nullptr;
    register_offset = address & kRegisterMask;
    return slots_[device].get();
}

void PciHost::read(uint64_t offset, std::span<uint8_t> data) {
    fill_ones(data);  // the answer for everything not claimed below
    if (offset >= kPortCount || data.size() > kPortCount - offset || !valid_width(data.size()))
        return;
    if (offset == kResetControlOffset && data.size() == 1) {
        if (reset_control_) reset_control_->read(0, data);
        return;
    }
    std::lock_guard lock(mutex_);
    if (offset == kAddressOffset && data.size() == 4) {
        store_le(data, config_address_);
        return;
    }
    if (offset < kDataOffset) return;
    const auto byte = static_cast<uint32_t>(offset - kDataOffset);
    uint32_t reg = 0;
    // An absent function reads all ones: a vendor ID of 0xffff tells the guest nothing is
    // there (6.1). So does every access with the enable bit clear.
    if (PciDevice* device = selected_locked(reg)) device->config_read(reg + byte, data);
}

void PciHost::write(uint64_t offset, std::span<const uint8_t> data) {
    if (offset >= kPortCount || data.size() > kPortCount - offset || !valid_width(data.size()))
        return;
    if (offset == kResetControlOffset && data.size() == 1) {
        if (reset_control_) reset_control_->write(0, data);
        return;
    }
    std::lock_guard lock(mutex_);
    if (offset == kAddressOffset && data.size() == 4) {
        // "Anytime a host bridge sees a full DWORD I/O write from the host to CONFIG_ADDRESS,
        // the bridge must latch the data into its CONFIG_ADDRESS register."
        config_address_ = static_cast<uint32_t>(load_le(data)) & kAddressWritable;
        return;
    }
    if (offset < kDataOffset) return;  // "non-DWORD accesses ... have no effect on CONFIG_ADDRESS"
    const auto byte = static_cast<uint32_t>(offset - kDataOffset);
    uint32_t reg = 0;
    if (PciDevice* device = selected_locked(reg)) device->config_write(reg + byte, data);
}

}  // namespace nvmevm
