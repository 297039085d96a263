// The numbers of nvmevm's virtio-pci function (virtio 1.2, 4.1 "Virtio Over PCI Bus"): where
// each structure lies in BAR 0, the capability types, and the common configuration fields.
// Shared by the transport, its tests, and the VMM (which binds ioeventfds to the doorbells).
//
// BAR 0, 16 KiB, 64-bit memory, not prefetchable (reads of the ISR have side effects):
//   0x0000  common configuration   (struct virtio_pci_common_cfg, 0x38 bytes used)
//   0x0100  ISR status             (1 byte, read to clear)
//   0x0200  device configuration   (0x100 bytes, the device's own, e.g. virtio_blk_config)
//   0x1000  notification doorbells (queue i at 0x1000 + 4 * i; 2 bytes each are written)
//   0x2000  MSI-X table            (16 bytes per vector; vector 0 .. queue_count)
//   0x3000  MSI-X PBA
// Every window is a whole page or more apart from the notification area's neighbours, so the
// doorbells (the only hot exits) can be given to ioeventfds without covering anything else.
#pragma once

#include <cstdint>

namespace nvmevm::virtio_pci {

// 4.1.2 "PCI Device Discovery": "Any PCI device with PCI Vendor ID 0x1AF4, and PCI Device ID
// 0x1000 through 0x107F inclusive is a virtio device ... The PCI Device ID is calculated by
// adding 0x1040 to the Virtio Device ID".
inline constexpr uint16_t kVendor = 0x1af4;
inline constexpr uint16_t kDeviceIdBase = 0x1040;
// 4.1.2.1: "Non-transitional devices SHOULD have a PCI Revision ID of 1 or higher" and "SHOULD
// have a PCI Subsystem Device ID of 0x40 or higher".
inline constexpr uint8_t kRevision = 1;
inline constexpr uint16_t kSubsystem = 0x40;

inline constexpr unsigned kBarIndex = 0;
inline constexpr uint64_t kBarSize = 0x4000;

inline constexpr uint64_t kCommonOffset = 0x0000;
inline constexpr uint64_t kCommonWindow = 0x100;
inline constexpr uint64_t kCommonLength = 0x38;  // up to and including queue_device
inline constexpr uint64_t kIsrOffset = 0x0100;
inline constexpr uint64_t kIsrWindow = 0x100;
inline constexpr uint64_t kIsrLength = 1;
inline constexpr uint64_t kDeviceCfgOffset = 0x0200;
inline constexpr uint64_t kDeviceCfgLength = 0x100;
inline constexpr uint64_t kNotifyOffset = 0x1000;
inline constexpr uint64_t kNotifyWindow = 0x1000;
// 4.1.4.4.1: "The device MUST either present notify_off_multiplier as an even power of 2, or
// present notify_off_multiplier as 0." 4 = 2^2, and queue_notify_off is the queue index.
inline constexpr uint32_t kNotifyOffMultiplier = 4;
inline constexpr uint64_t kMsixTableOffset = 0x2000;
inline constexpr uint64_t kMsixTableWindow = 0x1000;
inline constexpr uint64_t kMsixPbaOffset = 0x3000;
inline constexpr uint64_t kMsixPbaWindow = 0x1000;
// The table window holds 256 entries: queue_count + 1 <= 256.
inline constexpr uint32_t kMaxQueues = kMsixTableWindow / 16 - 1;

// 4.1.4 cfg_type values.
inline constexpr uint8_t kCapCommonCfg = 1;
inline constexpr uint8_t kCapNotifyCfg = 2;
inline constexpr uint8_t kCapIsrCfg = 3;
inline constexpr uint8_t kCapDeviceCfg = 4;
inline constexpr uint8_t kCapPciCfg = 5;

// PCI capability IDs (PCI 3.0, appendix H).
inline constexpr uint8_t kCapIdVendor = 0x09;
inline constexpr uint8_t kCapIdMsix = 0x11;

// struct virtio_pci_cap, offsets from the capability's first byte.
inline constexpr uint32_t kCapLen = 2;
inline constexpr uint32_t kCapCfgType = 3;
inline constexpr uint32_t kCapBar = 4;
inline constexpr uint32_t kCapId = 5;
inline constexpr uint32_t kCapOffset = 8;
inline constexpr uint32_t kCapLength = 12;
inline constexpr uint32_t kCapSize = 16;
// virtio_pci_notify_cap: notify_off_multiplier; virtio_pci_cfg_cap: pci_cfg_data[4].
inline constexpr uint32_t kCapNotifyMultiplier = 16;
inline constexpr uint32_t kCapPciCfgData = 16;
inline constexpr uint32_t kCapExtendedSize = 20;

// MSI-X capability (PCI 3.0, 6.8.2), offsets from its first byte.
inline constexpr uint32_t kMsixMessageControl = 2;
inline constexpr uint32_t kMsixTableOffsetBir = 4;
inline constexpr uint32_t kMsixPbaOffsetBir = 8;
inline constexpr uint16_t kMsixEnable = 0x8000;
inline constexpr uint16_t kMsixFunctionMask = 0x4000;
inline constexpr uint16_t kMsixTableSizeMask = 0x07ff;

// struct virtio_pci_common_cfg (4.1.4.3).
inline constexpr uint64_t kDeviceFeatureSelect = 0;
inline constexpr uint64_t kDeviceFeature = 4;
inline constexpr uint64_t kDriverFeatureSelect = 8;
inline constexpr uint64_t kDriverFeature = 12;
inline constexpr uint64_t kConfigMsixVector = 16;
inline constexpr uint64_t kNumQueues = 18;
inline constexpr uint64_t kDeviceStatus = 20;
inline constexpr uint64_t kConfigGeneration = 21;
inline constexpr uint64_t kQueueSelect = 22;
inline constexpr uint64_t kQueueSize = 24;
inline constexpr uint64_t kQueueMsixVector = 26;
inline constexpr uint64_t kQueueEnable = 28;
inline constexpr uint64_t kQueueNotifyOff = 30;
inline constexpr uint64_t kQueueDesc = 32;
inline constexpr uint64_t kQueueDriver = 40;
inline constexpr uint64_t kQueueDevice = 48;

// 2.1 device status bits.
inline constexpr uint8_t kStatusAcknowledge = 1;
inline constexpr uint8_t kStatusDriver = 2;
inline constexpr uint8_t kStatusDriverOk = 4;
inline constexpr uint8_t kStatusFeaturesOk = 8;
inline constexpr uint8_t kStatusNeedsReset = 0x40;
inline constexpr uint8_t kStatusFailed = 0x80;

// 4.1.4.5 ISR status bits.
inline constexpr uint8_t kIsrQueue = 1;
inline constexpr uint8_t kIsrConfig = 2;

// 4.1.5.1.2: "Vector value used to disable MSI for queue".
inline constexpr uint16_t kNoVector = 0xffff;

// The doorbell of `queue`, relative to BAR 0 (4.1.4.4: cap.offset + queue_notify_off *
// notify_off_multiplier).
[[nodiscard]] constexpr uint64_t notify_offset(uint16_t queue) {
    return kNotifyOffset + uint64_t{kNotifyOffMultiplier} * queue;
}

}  // namespace nvmevm::virtio_pci
