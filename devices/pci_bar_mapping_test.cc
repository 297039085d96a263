// A BAR the guest moves onto another device's range: configuration space reads back what the
// guest wrote, the BAR is decoded nowhere while it overlaps, the other device keeps its range
// through every later move, and the warning it causes is rate-limited.
#include "devices/pci_bar_mapping.h"

#include <gtest/gtest.h>

#include <string>

#include "devices/pci_config.h"

namespace nvmevm {
namespace {

constexpr uint64_t kBarSize = 0x4000;
constexpr uint64_t kX = 0xd0000000, kY = 0xd0100000, kZ = 0xd0200000;

class CountingDevice final : public BusDevice {
  public:
    void read(uint64_t, std::span<uint8_t> data) override {
        ++reads;
        for (auto& b : data) b = 0;
    }
    void write(uint64_t, std::span<const uint8_t>) override {}
    unsigned reads = 0;
};

// A function with one 64-bit memory BAR whose changes drive a PciBarMapping, as
// vmm/block_devices.cc wires a virtio-pci transport.
struct Function {
    Function(IoBus& bus, const char* name, uint64_t bar)
        : device(std::make_shared<CountingDevice>()),
          config(PciIds{0x1af4, 0x1042, 0x018000}),
          mapping(bus, device, kBarSize, name) {
        config.add_bar(0, PciBar{PciBarKind::memory64, kBarSize, false});
        config.set_bar_callback(
            [this](const PciBarChange& change) { (void)mapping.move_to(change.new_address); });
        move(bar);
        write32(PciConfigSpace::kCommand, PciConfigSpace::kCommandMemory);
    }
    void write32(uint32_t offset, uint32_t value) {
        uint8_t bytes[4];
        store_le(bytes, value);
        config.write(offset, bytes);
    }
    void move(uint64_t bar) {
        write32(PciConfigSpace::kBar0, static_cast<uint32_t>(bar));
        write32(PciConfigSpace::kBar0 + 4, static_cast<uint32_t>(bar >> 32));
    }
    // The address the BAR register holds (what the guest reads back).
    uint64_t register_address() const {
        return (config.read32(PciConfigSpace::kBar0) & ~uint64_t{0xf}) |
               uint64_t{config.read32(PciConfigSpace::kBar0 + 4)} << 32;
    }

    std::shared_ptr<CountingDevice> device;
    PciConfigSpace config;
    PciBarMapping mapping;
};

// Which of the two devices a read at `address` reaches: "a", "b" or "" (none).
std::string who_decodes(IoBus& bus, Function& a, Function& b, uint64_t address) {
    const unsigned a_before = a.device->reads, b_before = b.device->reads;
    uint8_t data[4];
    if (!bus.read(address, data)) return "";
    if (a.device->reads != a_before) return "a";
    return b.device->reads != b_before ? "b" : "?";
}

TEST(PciBarMapping, ABarMovedOntoAnotherIsDecodedNowhereAndNeverTakesTheOthersRange) {
    IoBus bus("mmio");
    Function a(bus, "a", kX), b(bus, "b", kY);
    ASSERT_EQ(a.mapping.mapped(), kX);
    ASSERT_EQ(b.mapping.mapped(), kY);

    // A onto B: the register keeps what the guest wrote, A is on the bus nowhere, B stays.
    a.move(kY);
    EXPECT_EQ(a.register_address(), kY);
    EXPECT_EQ(a.mapping.mapped(), std::nullopt);
    EXPECT_EQ(who_decodes(bus, a, b, kY), "b");
    EXPECT_EQ(who_decodes(bus, a, b, kX), "");

    // A away to a free range: B keeps its range (the old code removed B's here).
    a.move(kZ);
    EXPECT_EQ(a.mapping.mapped(), kZ);
    EXPECT_EQ(who_decodes(bus, a, b, kY), "b");
    EXPECT_EQ(who_decodes(bus, a, b, kZ), "a");

    // Onto B again, decoding toggled while there, then back home.
    a.move(kY);
    a.write32(PciConfigSpace::kCommand, 0);
    a.write32(PciConfigSpace::kCommand, PciConfigSpace::kCommandMemory);
    EXPECT_EQ(a.mapping.mapped(), std::nullopt);
    EXPECT_EQ(who_decodes(bus, a, b, kY), "b");
    a.move(kX);
    EXPECT_EQ(a.mapping.mapped(), kX);
    EXPECT_EQ(who_decodes(bus, a, b, kX), "a");
    EXPECT_EQ(who_decodes(bus, a, b, kY), "b");
    EXPECT_EQ(who_decodes(bus, a, b, kZ), "");

    // B moving away frees its range; A, not there, is not put there behind the guest's back.
    b.move(kZ);
    EXPECT_EQ(who_decodes(bus, a, b, kY), "");
    EXPECT_EQ(who_decodes(bus, a, b, kZ), "b");
}

TEST(PciBarMapping, AGuestTogglingAnOverlapLogsABoundedNumberOfLines) {
    IoBus bus("mmio");
    Function a(bus, "a", kX), b(bus, "b", kY);
    const LogLevel saved = log_level();
    set_log_level(LogLevel::warn);
    ::testing::internal::CaptureStderr();
    for (int i = 0; i < 1000; ++i) {
        a.move(kY);
        a.move(kX);
    }
    const std::string output = ::testing::internal::GetCapturedStderr();
    set_log_level(saved);
    size_t lines = 0;
    for (size_t at = output.find("overlaps"); at != std::string::npos;
         at = output.find("overlaps", at + 1))
        ++lines;
    // The limiter's burst (10 per 5 s), not one line per toggle.
    EXPECT_GE(lines, 1u);
    EXPECT_LE(lines, 10u);
    EXPECT_EQ(who_decodes(bus, a, b, kY), "b");
}

}  // namespace
}  // namespace nvmevm
