#include "devices/pci_bar_mapping.h"

#include <utility>

namespace nvmevm {

PciBarMapping::PciBarMapping(IoBus& bus, std::shared_ptr<BusDevice> device, uint64_t length,
                             std::string name)
    : bus_(bus), device_(std::move(device)), length_(length), name_(std::move(name)) {}

void PciBarMapping::unmap() {
    if (mapped_) (void)bus_.remove(*mapped_, *device_);
    mapped_.reset();
}

std::optional<uint64_t> PciBarMapping::move_to(std::optional<uint64_t> address) {
    unmap();
    if (!address) return std::nullopt;
    if (!bus_.try_add(*address, length_, device_)) {
        logf_limited(log_limit_, LogLevel::warn,
                     "%s: BAR placed at 0x%llx overlaps another device: not decoded until moved",
                     name_.c_str(), static_cast<unsigned long long>(*address));
        return std::nullopt;
    }
    mapped_ = address;
    return mapped_;
}

}  // namespace nvmevm
