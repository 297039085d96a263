#include "virtio/blk_device.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <initializer_list>
#include <string>

#include "foundation/guest_memory.h"
#include "storage/null_backing.h"

namespace nvmevm {
namespace {

// Feature bit numbers as the virtio 1.2 specification gives them, written out here rather than
// taken from virtio_defs.h or blk_defs.h, so that a wrong constant there cannot agree with
// itself. 5.2.3 "Feature bits" (block device):
constexpr unsigned kSizeMax = 1;
constexpr unsigned kSegMax = 2;
constexpr unsigned kGeometry = 4;
constexpr unsigned kRo = 5;
constexpr unsigned kBlkSize = 6;
constexpr unsigned kFlush = 9;
constexpr unsigned kTopology = 10;
constexpr unsigned kConfigWce = 11;
constexpr unsigned kMq = 12;
constexpr unsigned kDiscard = 13;
constexpr unsigned kWriteZeroes = 14;
constexpr unsigned kLifetime = 15;
constexpr unsigned kSecureErase = 16;
// 6 "Reserved Feature Bits" (the transport and ring features):
constexpr unsigned kIndirectDesc = 28;
constexpr unsigned kEventIdx = 29;
constexpr unsigned kVersion1 = 32;
constexpr unsigned kAccessPlatform = 33;
constexpr unsigned kRingPacked = 34;
constexpr unsigned kInOrder = 35;
constexpr unsigned kNotificationData = 38;
constexpr unsigned kRingReset = 40;
// 5.2.4: num_queues is the 16-bit field at byte 34 of the configuration space.
constexpr uint64_t kNumQueuesOffset = 34;

constexpr uint64_t bits(std::initializer_list<unsigned> numbers) {
    uint64_t mask = 0;
    for (const unsigned n : numbers) mask |= uint64_t{1} << n;
    return mask;
}

// What every drive is offered: virtio 1.x, both ring features, the limits the device fills in
// (SEG_MAX, BLK_SIZE, TOPOLOGY) and MQ (num_queues says how many; one is a valid answer).
constexpr uint64_t kAlways =
    bits({kVersion1, kIndirectDesc, kEventIdx, kSegMax, kBlkSize, kTopology, kMq});
// What no drive is offered: what nvmevm does not implement (docs/virtio-blk.md, "Features
// offered", lists the rest).
constexpr uint64_t kNever =
    bits({kSizeMax, kGeometry, kConfigWce, kLifetime, kSecureErase, kAccessPlatform, kRingPacked,
          kInOrder, kNotificationData, kRingReset});

// The set bits of `mask`, as "2 6 9 ...", so that a failure names the bits that differ.
std::string bit_list(uint64_t mask) {
    std::string out;
    for (unsigned n = 0; n < 64; ++n) {
        if ((mask >> n) & 1) out += (out.empty() ? "" : " ") + std::to_string(n);
    }
    return out;
}

class BlkDeviceFeatures : public ::testing::Test {
  protected:
    // A backing that says what it can do and does no I/O, so that the features follow from
    // `traits` alone, whatever filesystem the test runs on.
    static std::shared_ptr<const Backing> backing(const BackingTraits& traits) {
        return NullBacking::shaped_like(traits);
    }
    static BackingTraits capable() {
        BackingTraits traits;
        traits.path = "test";
        traits.capacity = 64 << 20;
        traits.discard = true;
        traits.write_zeroes = true;
        traits.needs_flush = true;
        traits.serial = "test";
        return traits;
    }
    uint64_t offered(const std::shared_ptr<const Backing>& backend, uint16_t queues = 1) {
        const VirtioBlk device(memory, backend, BlkDeviceOptions{"d", queues, 256, 0, {}});
        return device.offered_features();
    }
    GuestMemory memory{1 << 20};
};

TEST_F(BlkDeviceFeatures, AWritableDriveWithACacheIsOfferedEverythingItCanDo) {
    const auto backend = backing(capable());
    const uint64_t expected = kAlways | bits({kFlush, kDiscard, kWriteZeroes});
    EXPECT_EQ(bit_list(offered(backend)), bit_list(expected));
    EXPECT_EQ(offered(backend) & kNever, 0u);
}

TEST_F(BlkDeviceFeatures, AReadOnlyDriveIsOfferedRoAndNothingThatWrites) {
    BackingTraits traits = capable();
    traits.read_only = true;
    const auto backend = backing(traits);
    // DISCARD and WRITE_ZEROES change data: not on a read-only drive, whatever the backing has.
    const uint64_t expected = kAlways | bits({kRo, kFlush});
    EXPECT_EQ(bit_list(offered(backend)), bit_list(expected));
}

TEST_F(BlkDeviceFeatures, NoFlushWithoutAVolatileCache) {
    BackingTraits traits = capable();
    traits.needs_flush = false;
    const uint64_t expected = kAlways | bits({kDiscard, kWriteZeroes});
    EXPECT_EQ(bit_list(offered(backing(traits))), bit_list(expected));
}

TEST_F(BlkDeviceFeatures, DiscardAndWriteZeroesOnlyWhereTheBackingHasThem) {
    BackingTraits traits = capable();
    traits.discard = false;
    traits.write_zeroes = false;
    EXPECT_EQ(bit_list(offered(backing(traits))), bit_list(kAlways | bits({kFlush})));
}

TEST_F(BlkDeviceFeatures, TheNullBackingIsAWritableDriveWithEverything) {
    const std::shared_ptr<const Backing> backend = NullBacking::make(64 << 20);
    const uint64_t expected = kAlways | bits({kFlush, kDiscard, kWriteZeroes});
    EXPECT_EQ(bit_list(offered(backend)), bit_list(expected));
}

TEST_F(BlkDeviceFeatures, MqWithTheConfiguredNumberOfQueues) {
    const auto backend = backing(capable());
    for (const uint16_t queues : {uint16_t{1}, uint16_t{2}, uint16_t{4}}) {
        VirtioBlk device(memory, backend, BlkDeviceOptions{"d", queues, 256, 0, {}});
        EXPECT_NE(device.offered_features() & bits({kMq}), 0u) << queues;
        EXPECT_EQ(device.queue_count(), queues);
        uint8_t num_queues[2] = {};
        device.read_config(kNumQueuesOffset, num_queues);
        EXPECT_EQ(num_queues[0] | num_queues[1] << 8, queues);  // little-endian
    }
}

}  // namespace
}  // namespace nvmevm
