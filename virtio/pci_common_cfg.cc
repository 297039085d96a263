#include "virtio/pci_common_cfg.h"

#include <algorithm>
#include <array>
#include <stdexcept>

#include "virtio/pci_layout.h"
#include "virtio/virtio_defs.h"

namespace nvmevm {
namespace {

using namespace virtio_pci;

// Features that need transport support nvmevm's virtio-pci does not have: the notification
// value is never read (NOTIFICATION_DATA), and there are no queue_notify_data / queue_reset
// fields (NOTIF_CONFIG_DATA, RING_RESET), no SR-IOV and no administration virtqueues (bit 41,
// VIRTIO_F_ADMIN_VQ). A device offering them gets them withdrawn here.
constexpr unsigned kVirtioFAdminVq = 41;
constexpr uint64_t kTransportUnsupported =
    feature_bit(VIRTIO_F_SR_IOV) | feature_bit(VIRTIO_F_NOTIFICATION_DATA) |
    feature_bit(VIRTIO_F_NOTIF_CONFIG_DATA) | feature_bit(VIRTIO_F_RING_RESET) |
    feature_bit(kVirtioFAdminVq);

// The bits the driver sets; DEVICE_NEEDS_RESET is the device's, 0x10 and 0x20 are unassigned.
constexpr uint8_t kDriverStatusBits =
    kStatusAcknowledge | kStatusDriver | kStatusDriverOk | kStatusFeaturesOk | kStatusFailed;

struct FieldSpec {
    uint64_t offset;
    uint64_t size;
};
constexpr std::array<FieldSpec, 16> kFields{{
    {kDeviceFeatureSelect, 4},
    {kDeviceFeature, 4},
    {kDriverFeatureSelect, 4},
    {kDriverFeature, 4},
    {kConfigMsixVector, 2},
    {kNumQueues, 2},
    {kDeviceStatus, 1},
    {kConfigGeneration, 1},
    {kQueueSelect, 2},
    {kQueueSize, 2},
    {kQueueMsixVector, 2},
    {kQueueEnable, 2},
    {kQueueNotifyOff, 2},
    {kQueueDesc, 8},
    {kQueueDriver, 8},
    {kQueueDevice, 8},
}};
static_assert(kFields.back().offset + kFields.back().size == kCommonLength);

uint64_t select_half(uint64_t value, uint32_t select) {
    if (select == 0) return value & 0xffffffff;
    if (select == 1) return value >> 32;
    return 0;  // "it will present 0 for any device_feature_select other than 0 or 1"
}

// A natural access: exactly one field, or one 32-bit half of a 64-bit field (4.1.3.1: "For
// 64-bit fields, the driver MAY access each of the high and low 32-bit parts of the field
// independently").
bool natural_access(uint64_t offset, size_t size) {
    for (const auto& field : kFields) {
        if (offset == field.offset && size == field.size) return true;
        if (field.size == 8 && size == 4 && (offset == field.offset || offset == field.offset + 4))
            return true;
    }
    return false;
}

}  // namespace

VirtioPciCommonCfg::VirtioPciCommonCfg(VirtioDevice& device, uint32_t msix_vectors,
                                       uint32_t max_queues)
    : device_(device),
      queue_count_(device.queue_count()),
      max_queue_size_(device.max_queue_size()),
      msix_vectors_(msix_vectors),
      // 6.2: "A device MUST offer VIRTIO_F_VERSION_1." It is what makes this a modern
      // (non-transitional) device, so the transport adds it whatever the device says.
      offered_((device.offered_features() & ~kTransportUnsupported) |
               feature_bit(VIRTIO_F_VERSION_1)),
      queues_(queue_count_),
      queue_vectors_(std::make_unique<std::atomic<uint16_t>[]>(queue_count_)),
      config_vector_(kNoVector) {
    if (queue_count_ == 0 || queue_count_ > max_queues)
        throw std::invalid_argument("virtio-pci: device queue count out of range");
    std::lock_guard lock(mutex_);
    for (uint16_t i = 0; i < queue_count_; ++i) {
        queues_[i] = VirtqueueConfig{max_queue_size_};
        queue_vectors_[i].store(kNoVector);
    }
}

void VirtioPciCommonCfg::read(uint64_t offset, std::span<uint8_t> data) {
    for (auto& byte : data) byte = 0;
    if (!natural_access(offset, data.size()))
        logf_limited(log_limit_, LogLevel::debug,
                     "virtio-pci: common config read of %zu bytes at 0x%llx is not natural",
                     data.size(), static_cast<unsigned long long>(offset));
    std::lock_guard lock(mutex_);
    for (const auto& field : kFields) {
        const uint64_t end = field.offset + field.size;
        if (end <= offset || field.offset >= offset + data.size()) continue;
        const uint64_t value = read_field(field.offset);
        for (uint64_t at = std::max(offset, field.offset); at < std::min(end, offset + data.size());
             ++at) {
            data[at - offset] = static_cast<uint8_t>(value >> (8 * (at - field.offset)));
        }
    }
}

VirtioPciCommonCfg::WriteEffects VirtioPciCommonCfg::write(uint64_t offset,
                                                           std::span<const uint8_t> data,
                                                           VirtioInterrupt& interrupt) {
    WriteEffects effects;
    if (!natural_access(offset, data.size()))
        logf_limited(log_limit_, LogLevel::debug,
                     "virtio-pci: common config write of %zu bytes at 0x%llx is not natural",
                     data.size(), static_cast<unsigned long long>(offset));
    std::lock_guard lock(mutex_);
    for (const auto& field : kFields) {
        const uint64_t end = field.offset + field.size;
        if (end <= offset || field.offset >= offset + data.size()) continue;
        uint64_t value = read_field(field.offset);
        for (uint64_t at = std::max(offset, field.offset); at < std::min(end, offset + data.size());
             ++at) {
            const unsigned shift = static_cast<unsigned>(8 * (at - field.offset));
            value = (value & ~(uint64_t{0xff} << shift)) | uint64_t{data[at - offset]} << shift;
        }
        write_field(field.offset, value, interrupt, effects);
    }
    return effects;
}

bool VirtioPciCommonCfg::set_needs_reset() {
    std::lock_guard lock(mutex_);
    if (status_ & kStatusNeedsReset) return false;
    status_ |= kStatusNeedsReset;
    return (status_ & kStatusDriverOk) != 0;
}

uint16_t VirtioPciCommonCfg::queue_vector(uint16_t queue) const {
    return queue < queue_count_ ? queue_vectors_[queue].load() : kNoVector;
}

uint8_t VirtioPciCommonCfg::status() const {
    std::lock_guard lock(mutex_);
    return shown_status_locked();
}

uint8_t VirtioPciCommonCfg::shown_status_locked() const {
    // 4.1.4.3.1: "present a 0 in device_status once that is done": a reset is not done while a
    // request taken before it may still write guest memory (the driver reuses that memory once
    // it reads 0). Until then the status reads as it was when 0 was written; the driver polls.
    if (status_ == 0 && !device_.quiesced()) return status_before_reset_;
    return status_;
}

uint64_t VirtioPciCommonCfg::read_field(uint64_t offset) const {
    const VirtqueueConfig* queue = selected_queue();
    switch (offset) {
        case kDeviceFeatureSelect:
            return device_feature_select_;
        case kDeviceFeature:
            return select_half(offered_, device_feature_select_);
        case kDriverFeatureSelect:
            return driver_feature_select_;
        case kDriverFeature:
            return select_half(driver_features_, driver_feature_select_);
        case kConfigMsixVector:
            return config_vector_.load();
        case kNumQueues:
            return queue_count_;
        case kDeviceStatus:
            return shown_status_locked();
        case kConfigGeneration:
            return generation_.load();
        case kQueueSelect:
            return queue_select_;
        case kQueueSize:
            // 4.1.4.3.1: "The device MUST present a 0 in queue_size if the virtqueue
            // corresponding to the current queue_select is unavailable."
            return queue ? queue->size : 0;
        case kQueueMsixVector:
            return queue_vector(queue_select_);
        case kQueueEnable:
            return queue && queue->enabled ? 1 : 0;
        case kQueueNotifyOff:
            return queue ? queue_select_ : 0;  // doorbell i at notify_offset(i)
        case kQueueDesc:
            return queue ? queue->desc : 0;
        case kQueueDriver:
            return queue ? queue->driver : 0;
        case kQueueDevice:
            return queue ? queue->device : 0;
        default:
            return 0;
    }
}

void VirtioPciCommonCfg::write_field(uint64_t offset, uint64_t value, VirtioInterrupt& interrupt,
                                     WriteEffects& effects) {
    VirtqueueConfig* queue = selected_queue();
    const bool queue_writable = selected_queue_writable();
    switch (offset) {
        case kDeviceFeatureSelect:
            device_feature_select_ = static_cast<uint32_t>(value);
            return;
        case kDriverFeatureSelect:
            driver_feature_select_ = static_cast<uint32_t>(value);
            return;
        case kDriverFeature: {
            // 2.2: "The only way to renegotiate is to reset the device."
            if ((status_ & kStatusFeaturesOk) || driver_feature_select_ > 1) return;
            const unsigned shift = 32 * driver_feature_select_;
            driver_features_ = (driver_features_ & ~(uint64_t{0xffffffff} << shift)) |
                               (value & 0xffffffff) << shift;
            return;
        }
        case kConfigMsixVector:
            config_vector_.store(checked_vector(value));
            return;
        case kDeviceStatus:
            write_status(static_cast<uint8_t>(value), interrupt, effects);
            return;
        case kQueueSelect:
            queue_select_ = static_cast<uint16_t>(value);
            return;
        case kQueueSize:
            // The driver may only shrink the queue ("This can be modified by the driver to reduce
            // memory requirements"). Whether the size is usable (a power of 2 for split queues,
            // 4.1.4.3.2) is the device's to check at activation.
            if (queue_writable && value <= max_queue_size_)
                queue->size = static_cast<uint16_t>(value);
            return;
        case kQueueMsixVector:
            if (queue) queue_vectors_[queue_select_].store(checked_vector(value));
            return;
        case kQueueEnable:
            // 4.1.4.3.2: "The driver MUST NOT write a 0 to queue_enable." Only 1 means anything.
            if (queue_writable && value == 1) queue->enabled = true;
            return;
        case kQueueDesc:
            if (queue_writable) queue->desc = value;
            return;
        case kQueueDriver:
            if (queue_writable) queue->driver = value;
            return;
        case kQueueDevice:
            if (queue_writable) queue->device = value;
            return;
        default:
            // Read-only for the driver (4.1.4.3.2: "The driver MUST NOT write to device_feature,
            // num_queues, config_generation, queue_notify_off or queue_notify_data").
            return;
    }
}

void VirtioPciCommonCfg::write_status(uint8_t value, VirtioInterrupt& interrupt,
                                      WriteEffects& effects) {
    if (value == 0) {
        // 4.1.4.3.1: "The device MUST reset when 0 is written to device_status, and present a 0
        // in device_status once that is done." The registers reset at once; the status reads 0
        // once the device has nothing in flight (shown_status_locked).
        reset_locked();
        effects.reset = true;
        return;
    }
    // 2.1.1: "The driver MUST NOT clear a device status bit." Bits once set stay set until a
    // reset, so a driver that breaks the rule cannot, e.g., un-negotiate features.
    uint8_t added = static_cast<uint8_t>(value & kDriverStatusBits & ~status_);
    if (status_ & kStatusNeedsReset) added &= kStatusFailed;  // nothing else until a reset
    if ((added & kStatusFeaturesOk) && !features_acceptable()) {
        // 2.2.2: "The device SHOULD accept any valid subset of features the driver accepts,
        // otherwise it MUST fail to set the FEATURES_OK device status bit when the driver writes
        // it." The driver sees FEATURES_OK missing when it reads the status back.
        logf_limited(log_limit_, LogLevel::warn,
                     "virtio-pci: driver features 0x%llx refused (offered 0x%llx)",
                     static_cast<unsigned long long>(driver_features_),
                     static_cast<unsigned long long>(offered_));
        added &= static_cast<uint8_t>(~kStatusFeaturesOk);
    }
    const bool driver_ok = added & kStatusDriverOk;
    status_ |= static_cast<uint8_t>(added & ~kStatusDriverOk);
    if (!driver_ok) return;
    if (!(status_ & kStatusFeaturesOk)) {
        // 3.1.1: the driver sets DRIVER_OK only after FEATURES_OK; a device without negotiated
        // features cannot run.
        logf_limited(log_limit_, LogLevel::warn, "virtio-pci: DRIVER_OK without FEATURES_OK");
        status_ |= kStatusNeedsReset;
        return;
    }
    status_ |= kStatusDriverOk;
    if (!device_.activate(driver_features_, queues_, interrupt)) {
        logf_limited(log_limit_, LogLevel::warn,
                     "virtio-pci: device refused its configuration: needs reset");
        status_ |= kStatusNeedsReset;
        effects.config_notify = true;  // 2.1.2, see set_needs_reset()
    }
}

void VirtioPciCommonCfg::reset_locked() {
    // A second reset while the first is under way keeps showing what the first found.
    if (status_ != 0) status_before_reset_ = status_;
    device_.reset();
    device_feature_select_ = 0;
    driver_feature_select_ = 0;
    driver_features_ = 0;
    status_ = 0;
    queue_select_ = 0;
    for (uint16_t i = 0; i < queue_count_; ++i) {
        // 4.1.4.3: queue_size "On reset, specifies the maximum queue size supported by the
        // device"; 4.1.4.3.1: "The device MUST present a 0 in queue_enable on reset."
        queues_[i] = VirtqueueConfig{max_queue_size_};
        // 4.1.5.1.2.1: "The device MUST have all queue and configuration change events
        // unmapped upon reset."
        queue_vectors_[i].store(kNoVector);
    }
    config_vector_.store(kNoVector);
}

bool VirtioPciCommonCfg::features_acceptable() const {
    // 2.2.1: "The driver MUST NOT accept a feature which the device did not offer".
    if (driver_features_ & ~offered_) return false;
    // 6.2: "A device MAY fail to operate further if VIRTIO_F_VERSION_1 is not accepted." Without
    // it the driver expects the legacy interface, which this device does not have.
    return (driver_features_ & feature_bit(VIRTIO_F_VERSION_1)) != 0;
}

VirtqueueConfig* VirtioPciCommonCfg::selected_queue() {
    return queue_select_ < queue_count_ ? &queues_[queue_select_] : nullptr;
}

const VirtqueueConfig* VirtioPciCommonCfg::selected_queue() const {
    return queue_select_ < queue_count_ ? &queues_[queue_select_] : nullptr;
}

bool VirtioPciCommonCfg::selected_queue_writable() const {
    const VirtqueueConfig* queue = selected_queue();
    // 4.1.4.3.2: "The driver MUST configure the other virtqueue fields before enabling the
    // virtqueue with queue_enable." Once enabled (or once the device runs), a queue's size and
    // addresses are frozen until a reset: the device never sees them change under it.
    return queue && !queue->enabled && !(status_ & kStatusDriverOk);
}

uint16_t VirtioPciCommonCfg::checked_vector(uint64_t value) const {
    // 4.1.5.1.2.1: "Devices MUST report mapping failures by returning the NO_VECTOR value when
    // the relevant config_msix_vector/queue_msix_vector field is read." A vector outside the
    // table cannot be mapped.
    return value < msix_vectors_ ? static_cast<uint16_t>(value) : kNoVector;
}

}  // namespace nvmevm
