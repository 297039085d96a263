// The virtio-pci common configuration structure (virtio 1.2, 4.1.4.3, struct
// virtio_pci_common_cfg): feature negotiation, the device status state machine, and the
// per-queue registers behind queue_select. It drives the VirtioDevice through the seam
// (activate on DRIVER_OK, reset on a write of 0) and knows nothing of BARs or PCI config space;
// virtio/pci_transport.h places it in BAR 0.
//
// Accesses may have any width at any offset. The spec asks drivers for natural, aligned
// accesses (4.1.3.1) and lets them split 64-bit fields into 32-bit halves (Linux does); we go
// further and treat every access byte by byte: a read returns the bytes of the fields it covers,
// a write read-modify-writes every field it touches, so even a hostile access has a defined and
// harmless meaning. Bytes past the structure read 0 and ignore writes.
//
// Thread-safety: a mutex serializes register accesses (and the device's activate/reset calls
// made from them). The MSI-X vector numbers are also kept in atomics so that the interrupt path
// (queue_vector, config_vector) reads them without the lock.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "foundation/log.h"
#include "virtio/virtio_device.h"

namespace nvmevm {

class VirtioPciCommonCfg {
  public:
    // What a write asks of the transport, done after the lock is released.
    struct WriteEffects {
        bool reset = false;          // the device was reset: clear the ISR
        bool config_notify = false;  // send a configuration change notification
    };

    // `device` must outlive this object. `msix_vectors` is the MSI-X table size: vector numbers
    // at or above it cannot be mapped. Throws std::invalid_argument if the device has no
    // queues or more than `max_queues`.
    VirtioPciCommonCfg(VirtioDevice& device, uint32_t msix_vectors, uint32_t max_queues);

    // Offsets relative to the start of the structure; 1 to 8 bytes.
    void read(uint64_t offset, std::span<uint8_t> data);
    // `interrupt` is handed to VirtioDevice::activate when the driver sets DRIVER_OK.
    [[nodiscard]] WriteEffects write(uint64_t offset, std::span<const uint8_t> data,
                                     VirtioInterrupt& interrupt);

    // The device found an error it cannot recover from (2.1.2: "The device SHOULD set
    // DEVICE_NEEDS_RESET when it enters an error state that a reset is needed."). Returns true
    // when a configuration change notification is due ("If DRIVER_OK is set, after it sets
    // DEVICE_NEEDS_RESET, the device MUST send a device configuration change notification").
    // Must not be called from inside VirtioDevice::activate or reset (the lock is held there).
    [[nodiscard]] bool set_needs_reset();

    // Lock-free: the vector mapped to a queue / to configuration changes, or kNoVector.
    [[nodiscard]] uint16_t queue_vector(uint16_t queue) const;
    [[nodiscard]] uint16_t config_vector() const { return config_vector_.load(); }
    // The device configuration changed: config_generation moves on.
    void bump_generation() { generation_.fetch_add(1); }

    [[nodiscard]] uint16_t queue_count() const { return queue_count_; }
    [[nodiscard]] uint64_t offered_features() const { return offered_; }
    [[nodiscard]] uint8_t status() const;

  private:
    [[nodiscard]] uint64_t read_field(uint64_t offset) const;  // needs mutex_
    // device_status as the driver reads it (needs mutex_): not 0 while a reset is under way.
    [[nodiscard]] uint8_t shown_status_locked() const;
    void write_field(uint64_t offset, uint64_t value, VirtioInterrupt& interrupt,
                     WriteEffects& effects);  // needs mutex_
    void write_status(uint8_t value, VirtioInterrupt& interrupt, WriteEffects& effects);
    void reset_locked();
    [[nodiscard]] bool features_acceptable() const;
    [[nodiscard]] VirtqueueConfig* selected_queue();
    [[nodiscard]] const VirtqueueConfig* selected_queue() const;
    // Whether the selected queue's size and addresses may still change.
    [[nodiscard]] bool selected_queue_writable() const;
    [[nodiscard]] uint16_t checked_vector(uint64_t value) const;

    VirtioDevice& device_;
    const uint16_t queue_count_;
    const uint16_t max_queue_size_;
    const uint32_t msix_vectors_;
    const uint64_t offered_;

    mutable std::mutex mutex_;
    uint32_t device_feature_select_ = 0;
    uint32_t driver_feature_select_ = 0;
    uint64_t driver_features_ = 0;
    uint8_t status_ = 0;
    uint8_t status_before_reset_ = 0;  // shown while a reset waits for requests in flight
    uint16_t queue_select_ = 0;
    std::vector<VirtqueueConfig> queues_;

    std::unique_ptr<std::atomic<uint16_t>[]> queue_vectors_;
    std::atomic<uint16_t> config_vector_;
    std::atomic<uint8_t> generation_{0};
    RateLimiter log_limit_;
};

}  // namespace nvmevm
