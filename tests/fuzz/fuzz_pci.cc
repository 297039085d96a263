// Guest accesses to PCI configuration space (through the host bridge's ports 0xCF8-0xCFF), to
// BAR 0 of a virtio-pci function (common configuration, ISR, device configuration, doorbells,
// MSI-X table and PBA) and to the PCI configuration access capability, interleaved with what the
// device does on its own (queue interrupts, configuration changes, DEVICE_NEEDS_RESET), in any
// order and with any width, offset and value.
//
// Input layout (little-endian; missing bytes read as zero):
//   u8 queue count - 1 (modulo 8), u16 max queue size, u8 activate answer (bit 0: accept),
//   u64 features the device offers; then accesses, each:
//     u8 op: bits 0-2 kind, bits 3-4 width (1 << n bytes), bit 5 write
//     u16 offset
//     width bytes of value (writes only)
//   kind 0: the host bridge's ports, at offset % 8
//   kind 1-2: a configuration access as a driver makes it: a dword write of CONFIG_ADDRESS
//           (enable bit, bus 0, device = offset bits 8-9: 0 host bridge, 1 the virtio
//           function, 2-3 nothing; register = offset bits 0-7), then the access at 0xCFC +
//           (register % 4)
//   kind 3-5: BAR 0 at offset % 0x4000 (moved down so that the access fits)
//   kind 6: the device: offset % 3 == 0 signals queue offset >> 8, 1 signals a configuration
//           change, 2 reports DEVICE_NEEDS_RESET
//   kind 7: the common configuration, at offset % 0x40
// A finding, besides a crash or a sanitizer report: the device activated with features it did
// not offer, without VERSION_1, with the wrong number of queues, or twice without a reset.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <span>

#include "devices/pci_host.h"
#include "foundation/log.h"
#include "tests/fuzz/fuzz_input.h"
#include "virtio/pci_transport.h"
#include "virtio/virtio_defs.h"

namespace nvmevm {
namespace {

[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "fuzz_pci: %s\n", what);
    std::abort();
}

class FakeDevice final : public VirtioDevice {
  public:
    uint16_t device_type() const override { return 2; }
    uint64_t offered_features() const override { return offered; }
    uint16_t queue_count() const override { return queues; }
    uint16_t max_queue_size() const override { return max_size; }
    void read_config(uint64_t offset, std::span<uint8_t> data) override {
        for (size_t i = 0; i < data.size(); ++i)
            data[i] = offset + i < sizeof(config) ? config[offset + i] : 0;
    }
    void write_config(uint64_t offset, std::span<const uint8_t> data) override {
        for (size_t i = 0; i < data.size(); ++i)
            if (offset + i < sizeof(config)) config[offset + i] = data[i];
    }
    bool activate(uint64_t features, std::span<const VirtqueueConfig> configs,
                  VirtioInterrupt&) override {
        if (active) fail("activate() twice without a reset");
        if (features & ~(offered | feature_bit(VIRTIO_F_VERSION_1)))
            fail("activated with features the device did not offer");
        if (!(features & feature_bit(VIRTIO_F_VERSION_1))) fail("activated without VERSION_1");
        if (configs.size() != queues) fail("activated with the wrong number of queues");
        ++activations;
        active = accept;
        return accept;
    }
    void reset() override { active = false; }
    bool quiesced() const override { return true; }
    void notify(uint16_t queue) override {
        if (queue >= queues) fail("notify() for a queue the device does not have");
    }

    uint64_t offered = 0;
    uint16_t queues = 1;
    uint16_t max_size = 256;
    bool accept = true;
    bool active = false;
    unsigned activations = 0;
    uint8_t config[24] = {};
};

class CountingMsiSink final : public MsiSink {
  public:
    void deliver(uint64_t, uint32_t) override { ++messages; }
    unsigned messages = 0;
};

// Stands in for the reset control register at 0xCF9.
class FakeResetControl final : public BusDevice {
  public:
    void read(uint64_t, std::span<uint8_t> data) override {
        for (auto& b : data) b = value;
    }
    void write(uint64_t, std::span<const uint8_t> data) override { value = data[0]; }
    uint8_t value = 0;
};

constexpr uint16_t kPortCfgAddress = 0;
constexpr uint16_t kPortCfgData = 4;

void port_access(PciHost& host, uint64_t offset, std::span<uint8_t> value, bool write) {
    if (write) {
        host.write(offset, value);
    } else {
        host.read(offset, value);
    }
}

}  // namespace
}  // namespace nvmevm

namespace {
bool g_verbose = false;  // NVMEVM_FUZZ_VERBOSE: what each input did (for writing seeds)
}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    if (std::getenv("NVMEVM_FUZZ_LOG") == nullptr) nvmevm::set_log_level(nvmevm::LogLevel::error);
    g_verbose = std::getenv("NVMEVM_FUZZ_VERBOSE") != nullptr;
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace nvmevm;
    fuzz::ByteReader in(std::span<const uint8_t>(data, size));
    auto device = std::make_shared<FakeDevice>();
    device->queues = static_cast<uint16_t>(1 + in.take<uint8_t>() % 8);
    device->max_size = in.take<uint16_t>();
    device->accept = (in.take<uint8_t>() & 1) != 0;
    device->offered = in.take<uint64_t>();
    for (size_t i = 0; i < sizeof(device->config); ++i) device->config[i] = static_cast<uint8_t>(i);

    const auto msi = std::make_shared<CountingMsiSink>();
    const std::shared_ptr<VirtioPciTransport> transport = VirtioPciTransport::create(device, msi);
    unsigned bar_moves = 0;
    transport->set_bar_callback([&bar_moves](const PciBarChange&) { ++bar_moves; });
    const std::shared_ptr<BusDevice> bar = transport->bar_device();
    PciHost host(std::make_shared<FakeResetControl>());
    host.add_device(1, transport);

    while (!in.empty()) {
        const auto op = in.take<uint8_t>();
        const unsigned kind = op & 7;
        const size_t width = size_t{1} << ((op >> 3) & 3);
        const bool write = (op & 0x20) != 0;
        const auto offset = in.take<uint16_t>();
        uint8_t value[8] = {};
        if (write) {
            const std::span<const uint8_t> bytes = in.take_bytes(width);
            std::copy(bytes.begin(), bytes.end(), value);
        }
        const std::span<uint8_t> access(value, width);
        switch (kind) {
            case 0:
                port_access(host, offset % PciHost::kPortCount, access, write);
                break;
            case 1:
            case 2: {
                const uint32_t reg = offset & 0xff;
                const uint32_t slot = (offset >> 8) & 3;
                uint8_t address[4];
                store_le(address, 0x80000000u | slot << 11 | (reg & 0xfc));
                host.write(kPortCfgAddress, address);
                port_access(host, kPortCfgData + reg % 4, access, write);
                break;
            }
            case 6:
                switch (offset % 3) {
                    case 0:
                        transport->signal_queue(
                            static_cast<uint16_t>((offset >> 8) % device->queues));
                        break;
                    case 1:
                        transport->signal_config();
                        break;
                    default:
                        transport->mark_needs_reset();
                        break;
                }
                break;
            default: {
                uint64_t at = kind == 7 ? offset % 0x40u : offset % VirtioPciTransport::bar_size();
                if (at + width > VirtioPciTransport::bar_size())
                    at = VirtioPciTransport::bar_size() - width;
                if (write) {
                    bar->write(at, access);
                } else {
                    bar->read(at, access);
                }
                break;
            }
        }
    }
    if (g_verbose) {
        std::fprintf(stderr, "status %#x, activations %u, MSI messages %u, BAR changes %u\n",
                     transport->device_status(), device->activations, msi->messages, bar_moves);
    }
    return 0;
}
