// The configuration space of a PCI function with a type-0 header (PCI Local Bus Specification
// 3.0, 6.1 and 6.2): identification, command/status, BARs with size probing, a capability list
// and interrupt line/pin. A PciDevice owns one, answers config_read/config_write through it and
// adds its own behaviour (e.g. reacting to MSI-X enable) around those calls.
//
// Writes honour per-byte write masks (read-only bits keep their value) and write-1-to-clear
// masks (status register error bits). A BAR's writable bits are its address bits above its
// size, so writing all ones and reading back yields the size mask (6.2.5.1).
//
// Thread-safe: a mutex guards the bytes. The BAR callback runs after the mutex is released,
// on the thread of the config write (a vCPU thread, while the host bridge holds its lock).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <span>

#include "devices/pci_device.h"

namespace nvmevm {

struct PciIds {
    uint16_t vendor = 0;
    uint16_t device = 0;
    uint32_t class_code = 0;  // base class << 16 | subclass << 8 | programming interface
    uint8_t revision = 0;
    uint16_t subsystem_vendor = 0;
    uint16_t subsystem = 0;
    uint8_t header_type = 0;  // bit 7 set: multi-function
};

enum class PciBarKind { memory32, memory64, io };

struct PciBar {
    PciBarKind kind = PciBarKind::memory32;
    uint64_t size = 0;  // power of two; memory >= 16 bytes, I/O >= 4 bytes (6.2.5.1)
    bool prefetchable = false;
};

// A BAR's decoded address changed: it moved, or decoding was turned on or off in the command
// register. nullopt means "not decoded" (decoding disabled). The VMM remaps its MMIO or
// port range (and ioeventfds) accordingly.
struct PciBarChange {
    unsigned index = 0;
    PciBar bar;
    std::optional<uint64_t> old_address;
    std::optional<uint64_t> new_address;
};

class PciConfigSpace {
  public:
    using BarCallback = std::function<void(const PciBarChange&)>;

    static constexpr uint32_t kCommand = 0x04;
    static constexpr uint32_t kStatus = 0x06;
    static constexpr uint32_t kBar0 = 0x10;
    static constexpr uint32_t kCapabilityPointer = 0x34;
    static constexpr uint32_t kInterruptLine = 0x3c;
    static constexpr uint32_t kInterruptPin = 0x3d;
    static constexpr uint16_t kCommandIo = 0x0001;
    static constexpr uint16_t kCommandMemory = 0x0002;
    static constexpr uint16_t kCommandBusMaster = 0x0004;
    static constexpr uint16_t kCommandIntxDisable = 0x0400;
    static constexpr unsigned kBarCount = 6;

    explicit PciConfigSpace(const PciIds& ids);

    // Setup, before the guest runs. Throw std::invalid_argument / std::length_error on misuse
    // (a VMM bug). A 64-bit BAR takes slots index and index + 1.
    void add_bar(unsigned index, const PciBar& bar);
    void set_interrupt_pin(uint8_t pin);  // 1 = INTA#; 0 = none
    void set_bar_callback(BarCallback callback);
    // Appends a capability (6.7) to the list: `body` follows the ID and next-pointer bytes,
    // `body_write_mask` (empty: read-only) says which of its bits the guest may write. Returns
    // the capability's offset.
    uint8_t add_capability(uint8_t id, std::span<const uint8_t> body,
                           std::span<const uint8_t> body_write_mask = {});
    // Sets bytes directly (device-side state, e.g. the interrupt status bit), ignoring masks.
    void set_bytes(uint32_t offset, std::span<const uint8_t> bytes);

    // Guest accesses; out-of-range bytes read all ones and are not written.
    void read(uint32_t offset, std::span<uint8_t> data) const;
    void write(uint32_t offset, std::span<const uint8_t> data);

    [[nodiscard]] uint32_t read32(uint32_t offset) const;
    [[nodiscard]] uint16_t command() const;
    // The BAR's decoded address, nullopt while decoding for its kind is off or it is unused.
    [[nodiscard]] std::optional<uint64_t> bar_address(unsigned index) const;

  private:
    struct BarSlot {
        bool used = false;
        bool upper_half = false;  // the high dword of the 64-bit BAR before it
        PciBar bar;
    };
    [[nodiscard]] uint64_t bar_register_address(unsigned index) const;  // needs mutex_
    [[nodiscard]] std::optional<uint64_t> decoded_locked(unsigned index) const;

    mutable std::mutex mutex_;
    std::array<uint8_t, kPciConfigSpaceSize> bytes_{};
    std::array<uint8_t, kPciConfigSpaceSize> write_mask_{};
    std::array<uint8_t, kPciConfigSpaceSize> clear_mask_{};  // write 1 to clear
    std::array<BarSlot, kBarCount> bars_{};
    std::array<std::optional<uint64_t>, kBarCount> decoded_{};  // last reported
    uint8_t last_capability_ = 0;
    uint32_t next_capability_ = 0x40;  // first byte after the standard header
    BarCallback bar_callback_;
};

}  // namespace nvmevm
