#include "virtio_pci.h"

#include "io.h"
#include "phys.h"

namespace guest {
namespace {

// virtio_pci_common_cfg (4.1.4.3).
constexpr uint32_t kDeviceFeatureSelect = 0;
constexpr uint32_t kDeviceFeature = 4;
constexpr uint32_t kDriverFeatureSelect = 8;
constexpr uint32_t kDriverFeature = 12;
constexpr uint32_t kConfigMsixVector = 16;
constexpr uint32_t kNumQueues = 18;
constexpr uint32_t kDeviceStatus = 20;
constexpr uint32_t kConfigGeneration = 21;
constexpr uint32_t kQueueSelect = 22;
constexpr uint32_t kQueueSize = 24;
constexpr uint32_t kQueueMsixVector = 26;
constexpr uint32_t kQueueEnable = 28;
constexpr uint32_t kQueueNotifyOff = 30;
constexpr uint32_t kQueueDesc = 32;
constexpr uint32_t kQueueDriver = 40;
constexpr uint32_t kQueueDevice = 48;

// virtio_pci_cap (4.1.4): cap_vndr, cap_next, cap_len, cfg_type, bar, id, padding[2],
// offset (le32), length (le32); virtio_pci_notify_cap adds notify_off_multiplier.
constexpr uint8_t kCapLen = 2;
constexpr uint8_t kCapCfgType = 3;
constexpr uint8_t kCapBar = 4;
constexpr uint8_t kCapOffset = 8;
constexpr uint8_t kCapLength = 12;
constexpr uint8_t kCapNotifyMultiplier = 16;
constexpr uint8_t kCapMinLen = 16;
constexpr uint8_t kNotifyCapMinLen = 20;

// The device has this many polls to finish a reset (each is an MMIO read: an exit under
// nvmevm, tens of microseconds). Generous: a reset that needs more is a bug.
constexpr unsigned kResetPolls = 100000;

// 16-bit MMIO, which io.h lacks: single movw instructions, as the hypervisor decodes them.
uint16_t mmio_read16(uint64_t addr) {
    uint16_t value;
    asm volatile("movw (%1), %0" : "=r"(value) : "r"(addr) : "memory");
    return value;
}
void mmio_write16(uint64_t addr, uint16_t value) {
    asm volatile("movw %0, (%1)" : : "r"(value), "r"(addr) : "memory");
}

// Fills `region` from the capability at cap_offset. A region is usable when its BAR is a
// memory BAR with an address and the whole structure lies in the identity-mapped 4 GiB.
void read_region(const PciFunction& function, uint8_t cap_offset, VirtioRegion* region) {
    PciAddress where = function.where;
    region->found = true;
    region->cap_offset = cap_offset;
    region->bar = pci_read8(where, static_cast<uint8_t>(cap_offset + kCapBar));
    region->offset = pci_read32(where, static_cast<uint8_t>(cap_offset + kCapOffset));
    region->length = pci_read32(where, static_cast<uint8_t>(cap_offset + kCapLength));
    region->address = 0;
    if (region->bar >= kPciBars) {
        return;
    }
    const PciBarInfo& bar = function.bars[region->bar];
    if (!bar.present || bar.io || bar.address == 0) {
        return;
    }
    uint64_t address = bar.address + region->offset;
    if (phys_ptr(address, region->length == 0 ? 1 : region->length) == nullptr) {
        return;
    }
    region->address = address;
}

const char* check_region(const VirtioRegion& region, const char* missing, const char* unusable) {
    if (!region.found) {
        return missing;
    }
    if (region.address == 0) {
        return unusable;
    }
    return nullptr;
}

}  // namespace

bool VirtioPci::attach(const PciFunction& function, const char** error) {
    *this = VirtioPci{};
    function_ = function;
    uint8_t caps[48];
    unsigned count = pci_capabilities(function.where, caps, 48);
    for (unsigned i = 0; i < count; ++i) {
        PciAddress where = function.where;
        uint8_t cap = caps[i];
        uint8_t id = pci_read8(where, cap);
        if (id == kPciCapMsix) {
            has_msix_ = true;
            continue;
        }
        if (id != kPciCapVendorSpecific) {
            continue;
        }
        uint8_t length = pci_read8(where, static_cast<uint8_t>(cap + kCapLen));
        uint8_t type = pci_read8(where, static_cast<uint8_t>(cap + kCapCfgType));
        if (length < kCapMinLen) {
            continue;
        }
        // "The driver SHOULD use the first instance of each virtio structure type they can
        // support" (4.1.4.1): later ones of a type already found are skipped.
        VirtioRegion* region = nullptr;
        switch (type) {
            case kCapCommon:
                region = &common_;
                break;
            case kCapNotify:
                if (length < kNotifyCapMinLen) {
                    continue;
                }
                region = &notify_;
                break;
            case kCapIsr:
                region = &isr_;
                break;
            case kCapDevice:
                region = &device_;
                break;
            default:  // kCapPciCfg, shared memory, vendor data: not used
                continue;
        }
        if (region->found && region->address != 0) {
            continue;
        }
        read_region(function, cap, region);
        if (type == kCapNotify) {
            notify_multiplier_ =
                pci_read32(where, static_cast<uint8_t>(cap + kCapNotifyMultiplier));
        }
    }
    const char* problem = check_region(common_, "no common configuration capability",
                                       "common configuration not in a memory BAR below 4 GiB");
    if (problem == nullptr && common_.length < kCommonMinLength) {
        problem = "common configuration shorter than 56 bytes";
    }
    if (problem == nullptr) {
        problem = check_region(notify_, "no notification capability",
                               "notification structure not in a memory BAR below 4 GiB");
    }
    if (problem == nullptr) {
        problem = check_region(isr_, "no ISR capability", "ISR not in a memory BAR below 4 GiB");
    }
    if (problem == nullptr) {
        problem = check_region(device_, "no device configuration capability",
                               "device configuration not in a memory BAR below 4 GiB");
    }
    *error = problem;
    return problem == nullptr;
}

uint8_t VirtioPci::status() {
    return mmio_read8(common_.address + kDeviceStatus);
}

void VirtioPci::set_status(uint8_t status) {
    mmio_write8(common_.address + kDeviceStatus, status);
}

bool VirtioPci::reset() {
    set_status(0);
    // "After writing 0 to device_status, the driver MUST wait for a read of device_status to
    // return 0 before reinitializing the device." (4.1.4.3.2)
    for (unsigned i = 0; i < kResetPolls; ++i) {
        if (status() == 0) {
            return true;
        }
        cpu_relax();
    }
    return false;
}

uint64_t VirtioPci::device_features() {
    mmio_write32(common_.address + kDeviceFeatureSelect, 0);
    uint64_t low = mmio_read32(common_.address + kDeviceFeature);
    mmio_write32(common_.address + kDeviceFeatureSelect, 1);
    uint64_t high = mmio_read32(common_.address + kDeviceFeature);
    return low | high << 32;
}

void VirtioPci::set_driver_features(uint64_t features) {
    mmio_write32(common_.address + kDriverFeatureSelect, 0);
    mmio_write32(common_.address + kDriverFeature, static_cast<uint32_t>(features));
    mmio_write32(common_.address + kDriverFeatureSelect, 1);
    mmio_write32(common_.address + kDriverFeature, static_cast<uint32_t>(features >> 32));
}

uint16_t VirtioPci::num_queues() {
    return mmio_read16(common_.address + kNumQueues);
}

uint16_t VirtioPci::queue_max_size(uint16_t queue) {
    mmio_write16(common_.address + kQueueSelect, queue);
    return mmio_read16(common_.address + kQueueSize);
}

bool VirtioPci::setup_queue(uint16_t queue, uint16_t size, uint64_t desc, uint64_t driver,
                            uint64_t device, uint16_t msix_vector, const char** error) {
    if (queue >= kMaxQueues) {
        *error = "queue index beyond the guest's table";
        return false;
    }
    uint64_t base = common_.address;
    mmio_write16(base + kQueueSelect, queue);
    mmio_write16(base + kQueueSize, size);
    if (mmio_read16(base + kQueueSize) != size) {
        *error = "queue_size did not take the guest's (smaller) size";
        return false;
    }
    // No configuration-change interrupts; the queue's own vector (4.1.4.3: the device answers
    // a vector it cannot use with NO_VECTOR on read-back).
    mmio_write16(base + kConfigMsixVector, kVirtioNoVector);
    mmio_write16(base + kQueueMsixVector, msix_vector);
    if (mmio_read16(base + kQueueMsixVector) != msix_vector) {
        *error = "the device refused queue_msix_vector (read back NO_VECTOR)";
        return false;
    }
    // 64-bit fields as two aligned 32-bit writes, low half first (4.1.3.1).
    mmio_write32(base + kQueueDesc, static_cast<uint32_t>(desc));
    mmio_write32(base + kQueueDesc + 4, static_cast<uint32_t>(desc >> 32));
    mmio_write32(base + kQueueDriver, static_cast<uint32_t>(driver));
    mmio_write32(base + kQueueDriver + 4, static_cast<uint32_t>(driver >> 32));
    mmio_write32(base + kQueueDevice, static_cast<uint32_t>(device));
    mmio_write32(base + kQueueDevice + 4, static_cast<uint32_t>(device >> 32));
    if (mmio_read32(base + kQueueDesc) != static_cast<uint32_t>(desc) ||
        mmio_read32(base + kQueueDriver) != static_cast<uint32_t>(driver) ||
        mmio_read32(base + kQueueDevice) != static_cast<uint32_t>(device)) {
        *error = "queue address registers did not read back";
        return false;
    }
    // "queue_notify_off ... the offset from start of Notification structure at which this
    // virtqueue is located" in units of notify_off_multiplier (4.1.4.4).
    uint64_t offset = uint64_t{mmio_read16(base + kQueueNotifyOff)} * notify_multiplier_;
    if (offset + 2 > notify_.length) {
        *error = "queue notify address beyond the notification structure";
        return false;
    }
    notify_addresses_[queue] = notify_.address + offset;
    mmio_write16(base + kQueueEnable, 1);
    if (mmio_read16(base + kQueueEnable) != 1) {
        *error = "queue_enable did not read back 1";
        return false;
    }
    return true;
}

void VirtioPci::notify(uint16_t queue) {
    mmio_write16(notify_addresses_[queue], queue);
}

uint64_t VirtioPci::notify_address(uint16_t queue) const {
    return queue < kMaxQueues ? notify_addresses_[queue] : 0;
}

uint8_t VirtioPci::config_generation() {
    return mmio_read8(common_.address + kConfigGeneration);
}

uint8_t VirtioPci::config8(uint32_t offset) {
    if (uint64_t{offset} + 1 > device_.length) {
        return 0;
    }
    return mmio_read8(device_.address + offset);
}

uint16_t VirtioPci::config16(uint32_t offset) {
    if (uint64_t{offset} + 2 > device_.length) {
        return 0;
    }
    return mmio_read16(device_.address + offset);
}

uint32_t VirtioPci::config32(uint32_t offset) {
    if (uint64_t{offset} + 4 > device_.length) {
        return 0;
    }
    return mmio_read32(device_.address + offset);
}

uint64_t VirtioPci::config64(uint32_t offset) {
    // A device whose generation never settles gets the last reading, not a hang.
    uint64_t value = 0;
    for (unsigned attempt = 0; attempt < 100; ++attempt) {
        uint8_t before = config_generation();
        uint64_t low = config32(offset);
        uint64_t high = config32(offset + 4);
        value = low | high << 32;
        if (config_generation() == before) {
            break;
        }
    }
    return value;
}

}  // namespace guest
