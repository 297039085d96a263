#include "virtio/pci_transport.h"

#include <gtest/gtest.h>

#include <array>
#include <map>
#include <random>
#include <vector>

#include "devices/io_bus.h"
#include "virtio/virtio_defs.h"

namespace nvmevm {
namespace {

using namespace virtio_pci;

class FakeVirtioDevice final : public VirtioDevice {
  public:
    FakeVirtioDevice() {
        for (size_t i = 0; i < config.size(); ++i) config[i] = static_cast<uint8_t>(0xa0 + i);
    }
    uint16_t device_type() const override { return 2; }
    uint64_t offered_features() const override { return offered; }
    uint16_t queue_count() const override { return queues; }
    uint16_t max_queue_size() const override { return max_size; }
    void read_config(uint64_t offset, std::span<uint8_t> data) override {
        for (size_t i = 0; i < data.size(); ++i)
            data[i] = offset + i < config.size() ? config[offset + i] : 0;
    }
    void write_config(uint64_t offset, std::span<const uint8_t> data) override {
        for (size_t i = 0; i < data.size(); ++i)
            if (offset + i < config.size()) config[offset + i] = data[i];
    }
    bool activate(uint64_t features, std::span<const VirtqueueConfig> configs,
                  VirtioInterrupt& irq) override {
        ++activations;
        activated_features = features;
        activated_queues.assign(configs.begin(), configs.end());
        interrupt = &irq;
        return accept;
    }
    void reset() override { ++resets; }
    bool quiesced() const override { return !in_flight; }
    void notify(uint16_t queue) override { notified.push_back(queue); }

    uint64_t offered = feature_bit(0) | feature_bit(9) | feature_bit(VIRTIO_F_EVENT_IDX) |
                       feature_bit(VIRTIO_F_RING_RESET);  // the transport withdraws RING_RESET
    uint16_t queues = 4;
    uint16_t max_size = 256;
    bool accept = true;
    bool in_flight = false;  // requests that may still write guest memory
    std::array<uint8_t, 64> config{};
    int activations = 0;
    int resets = 0;
    uint64_t activated_features = 0;
    std::vector<VirtqueueConfig> activated_queues;
    VirtioInterrupt* interrupt = nullptr;
    std::vector<uint16_t> notified;
};

struct Message {
    uint64_t address;
    uint32_t data;
    bool operator==(const Message&) const = default;
};

class FakeMsiSink final : public MsiSink {
  public:
    void deliver(uint64_t address, uint32_t data) override { messages.push_back({address, data}); }
    std::vector<Message> messages;
};

// The capabilities as a driver finds them, walking the list from offset 0x34.
struct Layout {
    std::map<uint8_t, uint8_t> virtio;  // cfg_type -> capability offset
    uint8_t msix = 0;
    int count = 0;
};

class VirtioPciTest : public ::testing::Test {
  protected:
    VirtioPciTest()
        : device(std::make_shared<FakeVirtioDevice>()),
          transport(VirtioPciTransport::create(device, sink)),
          bar(transport->bar_device()) {}

    uint32_t cfg_read(uint32_t offset, size_t width) {
        uint8_t data[4] = {};
        transport->config_read(offset, std::span<uint8_t>(data, width));
        return static_cast<uint32_t>(load_le(std::span<const uint8_t>(data, width)));
    }
    void cfg_write(uint32_t offset, size_t width, uint32_t value) {
        uint8_t data[4] = {};
        store_le(std::span<uint8_t>(data, width), value);
        transport->config_write(offset, std::span<const uint8_t>(data, width));
    }
    uint64_t bar_read(uint64_t offset, size_t width) {
        uint8_t data[8] = {};
        bar->read(offset, std::span<uint8_t>(data, width));
        return load_le(std::span<const uint8_t>(data, width));
    }
    void bar_write(uint64_t offset, size_t width, uint64_t value) {
        uint8_t data[8] = {};
        store_le(std::span<uint8_t>(data, width), value);
        bar->write(offset, std::span<const uint8_t>(data, width));
    }

    Layout walk() {
        Layout layout;
        uint32_t at = cfg_read(PciConfigSpace::kCapabilityPointer, 1);
        while (at != 0 && layout.count < 48) {
            EXPECT_EQ(at % 4, 0u);
            const uint32_t id = cfg_read(at, 1);
            if (id == kCapIdVendor) {
                const auto type = static_cast<uint8_t>(cfg_read(at + kCapCfgType, 1));
                if (!layout.virtio.count(type)) layout.virtio[type] = static_cast<uint8_t>(at);
            } else if (id == kCapIdMsix) {
                layout.msix = static_cast<uint8_t>(at);
            }
            ++layout.count;
            at = cfg_read(at + 1, 1);
        }
        return layout;
    }
    // The BAR-relative offset of a virtio structure, from its capability.
    uint64_t region(uint8_t cfg_type) {
        const Layout layout = walk();
        const uint8_t cap = layout.virtio.at(cfg_type);
        EXPECT_EQ(cfg_read(cap + kCapBar, 1), kBarIndex);
        return cfg_read(cap + kCapOffset, 4);
    }

    // Common configuration accessors with the widths Linux uses.
    uint64_t common(uint64_t field, size_t width) { return bar_read(kCommonOffset + field, width); }
    void set_common(uint64_t field, size_t width, uint64_t value) {
        bar_write(kCommonOffset + field, width, value);
    }
    uint8_t status() { return static_cast<uint8_t>(common(kDeviceStatus, 1)); }
    void set_status(uint8_t value) { set_common(kDeviceStatus, 1, value); }
    void write_features(uint64_t features) {
        set_common(kDriverFeatureSelect, 4, 0);
        set_common(kDriverFeature, 4, features & 0xffffffff);
        set_common(kDriverFeatureSelect, 4, 1);
        set_common(kDriverFeature, 4, features >> 32);
    }
    uint64_t read_device_features() {
        set_common(kDeviceFeatureSelect, 4, 0);
        const uint64_t low = common(kDeviceFeature, 4);
        set_common(kDeviceFeatureSelect, 4, 1);
        return low | common(kDeviceFeature, 4) << 32;
    }
    void enable_msix(bool function_mask) {
        const uint8_t cap = walk().msix;
        uint32_t control = cfg_read(cap + kMsixMessageControl, 2);
        control |= kMsixEnable;
        if (function_mask) {
            control |= kMsixFunctionMask;
        } else {
            control &= ~uint32_t{kMsixFunctionMask};
        }
        cfg_write(cap + kMsixMessageControl, 2, control);
    }
    void program_vector(uint32_t vector, uint64_t address, uint32_t data) {
        const uint64_t entry = kMsixTableOffset + 16 * vector;
        bar_write(entry, 4, address & 0xffffffff);
        bar_write(entry + 4, 4, address >> 32);
        bar_write(entry + 8, 4, data);
        bar_write(entry + 12, 4, 0);
    }
    void setup_queue(uint16_t queue, uint16_t size, uint16_t vector) {
        set_common(kQueueSelect, 2, queue);
        set_common(kQueueSize, 2, size);
        set_common(kQueueMsixVector, 2, vector);
        const uint64_t base = 0x100000 * (queue + 1);
        set_common(kQueueDesc, 4, base & 0xffffffff);  // 64-bit fields in 32-bit halves
        set_common(kQueueDesc + 4, 4, base >> 32);
        set_common(kQueueDriver, 4, base + 0x1000);
        set_common(kQueueDriver + 4, 4, 0);
        set_common(kQueueDevice, 4, base + 0x2000);
        set_common(kQueueDevice + 4, 4, 0);
        set_common(kQueueEnable, 2, 1);
    }
    // Everything up to DRIVER_OK, as Linux's virtio_pci_modern does it.
    void bring_up() {
        set_status(0);
        set_status(kStatusAcknowledge);
        set_status(kStatusAcknowledge | kStatusDriver);
        write_features(feature_bit(VIRTIO_F_VERSION_1) | feature_bit(9));
        set_status(kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk);
        enable_msix(true);
        for (uint32_t v = 0; v < 5; ++v) program_vector(v, 0xfee00000 + 0x1000 * v, 0x40 + v);
        enable_msix(false);
        set_common(kConfigMsixVector, 2, 0);
        for (uint16_t q = 0; q < 4; ++q) setup_queue(q, 128, static_cast<uint16_t>(q + 1));
        set_status(kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk | kStatusDriverOk);
    }

    std::shared_ptr<FakeVirtioDevice> device;
    std::shared_ptr<FakeMsiSink> sink = std::make_shared<FakeMsiSink>();
    std::shared_ptr<VirtioPciTransport> transport;
    std::shared_ptr<BusDevice> bar;
};

TEST_F(VirtioPciTest, Identity) {
    EXPECT_EQ(cfg_read(0x00, 2), 0x1af4u);
    EXPECT_EQ(cfg_read(0x02, 2), 0x1042u);  // 0x1040 + virtio-blk's device ID 2
    EXPECT_EQ(cfg_read(0x08, 1), 1u);       // revision 1: non-transitional
    EXPECT_EQ(cfg_read(0x08, 4) >> 8, 0x018000u);
    EXPECT_EQ(cfg_read(0x2c, 2), 0x1af4u);
    EXPECT_GE(cfg_read(0x2e, 2), 0x40u);
    EXPECT_TRUE(cfg_read(PciConfigSpace::kStatus, 2) & 0x10);   // capability list
    EXPECT_EQ(cfg_read(PciConfigSpace::kInterruptPin, 1), 0u);  // no INTx
}

TEST_F(VirtioPciTest, CapabilitiesDescribeBarLayout) {
    const Layout layout = walk();
    EXPECT_EQ(layout.count, 6);
    for (uint8_t type : {kCapCommonCfg, kCapNotifyCfg, kCapIsrCfg, kCapDeviceCfg, kCapPciCfg})
        ASSERT_TRUE(layout.virtio.count(type)) << int{type};
    ASSERT_NE(layout.msix, 0);

    auto cap = [&](uint8_t type) { return layout.virtio.at(type); };
    EXPECT_EQ(cfg_read(cap(kCapCommonCfg) + kCapLen, 1), 16u);
    EXPECT_EQ(cfg_read(cap(kCapCommonCfg) + kCapOffset, 4), kCommonOffset);
    EXPECT_GE(cfg_read(cap(kCapCommonCfg) + kCapLength, 4), 56u);  // Linux's minimum
    EXPECT_EQ(cfg_read(cap(kCapNotifyCfg) + kCapLen, 1), 20u);
    EXPECT_EQ(cfg_read(cap(kCapNotifyCfg) + kCapOffset, 4), kNotifyOffset);
    EXPECT_EQ(cfg_read(cap(kCapNotifyCfg) + kCapNotifyMultiplier, 4), 4u);
    // cap.length >= queue_notify_off * notify_off_multiplier + 2 for the last queue.
    EXPECT_GE(cfg_read(cap(kCapNotifyCfg) + kCapLength, 4), 3u * 4 + 2);
    EXPECT_EQ(cfg_read(cap(kCapIsrCfg) + kCapOffset, 4), kIsrOffset);
    EXPECT_GE(cfg_read(cap(kCapIsrCfg) + kCapLength, 4), 1u);
    EXPECT_EQ(cfg_read(cap(kCapDeviceCfg) + kCapOffset, 4), kDeviceCfgOffset);
    EXPECT_EQ(cfg_read(cap(kCapPciCfg) + kCapLen, 1), 20u);
    for (uint8_t type : {kCapCommonCfg, kCapNotifyCfg, kCapIsrCfg, kCapDeviceCfg}) {
        EXPECT_EQ(cfg_read(cap(type) + kCapBar, 1), 0u);
        const uint64_t end =
            cfg_read(cap(type) + kCapOffset, 4) + cfg_read(cap(type) + kCapLength, 4);
        EXPECT_LE(end, kBarSize);
    }

    // MSI-X: 5 vectors (4 queues + configuration), table and PBA in BAR 0.
    EXPECT_EQ(cfg_read(layout.msix + kMsixMessageControl, 2), 4u);
    EXPECT_EQ(cfg_read(layout.msix + kMsixTableOffsetBir, 4), kMsixTableOffset | 0);
    EXPECT_EQ(cfg_read(layout.msix + kMsixPbaOffsetBir, 4), kMsixPbaOffset | 0);

    // 4.1.4.1: the driver "MUST NOT write into any field of the capability structure" but if it
    // does, nothing moves.
    cfg_write(cap(kCapCommonCfg) + kCapOffset, 4, 0x1234);
    cfg_write(layout.msix + kMsixTableOffsetBir, 4, 0xffffffff);
    cfg_write(layout.msix + kMsixMessageControl, 2, 0x3fff);  // table size is read-only
    EXPECT_EQ(cfg_read(cap(kCapCommonCfg) + kCapOffset, 4), kCommonOffset);
    EXPECT_EQ(cfg_read(layout.msix + kMsixTableOffsetBir, 4), kMsixTableOffset);
    EXPECT_EQ(cfg_read(layout.msix + kMsixMessageControl, 2), 4u);
}

TEST_F(VirtioPciTest, BarSizingAndMoves) {
    std::vector<PciBarChange> changes;
    transport->set_bar_callback([&](const PciBarChange& change) { changes.push_back(change); });
    EXPECT_FALSE(transport->bar_address());

    // 6.2.5.1: write all ones, read back the size mask. BAR 0 is 64-bit memory (type 10b).
    cfg_write(PciConfigSpace::kBar0, 4, 0xffffffff);
    cfg_write(PciConfigSpace::kBar0 + 4, 4, 0xffffffff);
    const uint32_t low = cfg_read(PciConfigSpace::kBar0, 4);
    EXPECT_EQ(low & 0xf, 0x4u);
    const uint64_t mask = uint64_t{cfg_read(PciConfigSpace::kBar0 + 4, 4)} << 32 | (low & ~0xfu);
    EXPECT_EQ(~mask + 1, VirtioPciTransport::bar_size());
    EXPECT_TRUE(changes.empty());  // decoding is still off

    cfg_write(PciConfigSpace::kBar0, 4, 0xfebf0000);
    cfg_write(PciConfigSpace::kBar0 + 4, 4, 0);
    cfg_write(PciConfigSpace::kCommand, 2, PciConfigSpace::kCommandMemory);
    ASSERT_EQ(changes.size(), 1u);
    EXPECT_EQ(changes[0].index, 0u);
    EXPECT_FALSE(changes[0].old_address);
    EXPECT_EQ(changes[0].new_address, 0xfebf0000u);
    EXPECT_EQ(transport->bar_address(), 0xfebf0000u);

    cfg_write(PciConfigSpace::kBar0 + 4, 4, 0x1);  // above 4 GiB
    ASSERT_EQ(changes.size(), 2u);
    EXPECT_EQ(changes[1].old_address, 0xfebf0000u);
    EXPECT_EQ(changes[1].new_address, 0x1'febf'0000u);

    cfg_write(PciConfigSpace::kCommand, 2, 0);
    ASSERT_EQ(changes.size(), 3u);
    EXPECT_FALSE(changes[2].new_address);
    EXPECT_FALSE(transport->bar_address());
}

TEST_F(VirtioPciTest, LinuxInitSequenceEndToEnd) {
    // Program the BAR and reach the device through an MMIO bus, as the VMM does.
    cfg_write(PciConfigSpace::kBar0, 4, 0xfebf0000);
    cfg_write(PciConfigSpace::kBar0 + 4, 4, 0);
    cfg_write(PciConfigSpace::kCommand, 2,
              PciConfigSpace::kCommandMemory | PciConfigSpace::kCommandBusMaster);
    IoBus mmio("mmio");
    const uint64_t base = *transport->bar_address();
    mmio.add(base, VirtioPciTransport::bar_size(), transport->bar_device());
    const uint64_t common_base = base + region(kCapCommonCfg);
    auto mmio_read = [&](uint64_t address, size_t width) {
        uint8_t data[8] = {};
        EXPECT_TRUE(mmio.read(address, std::span<uint8_t>(data, width)));
        return load_le(std::span<const uint8_t>(data, width));
    };
    auto mmio_write = [&](uint64_t address, size_t width, uint64_t value) {
        uint8_t data[8] = {};
        store_le(std::span<uint8_t>(data, width), value);
        EXPECT_TRUE(mmio.write(address, std::span<const uint8_t>(data, width)));
    };

    // Reset, then wait for device_status to read 0 (4.1.4.3.2).
    mmio_write(common_base + kDeviceStatus, 1, 0);
    EXPECT_EQ(mmio_read(common_base + kDeviceStatus, 1), 0u);
    EXPECT_EQ(device->resets, 1);
    mmio_write(common_base + kDeviceStatus, 1, kStatusAcknowledge);
    mmio_write(common_base + kDeviceStatus, 1, kStatusAcknowledge | kStatusDriver);

    // Features: VERSION_1 is offered, RING_RESET withdrawn (no queue_reset field).
    const uint64_t offered = read_device_features();
    EXPECT_TRUE(offered & feature_bit(VIRTIO_F_VERSION_1));
    EXPECT_TRUE(offered & feature_bit(9));
    EXPECT_FALSE(offered & feature_bit(VIRTIO_F_RING_RESET));
    set_common(kDeviceFeatureSelect, 4, 2);
    EXPECT_EQ(common(kDeviceFeature, 4), 0u);

    // An unoffered feature: FEATURES_OK does not stick.
    write_features(feature_bit(VIRTIO_F_VERSION_1) | feature_bit(5));
    set_status(kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk);
    EXPECT_FALSE(status() & kStatusFeaturesOk);
    // Start again with a subset of the offer.
    set_status(0);
    EXPECT_EQ(device->resets, 2);
    set_status(kStatusAcknowledge);
    set_status(kStatusAcknowledge | kStatusDriver);
    const uint64_t accepted = feature_bit(VIRTIO_F_VERSION_1) | feature_bit(VIRTIO_F_EVENT_IDX);
    write_features(accepted);
    set_status(kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk);
    EXPECT_TRUE(status() & kStatusFeaturesOk);
    set_common(kDriverFeatureSelect, 4, 0);
    EXPECT_EQ(common(kDriverFeature, 4), accepted & 0xffffffff);

    // MSI-X: enable with the function masked, fill the table, unmask.
    enable_msix(true);
    for (uint32_t v = 0; v < 5; ++v) program_vector(v, 0xfee00000 + 0x1000 * v, 0x40 + v);
    enable_msix(false);
    EXPECT_TRUE(transport->msix().enabled());
    set_common(kConfigMsixVector, 2, 0);
    EXPECT_EQ(common(kConfigMsixVector, 2), 0u);

    EXPECT_EQ(common(kNumQueues, 2), 4u);
    for (uint16_t q = 0; q < 4; ++q) {
        set_common(kQueueSelect, 2, q);
        EXPECT_EQ(common(kQueueSize, 2), 256u);
        EXPECT_EQ(common(kQueueEnable, 2), 0u);
        EXPECT_EQ(common(kQueueNotifyOff, 2), q);
        EXPECT_EQ(common(kQueueMsixVector, 2), kNoVector);
        setup_queue(q, 128, static_cast<uint16_t>(q + 1));
        EXPECT_EQ(common(kQueueSize, 2), 128u);
        EXPECT_EQ(common(kQueueMsixVector, 2), q + 1u);  // mapping succeeded
        EXPECT_EQ(common(kQueueEnable, 2), 1u);
        EXPECT_EQ(common(kQueueDesc, 8), 0x100000u * (q + 1));
    }
    EXPECT_EQ(device->activations, 0);

    set_status(kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk | kStatusDriverOk);
    EXPECT_EQ(status(), kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk | kStatusDriverOk);
    ASSERT_EQ(device->activations, 1);
    EXPECT_EQ(device->activated_features, accepted);
    ASSERT_EQ(device->activated_queues.size(), 4u);
    for (uint16_t q = 0; q < 4; ++q) {
        const auto& config = device->activated_queues[q];
        EXPECT_EQ(config.size, 128);
        EXPECT_TRUE(config.enabled);
        EXPECT_EQ(config.desc, 0x100000u * (q + 1));
        EXPECT_EQ(config.driver, 0x100000u * (q + 1) + 0x1000);
        EXPECT_EQ(config.device, 0x100000u * (q + 1) + 0x2000);
    }
    ASSERT_EQ(device->interrupt, transport.get());

    // Queue 2 completes: vector 3's message.
    device->interrupt->signal_queue(2);
    ASSERT_EQ(sink->messages.size(), 1u);
    EXPECT_EQ(sink->messages[0], (Message{0xfee03000, 0x43}));

    // Masked vector: pending, delivered on unmask.
    const uint64_t control3 = base + kMsixTableOffset + 16 * 3 + 12;
    mmio_write(control3, 4, 1);
    device->interrupt->signal_queue(2);
    EXPECT_EQ(sink->messages.size(), 1u);
    EXPECT_EQ(mmio_read(base + kMsixPbaOffset, 8), 1u << 3);
    mmio_write(control3, 4, 0);
    ASSERT_EQ(sink->messages.size(), 2u);
    EXPECT_EQ(sink->messages[1], (Message{0xfee03000, 0x43}));
    EXPECT_EQ(mmio_read(base + kMsixPbaOffset, 8), 0u);

    // Configuration change: vector 0, ISR bit 1, a new generation.
    const uint64_t generation = common(kConfigGeneration, 1);
    device->interrupt->signal_config();
    ASSERT_EQ(sink->messages.size(), 3u);
    EXPECT_EQ(sink->messages[2], (Message{0xfee00000, 0x40}));
    EXPECT_NE(common(kConfigGeneration, 1), generation);
    EXPECT_EQ(mmio_read(base + region(kCapIsrCfg), 1), kIsrConfig);
    EXPECT_EQ(mmio_read(base + region(kCapIsrCfg), 1), 0u);  // read to clear

    // The doorbell of queue 1, where Linux computes it.
    const Layout layout = walk();
    const uint32_t multiplier = cfg_read(layout.virtio.at(kCapNotifyCfg) + kCapNotifyMultiplier, 4);
    set_common(kQueueSelect, 2, 1);
    const uint64_t doorbell =
        base + region(kCapNotifyCfg) + common(kQueueNotifyOff, 2) * multiplier;
    EXPECT_EQ(doorbell - base, VirtioPciTransport::notify_offset(1));
    mmio_write(doorbell, 2, 1);
    ASSERT_EQ(device->notified.size(), 1u);
    EXPECT_EQ(device->notified[0], 1);

    // Device configuration reads reach the device.
    EXPECT_EQ(mmio_read(base + region(kCapDeviceCfg) + 4, 4), 0xa7a6a5a4u);
}

TEST_F(VirtioPciTest, ResetClearsTransportState) {
    bring_up();
    ASSERT_EQ(device->activations, 1);
    transport->signal_queue(0);
    const int resets = device->resets;
    set_status(0);
    EXPECT_EQ(device->resets, resets + 1);
    EXPECT_EQ(status(), 0u);
    EXPECT_EQ(common(kConfigMsixVector, 2), kNoVector);
    set_common(kDriverFeatureSelect, 4, 0);
    EXPECT_EQ(common(kDriverFeature, 4), 0u);
    set_common(kDriverFeatureSelect, 4, 1);
    EXPECT_EQ(common(kDriverFeature, 4), 0u);
    EXPECT_EQ(common(kQueueSelect, 2), 0u);
    for (uint16_t q = 0; q < 4; ++q) {
        set_common(kQueueSelect, 2, q);
        EXPECT_EQ(common(kQueueSize, 2), 256u);
        EXPECT_EQ(common(kQueueEnable, 2), 0u);
        EXPECT_EQ(common(kQueueMsixVector, 2), kNoVector);
        EXPECT_EQ(common(kQueueDesc, 8), 0u);
        EXPECT_EQ(common(kQueueDriver, 8), 0u);
        EXPECT_EQ(common(kQueueDevice, 8), 0u);
    }
    EXPECT_EQ(bar_read(kIsrOffset, 1), 0u);
    // Unmapped after reset: a late completion interrupts nobody.
    const size_t messages = sink->messages.size();
    transport->signal_queue(0);
    EXPECT_EQ(sink->messages.size(), messages);
    // The MSI-X table is PCI function state, not virtio state: it survives.
    EXPECT_EQ(bar_read(kMsixTableOffset + 16, 4), 0xfee01000u);
}

// 4.1.4.3.1: "present a 0 in device_status once that is done": not while requests the device
// took before the reset can still write guest memory. The driver polls until it reads 0.
TEST_F(VirtioPciTest, ResetReadsBackZeroOnlyOnceNothingIsInFlight) {
    bring_up();
    const uint8_t running = status();
    device->in_flight = true;
    const int resets = device->resets;
    set_status(0);
    EXPECT_EQ(device->resets, resets + 1);
    EXPECT_EQ(status(), running);  // still resetting
    EXPECT_EQ(status(), running);
    device->in_flight = false;
    EXPECT_EQ(status(), 0u);
    // A second reset written while the first is under way reads the same until it is done.
    bring_up();
    device->in_flight = true;
    set_status(0);
    set_status(0);
    EXPECT_EQ(status(), running);
    device->in_flight = false;
    EXPECT_EQ(status(), 0u);
}

TEST_F(VirtioPciTest, QueueSelectOutOfRange) {
    set_common(kQueueSelect, 2, 4);
    EXPECT_EQ(common(kQueueSelect, 2), 4u);
    EXPECT_EQ(common(kQueueSize, 2), 0u);  // "the virtqueue ... is unavailable"
    EXPECT_EQ(common(kQueueEnable, 2), 0u);
    EXPECT_EQ(common(kQueueMsixVector, 2), kNoVector);
    set_common(kQueueSize, 2, 16);
    set_common(kQueueEnable, 2, 1);
    set_common(kQueueMsixVector, 2, 1);
    set_common(kQueueDesc, 8, 0x1000);
    EXPECT_EQ(common(kQueueSize, 2), 0u);
    EXPECT_EQ(common(kQueueDesc, 8), 0u);
    set_common(kQueueSelect, 2, 0xffff);
    EXPECT_EQ(common(kQueueSize, 2), 0u);
    set_common(kQueueSelect, 2, 0);
    EXPECT_EQ(common(kQueueSize, 2), 256u);
    EXPECT_EQ(common(kQueueEnable, 2), 0u);
}

TEST_F(VirtioPciTest, VectorOutsideTableReadsNoVector) {
    set_common(kConfigMsixVector, 2, 4);  // 5 vectors: 0-4
    EXPECT_EQ(common(kConfigMsixVector, 2), 4u);
    set_common(kConfigMsixVector, 2, 5);
    EXPECT_EQ(common(kConfigMsixVector, 2), kNoVector);
    set_common(kQueueMsixVector, 2, 0x7ff);
    EXPECT_EQ(common(kQueueMsixVector, 2), kNoVector);
    set_common(kQueueMsixVector, 2, 2);
    EXPECT_EQ(common(kQueueMsixVector, 2), 2u);
    set_common(kQueueMsixVector, 2, kNoVector);  // unmapping is always possible
    EXPECT_EQ(common(kQueueMsixVector, 2), kNoVector);
}

TEST_F(VirtioPciTest, QueueSizeOnlyShrinks) {
    set_common(kQueueSize, 2, 512);
    EXPECT_EQ(common(kQueueSize, 2), 256u);
    set_common(kQueueSize, 2, 64);
    EXPECT_EQ(common(kQueueSize, 2), 64u);
    set_common(kQueueSize, 2, 100);  // not a power of 2: the device refuses it at activation
    EXPECT_EQ(common(kQueueSize, 2), 100u);
}

TEST_F(VirtioPciTest, EnabledQueueIsFrozen) {
    setup_queue(0, 64, 1);
    set_common(kQueueSize, 2, 32);
    set_common(kQueueDesc, 4, 0xdead0000);
    set_common(kQueueEnable, 2, 0);  // "The driver MUST NOT write a 0 to queue_enable"
    EXPECT_EQ(common(kQueueSize, 2), 64u);
    EXPECT_EQ(common(kQueueDesc, 8), 0x100000u);
    EXPECT_EQ(common(kQueueEnable, 2), 1u);
    // Queue 1, not yet enabled, is still writable until DRIVER_OK.
    set_common(kQueueSelect, 2, 1);
    set_common(kQueueSize, 2, 32);
    EXPECT_EQ(common(kQueueSize, 2), 32u);
}

TEST_F(VirtioPciTest, QueuesFrozenAfterDriverOk) {
    bring_up();
    set_common(kQueueSelect, 2, 0);
    // Queue 0 was enabled; queue fields of any queue stay as they were.
    set_common(kQueueDriver, 8, 0x5000);
    EXPECT_EQ(common(kQueueDriver, 8), 0x101000u);
    // Vectors may still be remapped (Linux writes NO_VECTOR when it tears queues down).
    set_common(kQueueMsixVector, 2, kNoVector);
    EXPECT_EQ(common(kQueueMsixVector, 2), kNoVector);
}

TEST_F(VirtioPciTest, FeaturesFrozenAfterFeaturesOk) {
    set_status(kStatusAcknowledge | kStatusDriver);
    write_features(feature_bit(VIRTIO_F_VERSION_1));
    set_status(kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk);
    ASSERT_TRUE(status() & kStatusFeaturesOk);
    write_features(feature_bit(VIRTIO_F_VERSION_1) | feature_bit(0));
    set_common(kDriverFeatureSelect, 4, 0);
    EXPECT_EQ(common(kDriverFeature, 4), 0u);
    // Status bits cannot be cleared short of a reset.
    set_status(kStatusAcknowledge);
    EXPECT_TRUE(status() & kStatusFeaturesOk);
}

TEST_F(VirtioPciTest, FeaturesWithoutVersion1Refused) {
    set_status(kStatusAcknowledge | kStatusDriver);
    write_features(feature_bit(9));
    set_status(kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk);
    EXPECT_EQ(status(), kStatusAcknowledge | kStatusDriver);
}

TEST_F(VirtioPciTest, DriverOkWithoutFeaturesOkNeedsReset) {
    set_status(kStatusAcknowledge | kStatusDriver);
    set_status(kStatusAcknowledge | kStatusDriver | kStatusDriverOk);
    EXPECT_EQ(device->activations, 0);
    EXPECT_EQ(status(), kStatusAcknowledge | kStatusDriver | kStatusNeedsReset);
    set_status(0);
    EXPECT_EQ(status(), 0u);
}

TEST_F(VirtioPciTest, RefusedActivationNeedsResetAndNotifies) {
    device->accept = false;
    bring_up();
    EXPECT_EQ(device->activations, 1);
    EXPECT_TRUE(status() & kStatusNeedsReset);
    EXPECT_TRUE(status() & kStatusDriverOk);
    // 2.1.2: after DEVICE_NEEDS_RESET with DRIVER_OK, a configuration change notification.
    ASSERT_EQ(sink->messages.size(), 1u);
    EXPECT_EQ(sink->messages[0], (Message{0xfee00000, 0x40}));
    // Further status writes change nothing until a reset.
    set_status(0x0f);
    EXPECT_EQ(device->activations, 1);
}

TEST_F(VirtioPciTest, DeviceReportedErrorNeedsReset) {
    bring_up();
    transport->mark_needs_reset();
    EXPECT_TRUE(status() & kStatusNeedsReset);
    EXPECT_EQ(sink->messages.size(), 1u);
    transport->mark_needs_reset();  // once is enough
    EXPECT_EQ(sink->messages.size(), 1u);
    set_status(0);
    EXPECT_EQ(status(), 0u);
}

TEST_F(VirtioPciTest, IsrWithoutMsix) {
    transport->signal_queue(1);
    EXPECT_TRUE(sink->messages.empty());
    EXPECT_EQ(bar_read(kIsrOffset, 1), kIsrQueue);
    EXPECT_EQ(bar_read(kIsrOffset, 1), 0u);
    transport->signal_config();
    transport->signal_queue(0);
    EXPECT_EQ(bar_read(kIsrOffset + 1, 1), 0u);  // only the first byte is the ISR
    EXPECT_EQ(bar_read(kIsrOffset, 4), kIsrQueue | kIsrConfig);
    EXPECT_EQ(bar_read(kIsrOffset, 1), 0u);
    bar_write(kIsrOffset, 1, 0xff);  // read-only
    EXPECT_EQ(bar_read(kIsrOffset, 1), 0u);
    transport->signal_queue(99);  // no such queue
    EXPECT_EQ(bar_read(kIsrOffset, 1), 0u);
}

TEST_F(VirtioPciTest, NoVectorMeansNoInterrupt) {
    bring_up();
    set_common(kQueueSelect, 2, 3);
    set_common(kQueueMsixVector, 2, kNoVector);
    transport->signal_queue(3);
    EXPECT_TRUE(sink->messages.empty());
    EXPECT_EQ(bar_read(kIsrOffset, 1), 0u);  // MSI-X on: the ISR queue bit is unused
}

TEST_F(VirtioPciTest, DeviceConfigForwarded) {
    EXPECT_EQ(bar_read(kDeviceCfgOffset, 1), 0xa0u);
    EXPECT_EQ(bar_read(kDeviceCfgOffset + 8, 8), 0xafaeadacabaaa9a8u);
    bar_write(kDeviceCfgOffset + 2, 2, 0x1234);
    EXPECT_EQ(device->config[2], 0x34);
    EXPECT_EQ(device->config[3], 0x12);
    EXPECT_EQ(bar_read(kDeviceCfgOffset + 0xfc, 4), 0u);  // past the device's config: zeroes
    EXPECT_EQ(bar_read(kDeviceCfgOffset + 0xfc, 8), 0u);  // straddles the window: nothing
}

TEST_F(VirtioPciTest, DoorbellsDecodeByAddress) {
    bar_write(VirtioPciTransport::notify_offset(3), 2, 3);
    bar_write(VirtioPciTransport::notify_offset(0), 2, 0x55);   // the value is not the key
    bar_write(VirtioPciTransport::notify_offset(4), 2, 4);      // no queue 4
    bar_write(VirtioPciTransport::notify_offset(1) + 2, 2, 1);  // between doorbells
    bar_write(kNotifyOffset + kNotifyWindow - 2, 2, 0);
    EXPECT_EQ(device->notified, (std::vector<uint16_t>{3, 0}));
    EXPECT_EQ(bar_read(VirtioPciTransport::notify_offset(0), 2), 0u);
}

TEST_F(VirtioPciTest, SixtyFourBitFieldsAnyWay) {
    set_common(kQueueDesc, 8, 0x1122334455667788);
    EXPECT_EQ(common(kQueueDesc, 8), 0x1122334455667788u);
    EXPECT_EQ(common(kQueueDesc, 4), 0x55667788u);
    EXPECT_EQ(common(kQueueDesc + 4, 4), 0x11223344u);
    set_common(kQueueDesc + 4, 4, 0);
    EXPECT_EQ(common(kQueueDesc, 8), 0x55667788u);
    // An odd access still means what its bytes say.
    set_common(kQueueDesc + 1, 2, 0xaabb);
    EXPECT_EQ(common(kQueueDesc, 8), 0x55aabb88u);
    // A 32-bit read across num_queues and device_status.
    EXPECT_EQ(common(kNumQueues, 4), 4u);
    EXPECT_EQ(common(0x38, 4), 0u);  // past the structure
    EXPECT_EQ(common(0xfc, 8), 0u);  // straddles the window
}

TEST_F(VirtioPciTest, PciConfigAccessWindow) {
    const uint8_t cap = walk().virtio.at(kCapPciCfg);
    // Write device_status through the window.
    cfg_write(cap + kCapBar, 1, 0);
    cfg_write(cap + kCapLength, 4, 1);
    cfg_write(cap + kCapOffset, 4, kCommonOffset + kDeviceStatus);
    cfg_write(cap + kCapPciCfgData, 1, kStatusAcknowledge);
    EXPECT_EQ(status(), kStatusAcknowledge);
    EXPECT_EQ(cfg_read(cap + kCapPciCfgData, 1), kStatusAcknowledge);
    // A 2-byte read of num_queues.
    cfg_write(cap + kCapLength, 4, 2);
    cfg_write(cap + kCapOffset, 4, kCommonOffset + kNumQueues);
    EXPECT_EQ(cfg_read(cap + kCapPciCfgData, 4), 4u);
    // A doorbell through the window.
    cfg_write(cap + kCapOffset, 4, VirtioPciTransport::notify_offset(2));
    cfg_write(cap + kCapPciCfgData, 2, 2);
    EXPECT_EQ(device->notified, (std::vector<uint16_t>{2}));
    // Misaligned, wrong length, wrong BAR, out of range: nothing happens, reads see zeroes.
    cfg_write(cap + kCapOffset, 4, kCommonOffset + kNumQueues + 1);
    EXPECT_EQ(cfg_read(cap + kCapPciCfgData, 4), 0u);
    cfg_write(cap + kCapLength, 4, 3);
    cfg_write(cap + kCapOffset, 4, kCommonOffset + kDeviceStatus);
    cfg_write(cap + kCapPciCfgData, 1, 0);
    EXPECT_EQ(status(), kStatusAcknowledge);
    cfg_write(cap + kCapLength, 4, 1);
    cfg_write(cap + kCapBar, 1, 1);
    cfg_write(cap + kCapPciCfgData, 1, 0);
    EXPECT_EQ(status(), kStatusAcknowledge);
    cfg_write(cap + kCapBar, 1, 0);
    cfg_write(cap + kCapOffset, 4, 0xffffffff);
    cfg_write(cap + kCapPciCfgData, 1, 0);
    EXPECT_EQ(status(), kStatusAcknowledge);
}

TEST(VirtioPciLimits, QueueCounts) {
    auto sink = std::make_shared<FakeMsiSink>();
    auto none = std::make_shared<FakeVirtioDevice>();
    none->queues = 0;
    EXPECT_THROW(VirtioPciTransport::create(none, sink), std::invalid_argument);
    auto many = std::make_shared<FakeVirtioDevice>();
    many->queues = static_cast<uint16_t>(kMaxQueues + 1);
    EXPECT_THROW(VirtioPciTransport::create(many, sink), std::invalid_argument);
    auto most = std::make_shared<FakeVirtioDevice>();
    most->queues = static_cast<uint16_t>(kMaxQueues);
    auto transport = VirtioPciTransport::create(most, sink);
    EXPECT_EQ(transport->msix().size(), kMaxQueues + 1);
    // The last queue's doorbell and vector entry still lie inside their windows.
    EXPECT_LT(VirtioPciTransport::notify_offset(static_cast<uint16_t>(kMaxQueues - 1)),
              kNotifyOffset + kNotifyWindow);
    EXPECT_LE(transport->msix().table_bytes(), kMsixTableWindow);
}

// Hostile guest: random accesses of random widths anywhere in configuration space and BAR 0,
// interleaved with device-side signals. Nothing may crash, and the state stays coherent.
TEST_F(VirtioPciTest, RandomAccessesKeepInvariants) {
    std::mt19937_64 random(12345);
    const Layout before = walk();
    const uint64_t offered = read_device_features();
    constexpr std::array<uint64_t, 7> kHotSpots = {
        kCommonOffset,    kIsrOffset,     kDeviceCfgOffset, kNotifyOffset,
        kMsixTableOffset, kMsixPbaOffset, kBarSize - 0x20};
    constexpr std::array<size_t, 4> kBarWidths = {1, 2, 4, 8};
    int signals = 0;
    int last_activations = 0;
    for (int i = 0; i < 100000; ++i) {
        const uint64_t pick = random() % 100;
        const uint64_t value = random();
        if (pick < 25) {
            // Config space: the host bridge guarantees 1-4 bytes inside 256.
            const size_t width = 1 + random() % 4;
            const auto offset = static_cast<uint32_t>(random() % (kPciConfigSpaceSize - width + 1));
            uint8_t data[4];
            store_le(std::span<uint8_t>(data, width), value);
            if (pick < 12) {
                transport->config_write(offset, std::span<const uint8_t>(data, width));
            } else {
                transport->config_read(offset, std::span<uint8_t>(data, width));
            }
        } else if (pick < 27) {
            // MSI-X Enable / Function Mask flips, so that messages flow and pend.
            cfg_write(before.msix + kMsixMessageControl, 2, static_cast<uint32_t>(value));
        } else if (pick < 30) {
            // Plausible negotiation steps, so that activation happens now and then.
            write_features((offered & value) | feature_bit(VIRTIO_F_VERSION_1));
            set_status(static_cast<uint8_t>(value >> 56));
        } else if (pick < 32) {
            // Vector mappings and entry masks.
            set_common(kQueueSelect, 2, value % 5);
            set_common(value & 0x100 ? kQueueMsixVector : kConfigMsixVector, 2, (value >> 16) % 6);
            bar_write(kMsixTableOffset + 16 * ((value >> 32) % 5) + 12, 4, (value >> 40) & 1);
        } else if (pick < 95) {
            const size_t width = kBarWidths[random() % kBarWidths.size()];
            uint64_t offset = random() % 2 ? random() % (kBarSize + 64)
                                           : kHotSpots[random() % kHotSpots.size()] + random() % 64;
            if (pick < 40) offset = kCommonOffset + random() % 0x40;  // where the state is
            uint8_t data[8];
            store_le(std::span<uint8_t>(data, width), value);
            if (pick % 2) {
                bar->write(offset, std::span<const uint8_t>(data, width));
            } else {
                bar->read(offset, std::span<uint8_t>(data, width));
            }
        } else if (pick < 98) {
            transport->signal_queue(static_cast<uint16_t>(random() % 6));
            ++signals;
        } else {
            transport->signal_config();
            ++signals;
        }

        // Invariants.
        const uint8_t now = transport->device_status();
        ASSERT_EQ(now & 0x30, 0) << "unassigned status bits at step " << i;
        if (now & kStatusDriverOk) {
            ASSERT_TRUE(now & kStatusFeaturesOk) << i;
        }
        if (device->activations != last_activations) {
            last_activations = device->activations;
            ASSERT_EQ(device->activated_features & ~offered, 0u) << i;
            ASSERT_TRUE(device->activated_features & feature_bit(VIRTIO_F_VERSION_1)) << i;
            ASSERT_EQ(device->activated_queues.size(), 4u);
            for (const auto& queue : device->activated_queues) ASSERT_LE(queue.size, 256) << i;
        }
        ASSERT_LE(sink->messages.size(), static_cast<size_t>(signals)) << i;
    }
    // The capability list is read-only to the guest.
    const Layout after = walk();
    EXPECT_EQ(after.count, before.count);
    EXPECT_EQ(after.virtio, before.virtio);
    EXPECT_EQ(after.msix, before.msix);
    for (uint16_t q = 0; q < 8; ++q) {
        set_common(kQueueSelect, 2, q);
        EXPECT_LE(common(kQueueSize, 2), 256u);
        const uint64_t vector = common(kQueueMsixVector, 2);
        EXPECT_TRUE(vector < 5 || vector == kNoVector);
    }
    EXPECT_GT(device->activations, 0);  // the walk went deep
    EXPECT_GT(sink->messages.size(), 0u);
    // A reset brings the device back whatever happened.
    set_status(0);
    EXPECT_EQ(status(), 0u);
    EXPECT_GT(device->resets, 0);
}

}  // namespace
}  // namespace nvmevm
