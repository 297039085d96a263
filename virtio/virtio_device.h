// The seam between a virtio transport (virtio-pci) and a virtio device (virtio-blk): the
// device knows nothing of PCI, the transport nothing of block I/O.
#pragma once

#include <cstdint>
#include <span>

namespace nvmevm {

// A queue as the driver configured it through the transport; the device validates it.
struct VirtqueueConfig {
    uint16_t size = 0;
    bool enabled = false;
    uint64_t desc = 0;    // descriptor table guest address
    uint64_t driver = 0;  // available ring
    uint64_t device = 0;  // used ring
};

// How a device interrupts its driver; the transport maps queues to MSI-X vectors.
class VirtioInterrupt {
  public:
    virtual ~VirtioInterrupt() = default;
    virtual void signal_queue(uint16_t queue) = 0;
    virtual void signal_config() = 0;
    // The device found its driver's rings corrupt: set DEVICE_NEEDS_RESET and tell the driver
    // (virtio 1.2, 2.1.2: "The device SHOULD set DEVICE_NEEDS_RESET when it enters an error
    // state that a reset is needed."). Never called from inside activate() or reset().
    virtual void mark_needs_reset() = 0;
};

class VirtioDevice {
  public:
    virtual ~VirtioDevice() = default;

    [[nodiscard]] virtual uint16_t device_type() const = 0;  // 2: block
    [[nodiscard]] virtual uint64_t offered_features() const = 0;
    [[nodiscard]] virtual uint16_t queue_count() const = 0;
    [[nodiscard]] virtual uint16_t max_queue_size() const = 0;

    // Device-specific configuration space (virtio_blk_config); offsets are checked by the
    // device, out-of-range reads return zeroes.
    virtual void read_config(uint64_t offset, std::span<uint8_t> data) = 0;
    virtual void write_config(uint64_t offset, std::span<const uint8_t> data) = 0;

    // The driver set DRIVER_OK: features and queues are final. Returns false when the
    // configuration is unusable (the transport then sets DEVICE_NEEDS_RESET).
    [[nodiscard]] virtual bool activate(uint64_t features, std::span<const VirtqueueConfig> queues,
                                        VirtioInterrupt& interrupt) = 0;
    // The driver wrote 0 to device_status: drop all queue state; in-flight requests complete
    // into nothing, and issue nothing more (a DISCARD's ranges left, a request's next chunk).
    virtual void reset() = 0;
    // False while requests taken before a reset may still write guest memory: the transport
    // presents device_status 0 only once this is true (virtio 1.2, 4.1.4.3.1). Any thread.
    [[nodiscard]] virtual bool quiesced() const = 0;
    // A notification that did not come through an ioeventfd (an MMIO exit on the notify area).
    virtual void notify(uint16_t queue) = 0;
};

}  // namespace nvmevm
