// A drive's queue served by a real engine through the PCI transport, as the machine wires it
// (without KVM): the driver's side is a TestVirtqueue and register writes into BAR 0.
//  - A reset while requests are in flight: device_status reads 0 only once they are done, and
//    the ranges a DISCARD has left are not issued after the reset.
//  - A zero-sector DISCARD / WRITE_ZEROES range completes OK on every engine (decided by the
//    device: it never reaches an engine).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "devices/io_bus.h"
#include "storage/file_backing.h"
#include "storage/null_backing.h"
#include "storage/test_files.h"
#include "virtio/blk_defs.h"
#include "virtio/blk_device.h"
#include "virtio/blk_vcpu_service.h"
#include "virtio/pci_layout.h"
#include "virtio/pci_transport.h"
#include "virtio/test_virtqueue.h"
#include "virtio/virtio_defs.h"

namespace nvmevm {
namespace {

using namespace virtio_pci;
using testing::ScratchFile;
using testing::TestVirtqueue;

constexpr uint8_t kUnwritten = 0xee;

class SilentSink final : public MsiSink {
  public:
    void deliver(uint64_t, uint32_t) override {}
};

struct Drive {
    explicit Drive(std::shared_ptr<const Backing> backing_in) : backing(std::move(backing_in)) {
        BlkDeviceOptions options;
        options.name = "engine-test";
        device = std::make_shared<VirtioBlk>(q.memory(), backing, options);
        transport = VirtioPciTransport::create(device, std::make_shared<SilentSink>());
        bar = transport->bar_device();
        service = std::make_unique<BlkVcpuService>(q.memory(), 16);
        service->add_queue(device, 0);
        service->seal();  // as the machine does at setup: the ring takes I/O once enabled
        bring_up();
    }

    void common_write(uint64_t offset, size_t width, uint64_t value) {
        uint8_t data[8] = {};
        store_le(std::span<uint8_t>(data, width), value);
        bar->write(offset, std::span<const uint8_t>(data, width));
    }
    uint64_t common_read(uint64_t offset, size_t width) {
        uint8_t data[8] = {};
        bar->read(offset, std::span<uint8_t>(data, width));
        return load_le(std::span<const uint8_t>(data, width));
    }
    uint8_t status() { return static_cast<uint8_t>(common_read(kDeviceStatus, 1)); }
    void set_status(uint8_t value) { common_write(kDeviceStatus, 1, value); }

    // What Linux's virtio_pci_modern does up to DRIVER_OK, accepting every offered feature.
    void bring_up() {
        set_status(0);
        set_status(kStatusAcknowledge);
        set_status(kStatusAcknowledge | kStatusDriver);
        for (uint32_t half = 0; half < 2; ++half) {
            common_write(kDeviceFeatureSelect, 4, half);
            const uint64_t offered = common_read(kDeviceFeature, 4);
            common_write(kDriverFeatureSelect, 4, half);
            common_write(kDriverFeature, 4, offered);
        }
        set_status(kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk);
        common_write(kQueueSelect, 2, 0);
        common_write(kQueueSize, 2, q.size());
        common_write(kQueueDesc, 8, q.config().desc_table.value);
        common_write(kQueueDriver, 8, q.config().avail_ring.value);
        common_write(kQueueDevice, 8, q.config().used_ring.value);
        common_write(kQueueEnable, 2, 1);
        set_status(kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk | kStatusDriverOk);
        ASSERT_EQ(status(),
                  kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk | kStatusDriverOk);
    }

    // A DISCARD or WRITE_ZEROES of `ranges`, made available; the address of its status byte.
    uint64_t add_ranges(uint32_t type, const std::vector<VirtioBlkDiscardWriteZeroes>& ranges) {
        const uint64_t header = q.alloc(sizeof(VirtioBlkReqHeader));
        q.write_obj(header, VirtioBlkReqHeader{type, 0, 0});
        const auto bytes = static_cast<uint32_t>(ranges.size() * sizeof(ranges[0]));
        const uint64_t list = q.alloc(bytes);
        q.write(list, ranges.data(), bytes);
        const uint64_t status_byte = q.alloc(1);
        q.ram()[status_byte] = kUnwritten;
        q.add_chain({{header, 16, false}, {list, bytes, false}, {status_byte, 1, true}});
        return status_byte;
    }

    // Serves the queue until `count` used entries are there (or a second passes).
    void serve_until_used(uint16_t count) {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
        while (q.used_idx() != count && std::chrono::steady_clock::now() < deadline) {
            service->service();
            if (q.used_idx() != count) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
    }

    TestVirtqueue q{16, false, true, 4 << 20};
    std::shared_ptr<const Backing> backing;
    std::shared_ptr<VirtioBlk> device;
    std::shared_ptr<VirtioPciTransport> transport;
    std::shared_ptr<BusDevice> bar;
    std::unique_ptr<BlkVcpuService> service;
};

// Virtio 1.2, 4.1.4.3.1: "The device MUST reset when 0 is written to device_status, and present
// a 0 in device_status once that is done." With a request in flight the reset is not done: the
// engine may still write guest memory, and the driver reuses that memory once it reads 0.
TEST(BlkQueueEngine, ResetWithARequestInFlightReadsZeroOnlyOnceItIsDone) {
    Drive drive(NullBacking::make(1 << 20));
    const uint64_t status_byte =
        drive.add_ranges(VIRTIO_BLK_T_DISCARD, {{0, 8, 0}, {64, 8, 0}, {128, 8, 0}});
    // The owner thread takes the request; its first range is the null engine's, whose
    // completion waits in the ring until the thread reaps it.
    EXPECT_EQ(drive.device->queue(0).drain(), 1u);
    ASSERT_TRUE(drive.device->queue(0).busy());

    drive.set_status(0);
    EXPECT_NE(drive.status(), 0u);
    EXPECT_FALSE(drive.device->quiesced());

    // The owner reaps: the range completes into nothing and the two left are never issued.
    drive.service->service();
    EXPECT_FALSE(drive.device->queue(0).busy());
    EXPECT_TRUE(drive.device->quiesced());
    EXPECT_EQ(drive.status(), 0u);
    EXPECT_EQ(drive.q.byte(status_byte), kUnwritten);
    EXPECT_EQ(drive.q.used_idx(), 0);
}

// A range of 0 sectors is a valid range with nothing in it: the device answers it OK itself.
// The io_uring engine used to pass it on, and fallocate refuses a length of 0 (EINVAL, IOERR)
// where the null and NVMe engines said OK.
TEST(BlkQueueEngine, ZeroSectorRangesCompleteOkOnTheUringEngine) {
    const ScratchFile file("/tmp", 1 << 20, 0x5a);
    Drive drive(FileBacking::open(testing::options(file.path(), false, false)));
    if (!drive.backing->supports_discard() || !drive.backing->supports_write_zeroes())
        GTEST_SKIP() << "no fallocate on /tmp";
    const uint64_t discard_only_empty = drive.add_ranges(VIRTIO_BLK_T_DISCARD, {{16, 0, 0}});
    const uint64_t zeroes_only_empty = drive.add_ranges(VIRTIO_BLK_T_WRITE_ZEROES, {{16, 0, 0}});
    // A real range around an empty one: the real one is still done.
    const uint64_t mixed =
        drive.add_ranges(VIRTIO_BLK_T_WRITE_ZEROES, {{32, 0, 0}, {0, 8, 0}, {64, 0, 0}});
    drive.serve_until_used(3);
    ASSERT_EQ(drive.q.used_idx(), 3);
    EXPECT_EQ(drive.q.byte(discard_only_empty), VIRTIO_BLK_S_OK);
    EXPECT_EQ(drive.q.byte(zeroes_only_empty), VIRTIO_BLK_S_OK);
    EXPECT_EQ(drive.q.byte(mixed), VIRTIO_BLK_S_OK);
    // The 8 sectors were zeroed, the next byte was not.
    uint8_t bytes[4097];
    const int fd = ::open(file.path().c_str(), O_RDONLY);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::pread(fd, bytes, sizeof bytes, 0), static_cast<ssize_t>(sizeof bytes));
    ::close(fd);
    EXPECT_EQ(bytes[0], 0);
    EXPECT_EQ(bytes[4095], 0);
    EXPECT_EQ(bytes[4096], 0x5a);
}

}  // namespace
}  // namespace nvmevm
