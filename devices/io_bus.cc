#include "devices/io_bus.h"

#include <cstring>
#include <stdexcept>

namespace nvmevm {

bool IoBus::overlaps(uint64_t base, uint64_t length) const {
    auto next = entries_.lower_bound(base);
    if (next != entries_.end() && next->first < base + length) return true;
    if (next != entries_.begin()) {
        auto prev = std::prev(next);
        if (prev->first + prev->second.length > base) return true;
    }
    return false;
}

bool IoBus::try_add(uint64_t base, uint64_t length, std::shared_ptr<BusDevice> device) {
    if (length == 0 || base + length < base) return false;
    std::unique_lock lock(mutex_);
    if (overlaps(base, length)) return false;
    entries_.emplace(base, Entry{length, std::move(device)});
    return true;
}

void IoBus::add(uint64_t base, uint64_t length, std::shared_ptr<BusDevice> device) {
    if (!try_add(base, length, std::move(device)))
        throw std::invalid_argument(name_ + ": bad or overlapping device range");
}

bool IoBus::remove(uint64_t base, const BusDevice& device) {
    std::unique_lock lock(mutex_);
    const auto it = entries_.find(base);
    if (it == entries_.end() || it->second.device.get() != &device) return false;
    entries_.erase(it);
    return true;
}

std::shared_ptr<BusDevice> IoBus::find(uint64_t address, size_t size, uint64_t& offset) const {
    std::shared_lock lock(mutex_);
    auto it = entries_.upper_bound(address);
    if (it == entries_.begin()) return nullptr;
    --it;
    const uint64_t relative = address - it->first;
    if (relative >= it->second.length || size > it->second.length - relative) return nullptr;
    offset = relative;
    return it->second.device;
}

bool IoBus::read(uint64_t address, std::span<uint8_t> data) {
    uint64_t offset = 0;
    if (auto device = find(address, data.size(), offset)) {
        device->read(offset, data);
        return true;
    }
    std::memset(data.data(), 0xff, data.size());
    logf_limited(unhandled_log_, LogLevel::debug, "%s: unhandled read of %zu bytes at 0x%llx",
                 name_.c_str(), data.size(), static_cast<unsigned long long>(address));
    return false;
}

bool IoBus::write(uint64_t address, std::span<const uint8_t> data) {
    uint64_t offset = 0;
    if (auto device = find(address, data.size(), offset)) {
        device->write(offset, data);
        return true;
    }
    logf_limited(unhandled_log_, LogLevel::debug, "%s: unhandled write of %zu bytes at 0x%llx",
                 name_.c_str(), data.size(), static_cast<unsigned long long>(address));
    return false;
}

}  // namespace nvmevm
