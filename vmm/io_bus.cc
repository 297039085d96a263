#include "vmm/io_bus.h"

#include <cstring>
#include <stdexcept>

namespace nvmevm {

void IoBus::add(uint64_t base, uint64_t length, std::shared_ptr<BusDevice> device) {
    if (length == 0 || base + length < base) throw std::invalid_argument(name_ + ": bad range");
    auto next = entries_.lower_bound(base);
    if (next != entries_.end() && next->first < base + length)
        throw std::invalid_argument(name_ + ": overlapping device range");
    if (next != entries_.begin()) {
        auto prev = std::prev(next);
        if (prev->first + prev->second.length > base)
            throw std::invalid_argument(name_ + ": overlapping device range");
    }
    entries_.emplace(base, Entry{length, std::move(device)});
}

const std::pair<const uint64_t, IoBus::Entry>* IoBus::find(uint64_t address, size_t size) const {
    auto it = entries_.upper_bound(address);
    if (it == entries_.begin()) return nullptr;
    --it;
    const uint64_t offset = address - it->first;
    if (offset >= it->second.length || size > it->second.length - offset) return nullptr;
    return &*it;
}

bool IoBus::read(uint64_t address, std::span<uint8_t> data) {
    if (const auto* entry = find(address, data.size())) {
        entry->second.device->read(address - entry->first, data);
        return true;
    }
    std::memset(data.data(), 0xff, data.size());
    logf_limited(unhandled_log_, LogLevel::debug, "%s: unhandled read of %zu bytes at 0x%llx",
                 name_.c_str(), data.size(), static_cast<unsigned long long>(address));
    return false;
}

bool IoBus::write(uint64_t address, std::span<const uint8_t> data) {
    if (const auto* entry = find(address, data.size())) {
        entry->second.device->write(address - entry->first, data);
        return true;
    }
    logf_limited(unhandled_log_, LogLevel::debug, "%s: unhandled write of %zu bytes at 0x%llx",
                 name_.c_str(), data.size(), static_cast<unsigned long long>(address));
    return false;
}

}  // namespace nvmevm
