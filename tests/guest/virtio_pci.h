// The virtio-pci modern transport (virtio 1.2, 4.1), driver side, from ring 3: the
// vendor-specific capabilities that locate the common configuration, notification, ISR and
// device-specific structures in memory BARs, and the accesses the spec allows on them
// (4.1.3.1: 8-bit fields with 8-bit accesses, 16-bit with 16-bit, 32- and 64-bit fields with
// aligned 32-bit accesses, a 64-bit field as its two halves, low first).
//
// All structures must lie in memory BARs below 4 GiB: page_tables.S identity-maps the low
// 4 GiB, and 3-4 GiB (where nvmevm and SeaBIOS put BARs) is uncached there. An I/O BAR or a
// BAR above 4 GiB is reported, not used.
#pragma once

#include <stdint.h>

#include "pci.h"

namespace guest {

// Device status bits (2.1).
inline constexpr uint8_t kVirtioStatusAcknowledge = 1;
inline constexpr uint8_t kVirtioStatusDriver = 2;
inline constexpr uint8_t kVirtioStatusDriverOk = 4;
inline constexpr uint8_t kVirtioStatusFeaturesOk = 8;
inline constexpr uint8_t kVirtioStatusNeedsReset = 64;
inline constexpr uint8_t kVirtioStatusFailed = 128;

// Reserved feature bits (6).
inline constexpr unsigned kVirtioFIndirectDesc = 28;
inline constexpr unsigned kVirtioFEventIdx = 29;
inline constexpr unsigned kVirtioFVersion1 = 32;
inline constexpr unsigned kVirtioFAccessPlatform = 33;
inline constexpr unsigned kVirtioFRingPacked = 34;
inline constexpr unsigned kVirtioFInOrder = 35;
inline constexpr unsigned kVirtioFNotificationData = 38;

inline constexpr uint16_t kVirtioNoVector = 0xffff;

constexpr uint64_t feature_bit(unsigned bit) {
    return uint64_t{1} << bit;
}

// One structure a virtio_pci_cap points at.
struct VirtioRegion {
    bool found = false;
    uint8_t cap_offset = 0;  // of the capability in configuration space
    uint8_t bar = 0;
    uint32_t offset = 0;  // within the BAR
    uint32_t length = 0;
    uint64_t address = 0;  // BAR address + offset: what MMIO goes to (0: unusable)
};

class VirtioPci {
  public:
    // Capability types (4.1.4).
    static constexpr uint8_t kCapCommon = 1;
    static constexpr uint8_t kCapNotify = 2;
    static constexpr uint8_t kCapIsr = 3;
    static constexpr uint8_t kCapDevice = 4;
    static constexpr uint8_t kCapPciCfg = 5;
    // The virtio 1.0 common configuration structure is 56 bytes (up to queue_device).
    static constexpr uint32_t kCommonMinLength = 56;

    // Walks the capabilities of `function` and checks them; false with *error set when the
    // common, notify, ISR or device structure is missing or unusable. Does not touch the
    // device beyond configuration reads.
    bool attach(const PciFunction& function, const char** error);

    const PciFunction& function() const { return function_; }
    const VirtioRegion& common() const { return common_; }
    const VirtioRegion& notify_region() const { return notify_; }
    const VirtioRegion& isr_region() const { return isr_; }
    const VirtioRegion& device_region() const { return device_; }
    uint32_t notify_off_multiplier() const { return notify_multiplier_; }
    bool has_msix() const { return has_msix_; }

    // Writes 0 to device_status and waits until it reads back 0 (bounded: false on timeout).
    bool reset();
    uint8_t status();
    void set_status(uint8_t status);
    void add_status(uint8_t bits) { set_status(static_cast<uint8_t>(status() | bits)); }

    uint64_t device_features();  // both halves through device_feature_select
    void set_driver_features(uint64_t features);
    uint16_t num_queues();

    // Selects the queue and returns its queue_size (maximum; 0: unavailable).
    uint16_t queue_max_size(uint16_t queue);
    // Sets up a queue: queue_select, queue_size, ring addresses, its MSI-X vector (table entry
    // index, or kVirtioNoVector), then queue_enable; remembers its notification address. False
    // with *error when the notify address falls outside the notify structure, the device rejects
    // the size, or it refuses the vector (reads back NO_VECTOR).
    bool setup_queue(uint16_t queue, uint16_t size, uint64_t desc, uint64_t driver, uint64_t device,
                     uint16_t msix_vector, const char** error);
    // The available-buffer notification: a 16-bit write of the queue index (4.1.4.4).
    void notify(uint16_t queue);
    uint64_t notify_address(uint16_t queue) const;

    uint8_t config_generation();
    // Device-specific configuration reads; reads beyond the structure's length return 0.
    uint8_t config8(uint32_t offset);
    uint16_t config16(uint32_t offset);
    uint32_t config32(uint32_t offset);
    // A 64-bit field read as two halves, retried while config_generation changes (4.1.3.1).
    uint64_t config64(uint32_t offset);

  private:
    static constexpr unsigned kMaxQueues = 8;

    PciFunction function_;
    VirtioRegion common_;
    VirtioRegion notify_;
    VirtioRegion isr_;
    VirtioRegion device_;
    uint32_t notify_multiplier_ = 0;
    bool has_msix_ = false;
    uint64_t notify_addresses_[kMaxQueues] = {};
};

}  // namespace guest
