#include "virtio/pci_transport.h"

#include <stdexcept>
#include <utility>
#include <vector>

namespace nvmevm {
namespace {

using namespace virtio_pci;

constexpr uint16_t kVirtioDeviceIdBlock = 2;

// PCI class code (base class, subclass, programming interface). The spec leaves it open; a
// block device is "mass storage controller, other" as QEMU reports it, so that tools that look
// at the class (lspci, udev rules) see storage.
uint32_t class_code(uint16_t device_type) {
    if (device_type == kVirtioDeviceIdBlock) return 0x018000;
    return 0xff0000;  // "device does not fit any defined class"
}

PciIds virtio_ids(uint16_t device_type) {
    // 4.1.2: the PCI Device ID is 0x1040 + the Virtio Device ID, "0x1000 through 0x107F".
    if (device_type > 0x3f) throw std::invalid_argument("virtio-pci: device type out of range");
    return PciIds{kVendor,
                  static_cast<uint16_t>(kDeviceIdBase + device_type),
                  class_code(device_type),
                  kRevision,
                  kVendor,
                  kSubsystem};
}

// The body of a struct virtio_pci_cap after cap_vndr and cap_next: cap_len, cfg_type, bar, id,
// padding[2], offset, length, then `extra` (notify_off_multiplier or pci_cfg_data).
std::vector<uint8_t> virtio_cap_body(uint8_t cfg_type, uint64_t offset, uint64_t length,
                                     std::span<const uint8_t> extra = {}) {
    std::vector<uint8_t> body(kCapSize - 2 + extra.size(), 0);
    // 4.1.4.2: "The device MUST include any extra data (from the beginning of the cap_vndr
    // field through end of the extra data fields if any) in cap_len."
    body[kCapLen - 2] = static_cast<uint8_t>(kCapSize + extra.size());
    body[kCapCfgType - 2] = cfg_type;
    body[kCapBar - 2] = static_cast<uint8_t>(kBarIndex);
    store_le(std::span<uint8_t>(body).subspan(kCapOffset - 2, 4), offset);
    store_le(std::span<uint8_t>(body).subspan(kCapLength - 2, 4), length);
    for (size_t i = 0; i < extra.size(); ++i) body[kCapSize - 2 + i] = extra[i];
    return body;
}

// Whether [offset, offset + size) lies inside the window at `start`; `relative` gets the
// offset from the window's start.
bool inside(uint64_t offset, size_t size, uint64_t start, uint64_t window, uint64_t& relative) {
    if (offset < start || offset - start >= window || size > window - (offset - start))
        return false;
    relative = offset - start;
    return true;
}

bool overlaps(uint32_t offset, size_t size, uint32_t start, uint32_t length) {
    return offset < start + length && start < offset + size;
}

}  // namespace

std::shared_ptr<VirtioPciTransport> VirtioPciTransport::create(std::shared_ptr<VirtioDevice> device,
                                                               std::shared_ptr<MsiSink> msi) {
    return std::make_shared<VirtioPciTransport>(std::move(device), std::move(msi));
}

VirtioPciTransport::VirtioPciTransport(std::shared_ptr<VirtioDevice> device,
                                       std::shared_ptr<MsiSink> msi)
    : device_(std::move(device)),
      msi_(std::move(msi)),
      // One vector per queue plus one for configuration changes, as Linux asks for
      // (vp_find_vqs_msix: "nvectors = 1 + nvqs" with per-queue vectors).
      msix_(static_cast<uint32_t>(device_->queue_count()) + 1, *msi_),
      common_(*device_, msix_.size(), kMaxQueues),
      config_(virtio_ids(device_->device_type())) {
    // A 64-bit BAR can be placed above 4 GiB; not prefetchable because ISR reads clear it.
    config_.add_bar(kBarIndex, PciBar{PciBarKind::memory64, kBarSize, false});
    add_capabilities();
}

VirtioPciTransport::~VirtioPciTransport() {
    // As if the driver had written status 0: every queue forgets its ring, so none signals
    // this transport again, whoever still holds the device and drains its queues.
    device_->reset();
}

void VirtioPciTransport::add_capabilities() {
    // Order of preference among several of a type does not arise: one of each.
    config_.add_capability(kCapIdVendor,
                           virtio_cap_body(kCapCommonCfg, kCommonOffset, kCommonLength));
    uint8_t multiplier[4];
    store_le(multiplier, kNotifyOffMultiplier);
    // 4.1.4.4.1: "cap.length >= queue_notify_off * notify_off_multiplier + 2" for every queue.
    const uint64_t notify_length = kNotifyOffMultiplier * (queue_count() - 1u) + 2;
    config_.add_capability(
        kCapIdVendor, virtio_cap_body(kCapNotifyCfg, kNotifyOffset, notify_length, multiplier));
    config_.add_capability(kCapIdVendor, virtio_cap_body(kCapIsrCfg, kIsrOffset, kIsrLength));
    config_.add_capability(kCapIdVendor,
                           virtio_cap_body(kCapDeviceCfg, kDeviceCfgOffset, kDeviceCfgLength));

    // 4.1.4.8.1: "The device MUST present at least one VIRTIO_PCI_CAP_PCI_CFG capability." Its
    // cap.bar, cap.length, cap.offset and pci_cfg_data are "read-write (RW) for the driver".
    const uint8_t no_data[4] = {};
    auto pci_cfg = virtio_cap_body(kCapPciCfg, 0, 0, no_data);
    pci_cfg[kCapLength - 2] = 0;  // no access selected until the driver picks one
    std::vector<uint8_t> pci_cfg_mask(pci_cfg.size(), 0);
    pci_cfg_mask[kCapBar - 2] = 0xff;
    for (uint32_t i = 0; i < 4; ++i) {
        pci_cfg_mask[kCapOffset - 2 + i] = 0xff;
        pci_cfg_mask[kCapLength - 2 + i] = 0xff;
        pci_cfg_mask[kCapPciCfgData - 2 + i] = 0xff;
    }
    pci_cfg_cap_ = config_.add_capability(kCapIdVendor, pci_cfg, pci_cfg_mask);

    // MSI-X (PCI 3.0, 6.8.2): Message Control (Table Size = N - 1; Function Mask and MSI-X Enable
    // writable), Table Offset/BIR and PBA Offset/BIR, both in BAR 0 (BIR in bits 2:0).
    std::vector<uint8_t> msix(10, 0);
    store_le(std::span<uint8_t>(msix).subspan(0, 2), (msix_.size() - 1) & kMsixTableSizeMask);
    store_le(std::span<uint8_t>(msix).subspan(2, 4), kMsixTableOffset | kBarIndex);
    store_le(std::span<uint8_t>(msix).subspan(6, 4), kMsixPbaOffset | kBarIndex);
    std::vector<uint8_t> msix_mask(10, 0);
    msix_mask[1] = static_cast<uint8_t>((kMsixEnable | kMsixFunctionMask) >> 8);
    msix_cap_ = config_.add_capability(kCapIdMsix, msix, msix_mask);
    static_assert(kMsixTableWindow >= 16 * (kMaxQueues + 1));
}

std::shared_ptr<BusDevice> VirtioPciTransport::bar_device() {
    return {shared_from_this(), &bar_};
}

std::optional<uint64_t> VirtioPciTransport::bar_address() const {
    return config_.bar_address(kBarIndex);
}

void VirtioPciTransport::set_bar_callback(PciConfigSpace::BarCallback callback) {
    config_.set_bar_callback(std::move(callback));
}

void VirtioPciTransport::config_read(uint32_t offset, std::span<uint8_t> data) {
    const uint32_t window_data = pci_cfg_cap_ + kCapPciCfgData;
    if (overlaps(offset, data.size(), window_data, 4)) {
        // 4.1.4.8.1: "Upon detecting driver read access to pci_cfg_data, the device MUST
        // execute a read access of length cap.length at offset cap.offset at BAR selected by
        // cap.bar and store the first cap.length bytes in pci_cfg_data."
        uint8_t bytes[4] = {};
        uint64_t bar_offset = 0;
        size_t length = 0;
        if (pci_cfg_window(bar_offset, length))
            bar_read(bar_offset, std::span<uint8_t>(bytes, length));
        config_.set_bytes(window_data, bytes);
    }
    config_.read(offset, data);
}

void VirtioPciTransport::config_write(uint32_t offset, std::span<const uint8_t> data) {
    config_.write(offset, data);
    if (overlaps(offset, data.size(), msix_cap_ + kMsixMessageControl, 2)) sync_msix_control();
    const uint32_t window_data = pci_cfg_cap_ + kCapPciCfgData;
    if (overlaps(offset, data.size(), window_data, 4)) {
        // "Upon detecting driver write access to pci_cfg_data, the device MUST execute a write
        // access at offset cap.offset at BAR selected by cap.bar using the first cap.length bytes
        // from pci_cfg_data."
        uint8_t bytes[4];
        config_.read(window_data, bytes);
        uint64_t bar_offset = 0;
        size_t length = 0;
        if (pci_cfg_window(bar_offset, length))
            bar_write(bar_offset, std::span<const uint8_t>(bytes, length));
    }
}

bool VirtioPciTransport::pci_cfg_window(uint64_t& offset, size_t& length) const {
    uint8_t cap[kCapExtendedSize];
    config_.read(pci_cfg_cap_, cap);
    const uint8_t bar = cap[kCapBar];
    offset = load_le(std::span<const uint8_t>(cap).subspan(kCapOffset, 4));
    const uint64_t requested = load_le(std::span<const uint8_t>(cap).subspan(kCapLength, 4));
    // "The driver sets the size of the access by writing 1, 2 or 4 to cap.length", and 4.1.4.8.2:
    // "The driver MUST NOT write a cap.offset which is not a multiple of cap.length". Anything
    // else selects nothing: reads see zeroes, writes are dropped.
    if (bar != kBarIndex || (requested != 1 && requested != 2 && requested != 4) ||
        offset % requested != 0 || offset + requested > kBarSize) {
        return false;
    }
    length = static_cast<size_t>(requested);
    return true;
}

void VirtioPciTransport::sync_msix_control() {
    uint8_t control[2];
    config_.read(msix_cap_ + kMsixMessageControl, control);
    const auto value = static_cast<uint16_t>(load_le(control));
    msix_.set_control((value & kMsixEnable) != 0, (value & kMsixFunctionMask) != 0);
}

void VirtioPciTransport::bar_read(uint64_t offset, std::span<uint8_t> data) {
    for (auto& byte : data) byte = 0;
    uint64_t relative = 0;
    if (inside(offset, data.size(), kCommonOffset, kCommonWindow, relative)) {
        common_.read(relative, data);
    } else if (inside(offset, data.size(), kIsrOffset, kIsrWindow, relative)) {
        // 4.1.4.5.1: "The device MUST reset ISR status to 0 on driver read."
        if (relative == 0) data[0] = isr_.exchange(0);
    } else if (inside(offset, data.size(), kDeviceCfgOffset, kDeviceCfgLength, relative)) {
        device_->read_config(relative, data);
    } else if (inside(offset, data.size(), kMsixTableOffset, kMsixTableWindow, relative)) {
        msix_.read_table(relative, data);
    } else if (inside(offset, data.size(), kMsixPbaOffset, kMsixPbaWindow, relative)) {
        msix_.read_pba(relative, data);
    } else if (!inside(offset, data.size(), kNotifyOffset, kNotifyWindow, relative)) {
        log_bad_access("read", offset, data.size());  // doorbells read 0 silently
    }
}

void VirtioPciTransport::bar_write(uint64_t offset, std::span<const uint8_t> data) {
    uint64_t relative = 0;
    if (inside(offset, data.size(), kNotifyOffset, kNotifyWindow, relative)) {
        // 4.1.5.2: the driver writes "the 16-bit virtqueue index of this virtqueue to the Queue
        // Notify address". The address says which queue; the value adds nothing, so it is not
        // checked (an ioeventfd without data match behaves the same).
        const uint64_t queue = relative / kNotifyOffMultiplier;
        if (relative % kNotifyOffMultiplier == 0 && queue < queue_count()) {
            device_->notify(static_cast<uint16_t>(queue));
        } else {
            log_bad_access("doorbell write", offset, data.size());
        }
    } else if (inside(offset, data.size(), kCommonOffset, kCommonWindow, relative)) {
        const auto effects = common_.write(relative, data, *this);
        if (effects.reset) isr_.store(0);
        if (effects.config_notify) signal_config();
    } else if (inside(offset, data.size(), kDeviceCfgOffset, kDeviceCfgLength, relative)) {
        device_->write_config(relative, data);
    } else if (inside(offset, data.size(), kMsixTableOffset, kMsixTableWindow, relative)) {
        msix_.write_table(relative, data);
    } else if (inside(offset, data.size(), kMsixPbaOffset, kMsixPbaWindow, relative)) {
        msix_.write_pba(relative, data);
    } else {
        log_bad_access("write", offset, data.size());  // the ISR is read-only, the rest unused
    }
}

void VirtioPciTransport::signal_queue(uint16_t queue) {
    if (queue >= queue_count()) return;
    if (!msix_.enabled()) {
        // 4.1.4.5.1: "If MSI-X capability is disabled, the device MUST set the Queue Interrupt
        // bit in ISR status before sending a virtqueue notification to the driver." There is no
        // INTx to send.
        isr_.fetch_or(kIsrQueue);
        return;
    }
    // 4.1.5.3.1: "If MSI-X capability is enabled and queue_msix_vector is NO_VECTOR for a
    // virtqueue, the device MUST NOT deliver an interrupt for that virtqueue."
    const uint16_t vector = common_.queue_vector(queue);
    if (vector != kNoVector) msix_.signal(vector);
}

void VirtioPciTransport::signal_config() {
    common_.bump_generation();
    // 4.1.4.5.1: "The device MUST set the Device Configuration Interrupt bit in ISR status
    // before sending a device configuration change notification to the driver."
    isr_.fetch_or(kIsrConfig);
    if (!msix_.enabled()) return;
    // 4.1.5.4.1: "If MSI-X capability is enabled and config_msix_vector is NO_VECTOR, the device
    // MUST NOT deliver an interrupt for device configuration space changes."
    const uint16_t vector = common_.config_vector();
    if (vector != kNoVector) msix_.signal(vector);
}

void VirtioPciTransport::mark_needs_reset() {
    if (common_.set_needs_reset()) signal_config();
}

void VirtioPciTransport::log_bad_access(const char* what, uint64_t offset, size_t size) {
    logf_limited(log_limit_, LogLevel::warn, "virtio-pci: BAR %s of %zu bytes at 0x%llx ignored",
                 what, size, static_cast<unsigned long long>(offset));
}

}  // namespace nvmevm
