#include "devices/pci_config.h"

#include <stdexcept>
#include <utility>
#include <vector>

#include "devices/io_bus.h"

namespace nvmevm {
namespace {

constexpr uint32_t kVendorId = 0x00;
constexpr uint32_t kDeviceId = 0x02;
constexpr uint32_t kRevision = 0x08;
constexpr uint32_t kClassCode = 0x09;  // 3 bytes: programming interface, subclass, base class
constexpr uint32_t kCacheLineSize = 0x0c;
constexpr uint32_t kLatencyTimer = 0x0d;
constexpr uint32_t kHeaderType = 0x0e;
constexpr uint32_t kSubsystemVendor = 0x2c;
constexpr uint32_t kSubsystemId = 0x2e;

// 6.2.2: the command bits a function without special cycles or VGA snooping implements:
// I/O space, memory space, bus master, parity error response, SERR# enable, interrupt disable.
constexpr uint16_t kCommandWritable = 0x0001 | 0x0002 | 0x0004 | 0x0040 | 0x0100 | 0x0400;
// 6.2.3: status bits 8 and 11-15 are error reports that software clears by writing 1.
constexpr uint16_t kStatusWriteOneToClear = 0x0100 | 0xf800;
constexpr uint16_t kStatusCapabilityList = 0x0010;

// 6.2.5.1: BAR flag bits.
constexpr uint32_t kBarIo = 0x1;
constexpr uint32_t kBarMemory64 = 0x4;
constexpr uint32_t kBarPrefetchable = 0x8;
constexpr uint64_t kBarMemoryFlagMask = 0xf;
constexpr uint64_t kBarIoFlagMask = 0x3;

bool is_power_of_two(uint64_t value) {
    return value != 0 && (value & (value - 1)) == 0;
}

}  // namespace

PciConfigSpace::PciConfigSpace(const PciIds& ids) {
    auto put = [this](uint32_t offset, uint64_t value, size_t size) {
        store_le(std::span<uint8_t>(bytes_).subspan(offset, size), value);
    };
    auto mask = [](std::array<uint8_t, kPciConfigSpaceSize>& masks, uint32_t offset, uint64_t value,
                   size_t size) {
        store_le(std::span<uint8_t>(masks).subspan(offset, size), value);
    };
    put(kVendorId, ids.vendor, 2);
    put(kDeviceId, ids.device, 2);
    put(kRevision, ids.revision, 1);
    put(kClassCode, ids.class_code & 0xffffff, 3);
    put(kHeaderType, ids.header_type, 1);
    put(kSubsystemVendor, ids.subsystem_vendor, 2);
    put(kSubsystemId, ids.subsystem, 2);
    mask(write_mask_, kCommand, kCommandWritable, 2);
    mask(clear_mask_, kStatus, kStatusWriteOneToClear, 2);
    mask(write_mask_, kCacheLineSize, 0xff, 1);
    mask(write_mask_, kLatencyTimer, 0xff, 1);
    mask(write_mask_, kInterruptLine, 0xff, 1);
    // Everything else, the expansion ROM BAR (0x30) included, is read-only: a ROM BAR that
    // reads 0 after all ones were written means "no ROM" (6.2.5.2).
}

void PciConfigSpace::add_bar(unsigned index, const PciBar& bar) {
    std::lock_guard lock(mutex_);
    const bool wide = bar.kind == PciBarKind::memory64;
    if (index >= kBarCount || (wide && index + 1 >= kBarCount))
        throw std::invalid_argument("PCI BAR index out of range");
    if (bars_[index].used || (wide && bars_[index + 1].used))
        throw std::invalid_argument("PCI BAR slot already used");
    const bool io = bar.kind == PciBarKind::io;
    const uint64_t min_size = io ? 4 : 16;
    const uint64_t max_size = io ? 256 : (wide ? (uint64_t{1} << 63) : (uint64_t{1} << 31));
    if (!is_power_of_two(bar.size) || bar.size < min_size || bar.size > max_size)
        throw std::invalid_argument("PCI BAR size must be a power of two in range");

    uint32_t flags = 0;
    if (io) {
        flags = kBarIo;
    } else {
        if (wide) flags |= kBarMemory64;
        if (bar.prefetchable) flags |= kBarPrefetchable;
    }
    const uint64_t address_mask = ~(bar.size - 1) & ~(io ? kBarIoFlagMask : kBarMemoryFlagMask);
    const uint32_t offset = kBar0 + 4 * index;
    store_le(std::span<uint8_t>(bytes_).subspan(offset, 4), flags);
    store_le(std::span<uint8_t>(write_mask_).subspan(offset, 4), address_mask & 0xffffffff);
    bars_[index] = BarSlot{true, false, bar};
    if (wide) {
        store_le(std::span<uint8_t>(write_mask_).subspan(offset + 4, 4), address_mask >> 32);
        bars_[index + 1] = BarSlot{true, true, bar};
    }
}

void PciConfigSpace::set_interrupt_pin(uint8_t pin) {
    if (pin > 4) throw std::invalid_argument("PCI interrupt pin must be 0-4");
    std::lock_guard lock(mutex_);
    bytes_[kInterruptPin] = pin;
}

void PciConfigSpace::set_bar_callback(BarCallback callback) {
    std::lock_guard lock(mutex_);
    bar_callback_ = std::move(callback);
}

uint8_t PciConfigSpace::add_capability(uint8_t id, std::span<const uint8_t> body,
                                       std::span<const uint8_t> body_write_mask) {
    std::lock_guard lock(mutex_);
    if (!body_write_mask.empty() && body_write_mask.size() != body.size())
        throw std::invalid_argument("PCI capability write mask size differs from its body");
    const uint32_t start = next_capability_;
    const size_t length = 2 + body.size();
    if (length > kPciConfigSpaceSize - start)
        throw std::length_error("PCI capabilities do not fit in configuration space");
    bytes_[start] = id;
    bytes_[start + 1] = 0;  // end of list
    for (size_t i = 0; i < body.size(); ++i) {
        bytes_[start + 2 + i] = body[i];
        write_mask_[start + 2 + i] = body_write_mask.empty() ? 0 : body_write_mask[i];
    }
    // 6.7: "the bottom two bits of all pointers are reserved and must be implemented as 00b".
    if (last_capability_ == 0) {
        bytes_[kCapabilityPointer] = static_cast<uint8_t>(start);
    } else {
        bytes_[last_capability_ + 1u] = static_cast<uint8_t>(start);
    }
    bytes_[kStatus] |= kStatusCapabilityList;
    last_capability_ = static_cast<uint8_t>(start);
    next_capability_ = static_cast<uint32_t>((start + length + 3) & ~size_t{3});
    return static_cast<uint8_t>(start);
}

void PciConfigSpace::set_bytes(uint32_t offset, std::span<const uint8_t> bytes) {
    if (offset > kPciConfigSpaceSize || bytes.size() > kPciConfigSpaceSize - offset)
        throw std::invalid_argument("PCI config bytes out of range");
    std::lock_guard lock(mutex_);
    for (size_t i = 0; i < bytes.size(); ++i) bytes_[offset + i] = bytes[i];
}

void PciConfigSpace::read(uint32_t offset, std::span<uint8_t> data) const {
    std::lock_guard lock(mutex_);
    for (size_t i = 0; i < data.size(); ++i) {
        const uint64_t reg = uint64_t{offset} + i;
        data[i] = reg < kPciConfigSpaceSize ? bytes_[reg] : 0xff;
    }
}

void PciConfigSpace::write(uint32_t offset, std::span<const uint8_t> data) {
    std::vector<PciBarChange> changes;
    BarCallback callback;
    {
        std::lock_guard lock(mutex_);
        for (size_t i = 0; i < data.size(); ++i) {
            const uint64_t reg = uint64_t{offset} + i;
            if (reg >= kPciConfigSpaceSize) break;
            const uint8_t value = data[i];
            uint8_t next = static_cast<uint8_t>((bytes_[reg] & ~write_mask_[reg]) |
                                                (value & write_mask_[reg]));
            next = static_cast<uint8_t>(next & ~(value & clear_mask_[reg]));
            bytes_[reg] = next;
        }
        for (unsigned index = 0; index < kBarCount; ++index) {
            const auto now = decoded_locked(index);
            if (now == decoded_[index]) continue;
            changes.push_back(PciBarChange{index, bars_[index].bar, decoded_[index], now});
            decoded_[index] = now;
        }
        if (!changes.empty()) callback = bar_callback_;
    }
    if (callback) {
        for (const auto& change : changes) callback(change);
    }
}

uint32_t PciConfigSpace::read32(uint32_t offset) const {
    uint8_t data[4];
    read(offset, data);
    return static_cast<uint32_t>(load_le(data));
}

uint16_t PciConfigSpace::command() const {
    uint8_t data[2];
    read(kCommand, data);
    return static_cast<uint16_t>(load_le(data));
}

std::optional<uint64_t> PciConfigSpace::bar_address(unsigned index) const {
    std::lock_guard lock(mutex_);
    return decoded_locked(index);
}

uint64_t PciConfigSpace::bar_register_address(unsigned index) const {
    const uint32_t offset = kBar0 + 4 * index;
    const auto& slot = bars_[index];
    const bool io = slot.bar.kind == PciBarKind::io;
    uint64_t address = load_le(std::span<const uint8_t>(bytes_).subspan(offset, 4)) &
                       ~(io ? kBarIoFlagMask : kBarMemoryFlagMask);
    if (slot.bar.kind == PciBarKind::memory64)
        address |= load_le(std::span<const uint8_t>(bytes_).subspan(offset + 4, 4)) << 32;
    return address;
}

std::optional<uint64_t> PciConfigSpace::decoded_locked(unsigned index) const {
    if (index >= kBarCount) return std::nullopt;
    const auto& slot = bars_[index];
    if (!slot.used || slot.upper_half) return std::nullopt;
    const auto command =
        static_cast<uint16_t>(load_le(std::span<const uint8_t>(bytes_).subspan(kCommand, 2)));
    const bool io = slot.bar.kind == PciBarKind::io;
    if (!(command & (io ? kCommandIo : kCommandMemory))) return std::nullopt;
    return bar_register_address(index);
}

}  // namespace nvmevm
