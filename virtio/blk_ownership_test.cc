// The pieces of a drive that exist without KVM (its backing, the virtio-blk device, its PCI
// transport, and the vCPU thread's BlkVcpuService with the engine the backing made) destroyed
// in every order, each piece used after every step. Run under ASan (the build-asan build), a
// reference that outlives its owner is a heap-use-after-free here. Before the pieces shared
// ownership, dropping the backing first failed in UringBlockEngine::submit (the engine held
// `const BlockBackend&`), and dropping the transport first failed in BlkQueue::finish_batch
// (the queue signalled the destroyed transport).
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <memory>
#include <thread>

#include "storage/file_backing.h"
#include "storage/test_files.h"
#include "virtio/blk_defs.h"
#include "virtio/blk_device.h"
#include "virtio/blk_vcpu_service.h"
#include "virtio/pci_transport.h"
#include "virtio/test_virtqueue.h"
#include "virtio/virtio_defs.h"

namespace nvmevm {
namespace {

using testing::ScratchFile;
using testing::TestVirtqueue;

constexpr uint64_t kDiskBytes = 1 << 20;
constexpr uint8_t kFill = 0x5a;

class SilentSink final : public MsiSink {
  public:
    void deliver(uint64_t, uint32_t) override {}
};

enum Piece { backing_piece, device_piece, transport_piece, service_piece, kPieces };

// One drive as BlockDevices builds it, with each piece held by the test alone.
struct Drive {
    explicit Drive(const ScratchFile& file) {
        backing = FileBacking::open(testing::options(file.path(), false, false));
        BlkDeviceOptions options;
        options.name = "own";
        device = std::make_shared<VirtioBlk>(q.memory(), backing, options);
        transport = VirtioPciTransport::create(device, std::make_shared<SilentSink>());
        service = std::make_unique<BlkVcpuService>(q.memory(), 16);
        service->add_queue(device, 0);
        service->seal();  // as the machine does at setup: the ring takes I/O once enabled
        // What the transport does on DRIVER_OK, without the driver's register writes.
        const SplitQueueConfig& c = q.config();
        const VirtqueueConfig ring{c.size, true, c.desc_table.value, c.avail_ring.value,
                                   c.used_ring.value};
        EXPECT_TRUE(device->activate(uint64_t{1} << VIRTIO_F_VERSION_1, {&ring, 1}, *transport));
        watch_backing = backing;
        watch_device = device;
    }

    void drop(Piece piece) {
        switch (piece) {
            case backing_piece:
                backing.reset();
                break;
            case device_piece:
                device.reset();
                break;
            case transport_piece:
                transport.reset();
                break;
            case service_piece:
                service.reset();
                break;
            case kPieces:
                break;
        }
    }

    // Uses every piece the test still holds.
    void exercise() {
        if (backing) {
            EXPECT_EQ(backing->capacity(), kDiskBytes);
        }
        if (device) {
            uint64_t capacity = 0;
            device->read_config(0, {reinterpret_cast<uint8_t*>(&capacity), sizeof capacity});
            EXPECT_EQ(capacity, kDiskBytes / 512);
        }
        if (transport) {
            uint8_t vendor[2] = {};
            transport->config_read(0, vendor);
            EXPECT_EQ(vendor[0] | vendor[1] << 8, 0x1af4);
        }
        if (service) read_through_service();
    }

    // One 4 KiB read made available and served. Answered while the transport lives; once it is
    // gone the device is reset, and the service finds nothing to do.
    void read_through_service() {
        const uint64_t header = q.alloc(sizeof(VirtioBlkReqHeader));
        q.write_obj(header, VirtioBlkReqHeader{VIRTIO_BLK_T_IN, 0, 0});
        const uint64_t data = q.alloc(4096, 4096);
        const uint64_t status = q.alloc(1);
        q.ram()[status] = 0xee;
        q.add_chain({{header, 16, false}, {data, 4096, true}, {status, 1, true}});
        const uint16_t before = q.used_idx();
        for (int pass = 0; pass < 2000 && q.used_idx() == before; ++pass) {
            service->service();
            if (!transport) break;
            if (q.used_idx() == before) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        if (!transport) {
            EXPECT_EQ(q.used_idx(), before);
            return;
        }
        ASSERT_EQ(q.used_idx(), static_cast<uint16_t>(before + 1));
        EXPECT_EQ(q.byte(status), VIRTIO_BLK_S_OK);
        EXPECT_EQ(q.byte(data), kFill);
        EXPECT_EQ(q.byte(data + 4095), kFill);
    }

    TestVirtqueue q{16, false, true, 4 << 20};
    std::shared_ptr<const Backing> backing;
    std::shared_ptr<VirtioBlk> device;
    std::shared_ptr<VirtioPciTransport> transport;
    std::unique_ptr<BlkVcpuService> service;
    std::weak_ptr<const Backing> watch_backing;
    std::weak_ptr<VirtioBlk> watch_device;
};

TEST(DriveOwnership, EveryDestructionOrderIsSafe) {
    const ScratchFile file("/tmp", kDiskBytes, kFill);
    std::array<Piece, kPieces> order{backing_piece, device_piece, transport_piece, service_piece};
    int orders = 0;
    do {
        SCOPED_TRACE(::testing::Message()
                     << "order " << order[0] << order[1] << order[2] << order[3]);
        Drive drive(file);
        drive.exercise();
        for (const Piece piece : order) {
            drive.drop(piece);
            drive.exercise();
        }
        // Shared, not leaked: the last owner let go of everything.
        EXPECT_TRUE(drive.watch_device.expired());
        EXPECT_TRUE(drive.watch_backing.expired());
        ++orders;
    } while (std::next_permutation(order.begin(), order.end()));
    EXPECT_EQ(orders, 24);
}

}  // namespace
}  // namespace nvmevm
