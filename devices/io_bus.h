// Dispatches the guest's port I/O and MMIO exits to the device that claims the address.
// Devices see offsets relative to their own base, never raw guest addresses. An access that no
// device claims is answered (reads: all ones) and logged at a rate limit; it never stops the VM.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <string>

#include "foundation/log.h"

namespace nvmevm {

// A device on a bus. Called from any vCPU thread: a device with state guards it itself.
class BusDevice {
  public:
    virtual ~BusDevice() = default;
    // `data` holds 1, 2, 4 or 8 bytes (little-endian), offset is relative to the device's base.
    virtual void read(uint64_t offset, std::span<uint8_t> data) = 0;
    virtual void write(uint64_t offset, std::span<const uint8_t> data) = 0;
};

class IoBus {
  public:
    explicit IoBus(std::string name) : name_(std::move(name)) {}

    // Claims [base, base + length). Throws std::invalid_argument on overlap (a VMM bug).
    void add(uint64_t base, uint64_t length, std::shared_ptr<BusDevice> device);
    // Releases the range starting at `base` if `device` is what is there (a PCI BAR being moved
    // or disabled by the guest: it never takes another device's range). Returns false if not.
    bool remove(uint64_t base, const BusDevice& device);
    // Like add, but returns false instead of throwing: for ranges the guest chooses (BARs).
    [[nodiscard]] bool try_add(uint64_t base, uint64_t length, std::shared_ptr<BusDevice> device);

    // Returns true if a device handled the access.
    bool read(uint64_t address, std::span<uint8_t> data);
    bool write(uint64_t address, std::span<const uint8_t> data);

  private:
    struct Entry {
        uint64_t length;
        std::shared_ptr<BusDevice> device;
    };
    // Looks up the device whose range holds the whole access; nullptr and offset untouched if
    // none. Returns a reference to keep the device alive while it runs outside the lock.
    [[nodiscard]] std::shared_ptr<BusDevice> find(uint64_t address, size_t size,
                                                  uint64_t& offset) const;
    [[nodiscard]] bool overlaps(uint64_t base, uint64_t length) const;

    std::string name_;
    // By base. Read on every exit, written only when the guest moves a PCI BAR: a shared lock.
    mutable std::shared_mutex mutex_;
    std::map<uint64_t, Entry> entries_;
    RateLimiter unhandled_log_;
};

// Little-endian helpers for devices that read and write registers of several widths.
inline uint64_t load_le(std::span<const uint8_t> data) {
    uint64_t value = 0;
    for (size_t i = 0; i < data.size() && i < 8; ++i) value |= uint64_t{data[i]} << (8 * i);
    return value;
}
inline void store_le(std::span<uint8_t> data, uint64_t value) {
    for (size_t i = 0; i < data.size() && i < 8; ++i)
        data[i] = static_cast<uint8_t>(value >> (8 * i));
}

}  // namespace nvmevm
